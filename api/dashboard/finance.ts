/** The finance simulator's control endpoints (`/mode`, `/faults`), as the scenarios drive them. */
import type { FinanceMode, FinanceModeSettings } from '../../domain/finance';
import { unavailable } from '../errors';

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
  if (!response.ok) {
    throw unavailable('finance_unavailable', `The finance package answered ${response.status}`);
  }
  return response.json();
}

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
