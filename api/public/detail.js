// @ts-check
/* global document, location, history */
/** One order: its fields, status timeline, payment attempts, and the operator's cancel and retry. */
import { api, ApiError } from './http.js';
import { byId, byIdAs, formatDateTime, formatTime, h, statusLabel } from './dom.js';
import { detailHref, retryNote } from './orders.js';

/**
 * @typedef {import('./types.js').OrderDetail} OrderDetail
 * @typedef {import('./types.js').WorkflowFacts} WorkflowFacts
 * @typedef {import('./types.js').ActionAccepted} ActionAccepted
 */

/** Statuses a cancel applies to; the API decides in the end (409 otherwise). */
const CANCELLABLE = ['queued', 'processing', 'failed'];

/**
 * @param {string} label
 * @param {string | number | Node | null} value
 */
const entry = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? '—')];

/** @param {OrderDetail} order */
function fields(order) {
  return h(
    'dl',
    {},
    ...entry('Id', h('span', { class: 'mono' }, order.id)),
    ...entry(
      'Status',
      h('span', { class: `badge badge-${order.status}` }, statusLabel(order.status)),
    ),
    ...entry('Customer', order.customerId),
    ...entry('Item', `${order.quantity} × ${order.product} at ${order.unitPrice ?? '?'}`),
    ...entry('Amount', `${order.amount} ${order.currency}`),
    ...entry('Placed', formatDateTime(order.datePlaced)),
    ...entry('Payment ref.', order.paymentReference),
    ...(order.refundReference ? entry('Refund ref.', order.refundReference) : []),
    ...(order.cancelReason
      ? entry('Cancel reason', h('span', { class: 'reason' }, order.cancelReason))
      : []),
  );
}

/**
 * What SQL recorded and what the workflow itself says, merged by time.
 * @param {OrderDetail} order
 */
function timeline(order) {
  const facts = 'error' in order.temporal ? null : order.temporal;
  /** @type {{ at: string, text: string }[]} */
  const events = [
    { at: order.createdAt, text: 'Accepted (SQL)' },
    ...(order.workflowStartedAt
      ? [{ at: order.workflowStartedAt, text: 'Workflow started (SQL)' }]
      : []),
    ...(facts?.history ?? []).map((step) => ({
      at: step.at,
      text: `${statusLabel(step.status)} (workflow)`,
    })),
    ...(order.processedAt ? [{ at: order.processedAt, text: 'Processed (SQL)' }] : []),
    ...(facts?.closeTime
      ? [{ at: facts.closeTime, text: `Workflow closed: ${facts.executionStatus}` }]
      : []),
  ];
  if (!facts?.history) {
    events.push({ at: order.updatedAt, text: `${statusLabel(order.status)} (SQL, last change)` });
  }
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return h(
    'ol',
    { class: 'timeline' },
    events.map((event) =>
      h('li', {}, h('time', { datetime: event.at }, formatTime(event.at)), ` ${event.text}`),
    ),
  );
}

/** @param {OrderDetail} order */
function payment(order) {
  const facts = 'error' in order.temporal ? null : order.temporal;
  const lastError = facts?.lastFailure ?? order.failureReason;
  return h(
    'dl',
    {},
    ...entry('Attempts made', order.attempts),
    ...entry(
      'Current attempt',
      facts?.payment ? `${facts.payment.attempt} (${facts.payment.state.toLowerCase()})` : null,
    ),
    ...entry(
      'Next retry',
      facts?.payment?.nextRetryAt ? formatTime(facts.payment.nextRetryAt) : null,
    ),
    ...entry('Last error', lastError ? h('span', { class: 'reason' }, lastError) : null),
  );
}

/** @param {OrderDetail} order */
function workflow(order) {
  const link = h(
    'a',
    { href: order.temporalUiUrl, target: '_blank', rel: 'noopener' },
    'Open in the Temporal UI',
  );
  if ('error' in order.temporal) {
    return h(
      'dl',
      {},
      ...entry('Temporal', order.temporal.error.message),
      ...entry('History', link),
    );
  }
  const facts = order.temporal;
  return h(
    'dl',
    {},
    ...entry('Workflow', h('span', { class: 'mono' }, facts.workflowId)),
    ...entry('Execution', facts.executionStatus),
    ...entry("Workflow's status", facts.workflowStatus ? statusLabel(facts.workflowStatus) : null),
    ...entry('Events', facts.historyLength),
    ...entry('History', link),
  );
}

/**
 * Whether cancel and retry apply now, and if not, why: the same rules the API enforces.
 * @param {OrderDetail} order
 * @param {boolean} operator
 */
