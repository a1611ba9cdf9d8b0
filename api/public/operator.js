// @ts-check
/* global document */
/**
 * The operator's side: the scenario dropdown, and placing an order by hand. Only an operator (or
 * an admin) sees them; a viewer's page has no action on it.
 */
import { api } from './http.js';
import { byId, byIdAs, shortId } from './dom.js';
import { detailHref } from './orders.js';
import { atLeast } from './session.js';

/**
 * @typedef {import('./types.js').Order} Order
 * @typedef {import('./types.js').LoadStatus} LoadStatus
 * @typedef {import('./session.js').User} User
 */

const SCENARIO_HELP = {
  'broken-order':
    'Places an order dated in the year 3000. The finance package refuses it for good: it fails, shows in red, and the orders behind it keep flowing.',
  'queue-reliability':
    'Makes the finance package fail at random. Payments are retried with backoff: attempt counts go up, but no order fails for a passing error.',
  'monitoring-load':
    'Places orders at a steady rate for a while. Faster than the worker pays (PAYMENT_RATE_PER_SECOND), the queue grows on the chart.',
  'system-monitoring':
    'Starts at twice the rate and keeps adding to it: watch the backlog, its oldest task and the database size to see what runs short.',
  reset: 'Finance package back to normal, load generator stopped.',
};

/** @param {HTMLElement} element @param {string} text @param {boolean} [failed] */
function say(element, text, failed = false) {
  element.className = failed ? 'message error' : 'message';
  element.textContent = text;
}

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

export class Operator {
  /** @param {() => void} changed called after anything that changes what the page shows */
  constructor(changed) {
    this.changed = changed;
    this.canOperate = false;
    this.demo = false;
    this.scenarioForm = byIdAs('scenario-form', HTMLFormElement);
    this.scenario = byIdAs('scenario', HTMLSelectElement);
    this.stopLoad = byIdAs('stop-load', HTMLButtonElement);
    this.placeForm = byIdAs('place-form', HTMLFormElement);
    this.scenario.addEventListener('change', () => this.showScenarioHelp());
    this.scenarioForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.runScenario();
    });
    this.stopLoad.addEventListener('click', () => void this.stop());
    this.placeForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.place();
    });
    this.showScenarioHelp();
  }

  /** @param {User | null} user */
  apply(user) {
    this.canOperate = atLeast(user, 'operator');
    byId('place-panel').hidden = !this.canOperate;
    this.showPanels();
  }

  /** The scenarios are demo tools (DEMO_SCENARIOS): without them their panel would only fail. */
  showPanels(demo = this.demo) {
    this.demo = demo;
    byId('scenarios-panel').hidden = !demo || !this.canOperate;
  }

  showScenarioHelp() {
    const name = /** @type {keyof typeof SCENARIO_HELP} */ (this.scenario.value);
    byId('scenario-help').textContent = SCENARIO_HELP[name] ?? '';
    const load = name === 'monitoring-load' || name === 'system-monitoring';
    for (const field of document.querySelectorAll('.load-field')) {
      if (field instanceof HTMLElement) field.hidden = !load;
    }
  }

  /** The load fields, when filled in; empty means the API's configured default. */
  loadRequest() {
    const rate = byIdAs('load-rate', HTMLInputElement).valueAsNumber;
    const minutes = byIdAs('load-minutes', HTMLInputElement).valueAsNumber;
    return {
      ...(Number.isFinite(rate) ? { ratePerSecond: rate } : {}),
      ...(Number.isFinite(minutes) ? { durationSeconds: Math.round(minutes * 60) } : {}),
    };
  }

  async runScenario() {
    const name = this.scenario.value;
    const message = byId('scenario-message');
    const load = name === 'monitoring-load' || name === 'system-monitoring';
    try {
      /** @type {{ message: string, order?: Order }} */
      const answer = await api(`/api/scenarios/${name}`, {
        method: 'POST',
        ...(load ? { body: this.loadRequest() } : {}),
      });
      say(
        message,
        answer.order ? `${answer.message} (order ${shortId(answer.order.id)})` : answer.message,
      );
    } catch (error) {
      say(message, messageOf(error), true);
    }
    this.changed();
  }

  async stop() {
    const message = byId('scenario-message');
    try {
      /** @type {LoadStatus} */
      const status = await api('/api/load', { method: 'DELETE' });
      say(message, `Load stopped after ${status.placed} orders`);
    } catch (error) {
      say(message, messageOf(error), true);
    }
    this.changed();
  }

  /** The form's fields as the API wants them; a local date-time becomes an ISO instant. */
  orderRequest() {
    const data = new FormData(this.placeForm);
    const text = (/** @type {string} */ name) => {
      const value = data.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const date = text('datePlaced');
    return {
      customerId: text('customerId'),
      product: text('product'),
      quantity: Number(text('quantity')),
      unitPrice: text('unitPrice'),
      currency: text('currency'),
      ...(date ? { datePlaced: new Date(date).toISOString() } : {}),
    };
  }

  async place() {
    const message = byId('place-message');
    try {
      /** @type {Order} */
      const order = await api('/api/orders', { method: 'POST', body: this.orderRequest() });
      message.className = 'message';
      const link = document.createElement('a');
      link.href = detailHref(order.id);
      link.textContent = `Order ${shortId(order.id)}`;
      message.replaceChildren(link, ` placed: ${order.status}`);
    } catch (error) {
      say(message, messageOf(error), true);
    }
    this.changed();
  }

  /**
   * Shows whether a load is running, and lets the operator stop it; null: no demo tools.
   * @param {LoadStatus | null} load
   */
  showLoad(load) {
    this.stopLoad.disabled = !this.canOperate || !load?.running;
  }
}
