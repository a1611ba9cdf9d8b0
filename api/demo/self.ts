/**
 * Orders placed by the dashboard's scenarios go through the API's own HTTP path (validation, rate
 * limit, idempotency key, workflow start), exactly as a client's would: nothing is reimplemented.
 */
import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { OrderResponse } from '../schemas';
import { ORDERS_PATH } from '../orders';

/** Bounds one order's round trip: a slow API makes the load generator skip, not pile up. */
const PLACE_TIMEOUT_MS = 10_000;

/** The address this request arrived on: the API's own listening socket, on loopback by default. */
export function ownUrl(req: Request): string {
  const { localAddress = '127.0.0.1', localPort } = req.socket;
  const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
  return `http://${host}:${localPort}`;
}

const CUSTOMERS = ['cust-1', 'cust-2', 'cust-3', 'cust-4', 'cust-5'];
const PRODUCTS = [
  { product: 'Widget', unitPrice: '12.50' },
  { product: 'Gadget', unitPrice: '5.00' },
  { product: 'Gizmo', unitPrice: '19.99' },
];

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** A plausible order; `datePlaced` left out means "now", as a shop would send it. */
export function demoOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customerId: pick(CUSTOMERS),
    ...pick(PRODUCTS),
    quantity: 1 + Math.floor(Math.random() * 3),
    currency: 'GBP',
    ...overrides,
  };
}

/**
 * POSTs one order to the API at `baseUrl` as the client `token` is for (the demo tools' own,
 * which lives only in the API process); throws with the API's status and code if refused.
 */
export async function postOrder(
  baseUrl: string,
  token: string,
  body: unknown,
): Promise<OrderResponse> {
  const response = await fetch(`${baseUrl}${ORDERS_PATH}`, {
    method: 'POST',
    // A fresh key per order: if this request is retried, it can never place the order twice.
    headers: {
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(PLACE_TIMEOUT_MS),
  });
  const answer = (await response.json().catch(() => null)) as
    (OrderResponse & { error?: { code: string; message: string } }) | null;
  if (!response.ok || !answer) {
    throw new Error(`${response.status} ${answer?.error?.code ?? 'no answer'}`);
  }
  return answer;
}