export function applicable(order, operator) {
  const facts = 'error' in order.temporal ? null : order.temporal;
  const status = facts?.workflowStatus ?? order.status;
  const open = facts?.executionStatus === 'RUNNING';
  // A failed order whose workflow closed can still be acted on: the API starts a new run.
  const actionable = open ? !facts?.pendingAction : status === 'failed';
  const cancel = operator && !!facts && actionable && CANCELLABLE.includes(status);
  const retry = operator && !!facts && actionable && status === 'failed';
  const why = !operator
    ? ''
    : !facts
      ? 'Temporal cannot be asked right now.'
      : open && facts.pendingAction
        ? `A ${facts.pendingAction} is under way.`
        : !open && status !== 'failed'
          ? `The workflow is closed (${facts.executionStatus}): nothing to cancel or retry.`
          : status === 'failed'
            ? ''
            : 'Retry applies to failed orders only.';
  return { cancel, retry, why };
}

export class DetailPanel {
  /** @param {() => boolean} isOperator @param {() => void} afterAction */
  constructor(isOperator, afterAction) {
    this.isOperator = isOperator;
    this.afterAction = afterAction;
    /** @type {string | null} */
    this.orderId = null;
    this.section = byId('detail');
    this.cancelButton = byIdAs('cancel-order', HTMLButtonElement);
    this.retryButton = byIdAs('retry-order', HTMLButtonElement);
    this.reason = byIdAs('cancel-reason', HTMLInputElement);
    this.cancelButton.addEventListener('click', () => void this.act('cancel'));
    this.retryButton.addEventListener('click', () => void this.act('retry'));
    byId('close-detail').addEventListener('click', () => this.close());
  }

  /** @param {string} id */
  async open(id) {
    const changed = this.orderId !== id;
    this.orderId = id;
    this.section.hidden = false;
    document.body.classList.add('detail-open');
    if (changed) byId('action-message').textContent = '';
    await this.refresh();
    if (changed) byId('detail-heading').focus();
  }

  close() {
    const id = this.orderId;
    this.orderId = null;
    this.section.hidden = true;
    document.body.classList.remove('detail-open');
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    // Back to where the operator came from: the order's row, if it is still on the page.
    const link = id ? document.querySelector(`a[href="${CSS.escape(detailHref(id))}"]`) : null;
    if (link instanceof HTMLElement) link.focus();
    else byId('orders-heading').focus();
  }

  async refresh() {
    const id = this.orderId;
    if (!id) return;
    try {
      /** @type {OrderDetail} */
      const order = await api(`/api/orders/${encodeURIComponent(id)}`);
      if (id === this.orderId) this.render(order);
    } catch (error) {
      if (!(error instanceof ApiError) || error.unreachable) throw error;
      byId('detail-body').replaceChildren(h('p', { class: 'message error' }, error.message));
      this.setActions({ cancel: false, retry: false, why: '' });
    }
  }

  /** @param {OrderDetail} order */
  render(order) {
    byId('detail-heading').textContent = `Order ${order.id.slice(0, 8)}`;
    const note = retryNote(order.temporal);
    byId('detail-body').replaceChildren(
      fields(order),
      note ? h('p', { class: 'retrying' }, note) : '',
      h('h3', {}, 'Timeline'),
      timeline(order),
      h('h3', {}, 'Payment'),
      payment(order),
      h('h3', {}, 'Workflow'),
      workflow(order),
    );
    this.section.dataset.status = order.status;
    this.setActions(applicable(order, this.isOperator()));
  }

  /** @param {{ cancel: boolean, retry: boolean, why: string }} rules */
  setActions({ cancel, retry, why }) {
    // A viewer reads; the buttons are not theirs to see.
    byId('detail-actions').hidden = !this.isOperator();
    this.cancelButton.disabled = !cancel;
    this.reason.disabled = !cancel;
    this.retryButton.disabled = !retry;
    byId('action-hint').textContent = why;
  }

  /** @param {'cancel' | 'retry'} action */
  async act(action) {
    const id = this.orderId;
    if (!id) return;
    const message = byId('action-message');
    const reason = this.reason.value.trim();
    try {
      /** @type {ActionAccepted} */
      const accepted = await api(`/api/orders/${encodeURIComponent(id)}/${action}`, {
        method: 'POST',
        ...(action === 'cancel' && reason ? { body: { reason } } : {}),
      });
      message.className = 'message';
      message.textContent = accepted.message;
      this.reason.value = '';
    } catch (error) {
      message.className = 'message error';
      message.textContent = error instanceof Error ? error.message : String(error);
    }
    this.afterAction();
  }
}
