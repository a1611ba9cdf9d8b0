// @ts-check
/**
 * The bulk-action panel: preview how many orders the list's filters (or the ticked rows) match,
 * confirm, then watch the batch's progress bar, pause, resume or cancel it, and open the outcome
 * of each order.
 */
import { api } from './http.js';
import { byId, byIdAs, h, shortId } from './dom.js';
import { detailHref } from './orders.js';

/**
 * @typedef {import('./types.js').BulkAction} BulkAction
 * @typedef {import('./types.js').BulkPreview} BulkPreview
 * @typedef {import('./types.js').BulkItems} BulkItems
 * @typedef {import('./orders.js').OrderList} OrderList
 */

/** Outcomes shown at once; the API pages the rest. */
const ITEMS_SHOWN = 200;

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

export class BulkPanel {
  /** @param {OrderList} orders @param {() => boolean} signedIn */
  constructor(orders, signedIn) {
    this.orders = orders;
    this.signedIn = signedIn;
    /** @type {string | null} */
    this.batchId = null;
    this.form = byIdAs('bulk-form', HTMLFormElement);
    this.action = byIdAs('bulk-action', HTMLSelectElement);
    this.reason = byIdAs('bulk-reason', HTMLInputElement);
    this.rate = byIdAs('bulk-rate', HTMLInputElement);
    this.confirm = byIdAs('bulk-confirm', HTMLButtonElement);
    this.message = byId('bulk-message');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send(false);
    });
    this.confirm.addEventListener('click', () => void this.send(true));
    // Any change to what would be sent makes the preview stale.
    this.form.addEventListener('input', () => (this.confirm.hidden = true));
    orders.onSelect = () => (this.confirm.hidden = true);
    for (const control of /** @type {const} */ (['pause', 'resume', 'cancel'])) {
      byId(`bulk-${control}`).addEventListener('click', () => void this.control(control));
    }
    byId('bulk-outcomes').addEventListener('click', () => void this.showItems());
  }

  /** The batch's filter: the ticked rows when there are any, else the list's filters. */
  filter() {
    if (this.orders.selected.size > 0) return { orderIds: [...this.orders.selected] };
    /** @type {Record<string, unknown>} */
    const filter = {};
    for (const [name, value] of this.orders.filterQuery()) {
      filter[name] = name === 'status' || name === 'failureKind' ? value.split(',') : value;
    }
    return filter;
  }

  /** @param {string} text @param {boolean} [failed] */
  say(text, failed = false) {
    this.message.className = failed ? 'message error' : 'message';
    this.message.textContent = text;
  }

  /** @param {boolean} confirm */
  async send(confirm) {
    if (!this.signedIn()) {
      this.say('Sign in as operator to run a bulk action.', true);
      return;
    }
    const action = this.action.value;
    const body = {
      action,
      filter: this.filter(),
      ...(action === 'cancel' && this.reason.value.trim()
        ? { reason: this.reason.value.trim() }
        : {}),
      ...(this.rate.value ? { ratePerSecond: Number(this.rate.value) } : {}),
      ...(confirm ? { confirm: true } : {}),
    };
    try {
      if (!confirm) {
        /** @type {BulkPreview} */
        const preview = await api('/api/bulk-actions', { method: 'POST', body });
        const sample = preview.sample.map((order) => shortId(order.id)).join(', ');
        this.say(
          `${preview.matched} orders match${preview.matched ? ` (newest: ${sample})` : ''}. Confirm to ${action} them.`,
        );
        this.confirm.hidden = preview.matched === 0;
        this.confirm.textContent = `Confirm: ${action} ${preview.matched} orders`;
        return;
      }
      /** @type {BulkAction} */
      const batch = await api('/api/bulk-actions', { method: 'POST', body });
      this.confirm.hidden = true;
      this.batchId = batch.id;
      this.orders.selected.clear();
      this.say(`Bulk ${action} started over ${batch.matched} orders.`);
      this.show(batch);
    } catch (error) {
      this.say(messageOf(error), true);
    }
  }

  /** @param {'pause' | 'resume' | 'cancel'} control */
  async control(control) {
    if (!this.batchId) return;
    try {
      /** @type {BulkAction} */
      const batch = await api(`/api/bulk-actions/${this.batchId}/${control}`, { method: 'POST' });
      this.show(batch);
    } catch (error) {
      this.say(messageOf(error), true);
    }
  }

  /** Polled with the rest of the page while a batch is shown. */
  async refresh() {
    if (!this.batchId) return;
    /** @type {BulkAction} */
    const batch = await api(`/api/bulk-actions/${this.batchId}`);
    this.show(batch);
  }

  /** @param {BulkAction} batch */
  show(batch) {
    byId('bulk-progress').hidden = false;
    const bar = byIdAs('bulk-bar', HTMLProgressElement);
    bar.max = Math.max(batch.matched, 1);
    bar.value = batch.done;
    const { applied, refused, failed } = batch.counts;
    const eta = batch.etaSeconds === null ? '' : ` · about ${batch.etaSeconds} s left`;
    byId('bulk-summary').textContent =
      `${batch.state}: ${batch.done} of ${batch.matched} done · ${applied} applied · ` +
      `${refused} refused · ${failed} failed · ${batch.ratePerSecond}/s${eta}`;
    const live = batch.state === 'running' || batch.state === 'paused';
    byIdAs('bulk-pause', HTMLButtonElement).hidden = batch.state !== 'running';
    byIdAs('bulk-resume', HTMLButtonElement).hidden = batch.state !== 'paused';
    byIdAs('bulk-cancel', HTMLButtonElement).hidden = !live;
  }

  async showItems() {
    if (!this.batchId) return;
    try {
      /** @type {BulkItems} */
      const page = await api(`/api/bulk-actions/${this.batchId}/items?limit=${ITEMS_SHOWN}`);
      byId('bulk-items-table').hidden = false;
      byId('bulk-items').replaceChildren(
        ...page.items.map((item) =>
          h(
            'tr',
            { 'data-outcome': item.outcome ?? 'pending' },
            h('td', { 'data-label': '#' }, item.seq),
            h(
              'td',
              { 'data-label': 'Order' },
              h('a', { href: detailHref(item.orderId), class: 'mono' }, shortId(item.orderId)),
            ),
            h('td', { 'data-label': 'Outcome' }, item.outcome ?? 'pending'),
            h('td', { 'data-label': 'Detail' }, item.detail ?? ''),
          ),
        ),
      );
    } catch (error) {
      this.say(messageOf(error), true);
    }
  }
}
