/**
 * `GET /api/orders/export.csv`: the filtered listing as CSV, streamed. Rows are read a page at a
 * time through the listing's keyset pagination and written with backpressure, so a million rows
 * never sit in memory, and a slow client slows the reads instead of filling a buffer.
 */
import type { Response } from 'express';
import type { ListPosition, OrderRepository, StoredOrder } from '../db/orders';
import type { OrderFilter } from '../domain/bulk';

/** Rows read per query. */
export const EXPORT_PAGE_SIZE = 1000;

const COLUMNS = [
  'id',
  'customerId',
  'product',
  'quantity',
  'unitPrice',
  'amount',
  'currency',
  'datePlaced',
  'status',
  'failureKind',
  'failureReason',
  'attempts',
  'paymentReference',
  'cancelReason',
  'refundReference',
  'createdAt',
  'updatedAt',
  'processedAt',
] as const satisfies readonly (keyof StoredOrder)[];

/**
 * One CSV field (RFC 4180). Text a spreadsheet would run as a formula (starting with = + - @, a
 * tab or a carriage return) is prefixed with `'`, so a customer id like `=HYPERLINK(…)` stays
 * text when an operator opens the file.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvLine(values: readonly (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Resolves when the response can take more, or has closed. */
function writable(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Streams every order matching `filter`, newest first, as `orders.csv`. */
export async function exportOrdersCsv(
  orders: OrderRepository,
  filter: OrderFilter,
  res: Response,
): Promise<void> {
  // The first page is read before the headers go out: a database outage is still a 503.
  let page = await orders.list({ ...filter, limit: EXPORT_PAGE_SIZE });
  res.status(200);
  res.type('text/csv; charset=utf-8');
  res.attachment('orders.csv');
  res.write(csvLine(COLUMNS));
  for (;;) {
    for (const order of page) {
      if (res.destroyed) return;
      if (!res.write(csvLine(COLUMNS.map((column) => order[column])))) await writable(res);
    }
    const last = page.at(-1);
    if (page.length < EXPORT_PAGE_SIZE || !last || res.destroyed) break;
    const after: ListPosition = { createdAt: last.createdAt, id: last.id };
    page = await orders.list({ ...filter, after, limit: EXPORT_PAGE_SIZE });
  }
  res.end();
}
