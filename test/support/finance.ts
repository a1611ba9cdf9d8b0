import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createFinanceApp } from '../../finance/app';
import { createLogger } from '../../observability/logger';
import {
  PAYMENTS_PATH,
  type ChargeRecord,
  type FaultEndpoint,
  type FaultsReport,
  type FinanceErrorBody,
  type FinanceFault,
  type FinanceModeSettings,
  type KeyActivity,
  type PaymentLookup,
  type PaymentRequest,
} from '../../domain/finance';

/** `GET /payments/:key` as a test reads it: the body, or the 404's error body. */
export type LookupAnswer = PaymentLookup | ({ status: 'not_found' } & FinanceErrorBody);

/** A finance simulator started by a test, with its control calls. */
export interface RunningFinance {
  url: string;
  setMode(settings: FinanceModeSettings): Promise<void>;
  /** Faults for the next payment calls, in order. */
  queueFaults(...faults: FinanceFault[]): Promise<void>;
  /** Faults for the next calls of another money endpoint (lookups, refunds, or any). */
  queueFaultsFor(endpoint: FaultEndpoint, ...faults: FinanceFault[]): Promise<void>;
  /** Back to normal mode with no queued faults. */
  reset(): Promise<void>;
  charges(idempotencyKey: string): Promise<ChargeRecord>;
  /** `GET /payments/:key`; a 404 comes back as `status: 'not_found'`. */
  lookup(paymentKey: string): Promise<LookupAnswer>;
  /** `GET /charges`: every key the package has seen. */
  activity(): Promise<KeyActivity[]>;
  /** Payment keys with a request in progress now (`GET /faults`). */
  pending(): Promise<string[]>;
  close(): Promise<void>;
}

async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The finance simulator on a loopback port, driven over its own HTTP API as a test would. */
export async function startFinance(
  options: { timeZone?: string; hangMs?: number; lateChargeMs?: number } = {},
): Promise<RunningFinance> {
  const { app } = createFinanceApp({
    logger: createLogger({ service: 'finance', silent: true }),
    timeZone: options.timeZone ?? 'Europe/London',
    hangMs: options.hangMs ?? 60_000,
    lateChargeMs: options.lateChargeMs ?? 1000,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    setMode: async (settings) => void (await call(`${url}/mode`, 'PUT', settings)),
    queueFaults: async (...faults) => void (await call(`${url}/faults`, 'POST', { faults })),
    queueFaultsFor: async (endpoint, ...faults) =>
      void (await call(`${url}/faults`, 'POST', { faults, endpoint })),
    reset: async () => {
      await call(`${url}/faults`, 'DELETE');
      await call(`${url}/mode`, 'PUT', { mode: 'normal' });
    },
    charges: async (key) =>
      (await call(`${url}/charges/${encodeURIComponent(key)}`, 'GET')) as ChargeRecord,
    lookup: async (key) => {
      const response = await fetch(`${url}${PAYMENTS_PATH}/${encodeURIComponent(key)}`);
      if (response.status === 404) {
        return { status: 'not_found', ...((await response.json()) as FinanceErrorBody) };
      }
      if (!response.ok)
        throw new Error(`lookup ${key}: ${response.status} ${await response.text()}`);
      return (await response.json()) as PaymentLookup;
    },
    activity: async () => ((await call(`${url}/charges`, 'GET')) as { keys: KeyActivity[] }).keys,
    pending: async () => ((await call(`${url}/faults`, 'GET')) as FaultsReport).pending,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A valid payment request with fresh keys; override what the test is about. */
export function paymentRequest(overrides: Partial<PaymentRequest> = {}): PaymentRequest {
  return {
    idempotencyKey: `pay-${randomUUID()}`,
    orderId: `order-${randomUUID()}`,
    amount: '12.50',
    currency: 'GBP',
    date: '2026-07-01T10:00:00+01:00',
    ...overrides,
  };
}
