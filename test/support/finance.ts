import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createFinanceApp } from '../../finance/app';
import { createLogger } from '../../observability/logger';
import type { ChargeRecord, FinanceFault, FinanceModeSettings } from '../../domain/finance';

export interface RunningFinance {
  url: string;
  setMode(settings: FinanceModeSettings): Promise<void>;
  queueFaults(...faults: FinanceFault[]): Promise<void>;
  /** Back to normal mode with no queued faults. */
  reset(): Promise<void>;
  charges(idempotencyKey: string): Promise<ChargeRecord>;
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
  options: { timeZone?: string; hangMs?: number } = {},
): Promise<RunningFinance> {
  const { app } = createFinanceApp({
    logger: createLogger({ service: 'finance', silent: true }),
    timeZone: options.timeZone ?? 'Europe/London',
    hangMs: options.hangMs ?? 60_000,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    setMode: async (settings) => void (await call(`${url}/mode`, 'PUT', settings)),
    queueFaults: async (...faults) => void (await call(`${url}/faults`, 'POST', { faults })),
    reset: async () => {
      await call(`${url}/faults`, 'DELETE');
      await call(`${url}/mode`, 'PUT', { mode: 'normal' });
    },
    charges: async (key) =>
      (await call(`${url}/charges/${encodeURIComponent(key)}`, 'GET')) as ChargeRecord,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
