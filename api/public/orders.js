// @ts-check
/* global document, fetch, history, location, Option, URL, URLSearchParams */
/**
 * The order list: newest first, a page at a time with the API's cursor, filtered by status,
 * failure kind, customer, product and time range. The filters live in the page's URL, so a
 * filtered view can be shared; failed rows can be ticked for a bulk action.
 */
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

/** The filter fields of the form, by query parameter. */
const TEXT_FILTERS = /** @type {const} */ ({
  failureKind: 'kind-filter',
  customerId: 'customer-filter',
  product: 'product-filter',
});
const TIME_FILTERS = /** @type {const} */ ({ placedFrom: 'from-filter', placedTo: 'to-filter' });

/** A filter's input or select. @param {string} id */
const field = (id) => /** @type {HTMLInputElement | HTMLSelectElement} */ (byId(id));

/** An ISO instant as a `datetime-local` value in the browser's zone. @param {string} iso */
function localInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

export class OrderList {
  constructor() {
    /** Cursors of the pages seen so far; null is the newest page. @type {(string | null)[]} */
    this.cursors = [null];
    /** Failed orders ticked by hand for a bulk action. @type {Set<string>} */
    this.selected = new Set();
    /** @type {() => void} */
    this.onSelect = () => undefined;
    this.form = byIdAs('order-filters', HTMLFormElement);
    this.filter = byIdAs('status-filter', HTMLSelectElement);
    this.newer = byIdAs('newer', HTMLButtonElement);
    this.older = byIdAs('older', HTMLButtonElement);
    /** @type {string | null} */
    this.nextCursor = null;
    /** @type {() => void} */
    this.onChange = () => undefined;
    this.fromUrl();
    this.filter.addEventListener('change', () => this.go([null]));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.go([null]);
    });
    byId('export-csv').addEventListener('click', () => void this.exportCsv());
    byId('orders').addEventListener('change', (event) => {
      const box = event.target;
      if (!(box instanceof HTMLInputElement) || !box.dataset.pick) return;
      if (box.checked) this.selected.add(box.dataset.pick);
      else this.selected.delete(box.dataset.pick);
      this.onSelect();
    });
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

  /** The filters as the API's query parameters (no paging): the listing's, the export's. */
  filterQuery() {
    const query = new URLSearchParams();
    if (this.filter.value) query.set('status', this.filter.value);
    for (const [name, id] of Object.entries(TEXT_FILTERS)) {
      const value = field(id).value;
      if (value.trim()) query.set(name, value.trim());
    }
    for (const [name, id] of Object.entries(TIME_FILTERS)) {
      const value = byIdAs(id, HTMLInputElement).value;
      if (value) query.set(name, new Date(value).toISOString());
    }
    return query;
  }

  /** The filters of the page's URL into the form, so a shared link opens the same view. */
  fromUrl() {
    const query = new URL(location.href).searchParams;
    const status = query.get('status') ?? '';
    if (status && ![...this.filter.options].some((option) => option.value === status)) {
      this.filter.append(new Option(status.split(',').map(statusLabel).join(' or '), status));
    }
    this.filter.value = status;
    for (const [name, id] of Object.entries(TEXT_FILTERS)) {
      field(id).value = query.get(name) ?? '';
    }
    for (const [name, id] of Object.entries(TIME_FILTERS)) {
      const value = query.get(name);
      byIdAs(id, HTMLInputElement).value = value ? localInput(value) : '';
    }
  }

  /** @param {(string | null)[]} cursors */
  go(cursors) {
    this.cursors = cursors.length > 0 ? cursors : [null];
    const query = this.filterQuery();
    const url = `${location.pathname}${query.size ? `?${query}` : ''}${location.hash}`;
    history.replaceState(null, '', url);
    this.onChange();
  }

  /** Downloads the filtered list as CSV (the session header rules out a plain link). */
  async exportCsv() {
    const message = byId('filter-message');
    const response = await fetch(`/api/orders/export.csv?${this.filterQuery()}`, {
      headers: { 'x-operator-session': '1' },
      credentials: 'same-origin',
    }).catch(() => null);
    if (!response?.ok) {
      message.className = 'message error';
      message.textContent =
        response?.status === 401 ? 'Sign in as operator to export.' : 'The export failed.';
      return;
    }
    const link = h('a', {
      href: URL.createObjectURL(await response.blob()),
      download: 'orders.csv',
    });
    document.body.append(link);
    link.click();
    link.remove();
    message.className = 'message';
    message.textContent = 'Exported orders.csv.';
  }

  /** Reloads the current page; the page stays put while newer orders arrive (keyset cursor). */
  async refresh() {
    const query = this.filterQuery();
    query.set('limit', String(PAGE_SIZE));
    const cursor = this.cursors.at(-1);
    if (cursor) query.set('cursor', cursor);
    /** @type {OrderPage} */
    const page = await api(`/api/orders?${query}`);
    this.nextCursor = page.nextCursor;
    const retries = await retryFacts(page.orders);
    render(page.orders, retries, this.selected);
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
 * @param {Set<string>} selected
 */
function statusCell(order, temporal, selected) {
  const note = retryNote(temporal);
  return h(
    'td',
    { 'data-label': 'Status' },
    order.status === 'failed'
      ? h('input', {
          type: 'checkbox',
          class: 'pick',
          'data-pick': order.id,
          'aria-label': `Select order ${shortId(order.id)} for a bulk action`,
          ...(selected.has(order.id) ? { checked: '' } : {}),
        })
      : null,
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
 * @param {Set<string>} selected
 */
function row(order, temporal, selected) {
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
    statusCell(order, temporal, selected),
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
 * @param {Set<string>} selected
 */
function render(orders, retries, selected) {
  const focused = document.activeElement;
  const key = focused instanceof HTMLElement ? focused.dataset.focusKey : undefined;
  const body = byId('orders');
  body.replaceChildren(...orders.map((order) => row(order, retries.get(order.id), selected)));
  byId('orders-empty').hidden = orders.length > 0;
  if (key)
    body
      .querySelector(`[data-focus-key="${CSS.escape(key)}"]`)
      ?.closest('a')
      ?.focus();
}
