/**
 * The finance simulator's control endpoints (`/mode`, `/faults`), as the scenarios drive them. A
 * real finance package has no such endpoints: it answers them 404 (or 405), which is "no
 * simulator", not an outage.
 */
import type { FinanceMode, FinanceModeSettings } from '../../domain/finance';
import { ApiError, unavailable } from '../errors';

const FINANCE_CALL_TIMEOUT_MS = 3_000;

export type FinanceModeState = Required<FinanceModeSettings>;

async function call(url: URL, method: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(FINANCE_CALL_TIMEOUT_MS),
    });
  } catch {
    throw unavailable('finance_unavailable', 'The finance package is unreachable');
  }
  if (response.status === 404 || response.status === 405) throw noSimulator();
  if (!response.ok) {
    throw unavailable('finance_unavailable', `The finance package answered ${response.status}`);
  }
  return response.json();
}

/** Thrown when FINANCE_URL has no simulator control endpoints (a real finance package). */
export function noSimulator(): ApiError {
  return new ApiError(
    409,
    'no_simulator',
    'The finance package at FINANCE_URL is not the simulator: it has no control endpoints',
  );
}

/** Whether an error says there is no simulator to control. */
export function isNoSimulator(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'no_simulator';
}

/** The control endpoints of the simulator at `financeUrl`. */
export function financeControl(financeUrl: string) {
  const at = (path: string) => new URL(path, financeUrl);
  return {
    mode: async () => (await call(at('/mode'), 'GET')) as FinanceModeState,
    /** Replaces the whole mode: settings left out go back to their defaults. */
    setMode: async (mode: FinanceMode) =>
      (await call(at('/mode'), 'PUT', { mode })) as FinanceModeState,
    clearFaults: async () => {
      await call(at('/faults'), 'DELETE');
    },
  };
}

export type FinanceControl = ReturnType<typeof financeControl>;
