// @ts-check
/* global document, Option */
/** The order list: newest first, a page at a time with the API's cursor, filtered by status. */
import { api } from './http.js';
import { byId, byIdAs, formatDateTime, formatTime, h, shortId, statusLabel } from './dom.js';

/**
 * @typedef {import('./types.js').Order} Order
 * @typedef {import('./types.js').OrderList} OrderPage
 * @typedef {import('./types.js').OrderDetail} OrderDetail
 */

const PAGE_SIZE = 15;
/**
 * Retry details (attempt number, next retry) come from each order's detail, which asks Temporal:
 * only for the visible orders that are being paid, and never more than this many per refresh.
 */
const MAX_DETAIL_LOOKUPS = 10;

/** Where each order's history lives: its detail here, and its workflow in the Temporal UI. */
export const detailHref = (/** @type {string} */ id) => `#/orders/${encodeURIComponent(id)}`;
const temporalHref = (/** @type {string} */ id) => `/orders/${encodeURIComponent(id)}/temporal`;

export class OrderList {
  constructor() {
    /** Cursors of the pages seen so far; null is the newest page. @type {(string | null)[]} */
    this.cursors = [null];
    this.filter = byIdAs('status-filter', HTMLSelectElement);
    this.newer = byIdAs('newer', HTMLButtonElement);
    this.older = byIdAs('older', HTMLButtonElement);
    /** @type {string | null} */
    this.nextCursor = null;
    /** @type {() => void} */
    this.onChange = () => undefined;
    this.filter.addEventListener('change', () => this.go([null]));
    this.newer.addEventListener('click', () => this.go(this.cursors.slice(0, -1)));
    this.older.addEventListener('click', () => this.go([...this.cursors, this.nextCursor]));
  }

  /**
   * Offers every status the API counts, so a status added to the domain appears in the filter.
   * @param {string[]} statuses
   */
  knowStatuses(statuses) {
    const known = new Set([...this.filter.options].map((option) => option.value));
    for (const status of statuses.filter((s) => !known.has(s))) {
      this.filter.append(new Option(statusLabel(status), status));
    }
  }

  /** @param {(string | null)[]} cursors */
  go(cursors) {
    this.cursors = cursors.length > 0 ? cursors : [null];
    this.onChange();
  }

  /** Reloads the current page; the page stays put while newer orders arrive (keyset cursor). */
  async refresh() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (this.filter.value) query.set('status', this.filter.value);
    const cursor = this.cursors.at(-1);
    if (cursor) query.set('cursor', cursor);
    /** @type {OrderPage} */
    const page = await api(`/api/orders?${query}`);
    this.nextCursor = page.nextCursor;
    const retries = await retryFacts(page.orders);
    render(page.orders, retries);
    this.newer.disabled = this.cursors.length <= 1;
    this.older.disabled = page.nextCursor === null;
    byId('page-label').textContent = `Page ${this.cursors.length}`;
  }
}

/**
 * @param {Order[]} orders
 * @returns {Promise<Map<string, OrderDetail['temporal']>>}
 */
async function retryFacts(orders) {
  const paying = orders
    .filter((order) => order.status === 'processing' && order.attempts > 0)
    .slice(0, MAX_DETAIL_LOOKUPS);
  const details = await Promise.allSettled(
    paying.map((order) => /** @type {Promise<OrderDetail>} */ (api(`/api/orders/${order.id}`))),
  );
  return new Map(
    details.flatMap((result) =>
      result.status === 'fulfilled' ? [[result.value.id, result.value.temporal]] : [],
    ),
  );
}

/**
 * "Retrying: attempt 3, next at 10:00:05" while the payment backs off after a failure.
 * @param {OrderDetail['temporal'] | undefined} temporal
 */
export function retryNote(temporal) {
  if (!temporal || 'error' in temporal || !temporal.payment) return null;
  const { attempt, nextRetryAt, lastFailure } = temporal.payment;
  if (attempt <= 1 && !lastFailure) return null;
  const next = nextRetryAt ? `, next at ${formatTime(nextRetryAt)}` : ', in progress';
  return `Retrying: attempt ${attempt}${next}`;
}

/**
 * @param {Order} order
 * @param {OrderDetail['temporal'] | undefined} temporal
 */
function statusCell(order, temporal) {
  const note = retryNote(temporal);
  return h(
    'td',
    { 'data-label': 'Status' },
    h('span', { class: `badge badge-${order.status}` }, statusLabel(order.status)),
    order.status === 'failed' && order.failureReason
      ? h('span', { class: 'reason' }, order.failureReason)
      : null,
    note ? h('span', { class: 'retrying' }, note) : null,
  );
}

/**
 * @param {Order} order
 * @param {OrderDetail['temporal'] | undefined} temporal
 */
function row(order, temporal) {
  return h(
    'tr',
    { class: order.status === 'failed' ? 'failed' : '', 'data-order-id': order.id },
    h('td', { 'data-label': 'Created' }, formatDateTime(order.createdAt)),
    h(
      'td',
      { 'data-label': 'Order' },
      h(
        'a',
        {
          href: detailHref(order.id),
          class: 'mono',
          'data-focus-key': `detail-${order.id}`,
          'aria-label': `Order ${order.id}`,
        },
        shortId(order.id),
      ),
    ),
    h('td', { 'data-label': 'Customer' }, order.customerId),
    h('td', { 'data-label': 'Item' }, `${order.quantity} × ${order.product}`),
    h('td', { 'data-label': 'Amount' }, `${order.amount} ${order.currency}`),
    statusCell(order, temporal),
    h('td', { 'data-label': 'Attempts' }, order.attempts),
    h(
      'td',
      { 'data-label': 'History' },
      h(
        'a',
        {
          href: temporalHref(order.id),
          target: '_blank',
          rel: 'noopener',
          'data-focus-key': `temporal-${order.id}`,
          'aria-label': `Order ${shortId(order.id)} in the Temporal UI (opens a new tab)`,
        },
        'Temporal UI',
      ),
    ),
  );
}

/**
 * Replaces the rows; the link that had keyboard focus gets it back, so a refresh never throws a
 * keyboard user out of the list.
 * @param {Order[]} orders
 * @param {Map<string, OrderDetail['temporal']>} retries
 */
function render(orders, retries) {
  const focused = document.activeElement;
  const key = focused instanceof HTMLElement ? focused.dataset.focusKey : undefined;
  const body = byId('orders');
  body.replaceChildren(...orders.map((order) => row(order, retries.get(order.id))));
  byId('orders-empty').hidden = orders.length > 0;
  if (key)
    body
      .querySelector(`[data-focus-key="${CSS.escape(key)}"]`)
      ?.closest('a')
      ?.focus();
}
