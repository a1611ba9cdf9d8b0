/** What the API is built from; the entry point wires real ones, tests wire their own. */
import type { Client } from '@temporalio/client';
import type { Database } from '../db';
import type { Auth } from './auth';
import type { StoredOrder } from '../db/orders';
import type { Config } from '../domain/config';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';

/** The API's configuration: the whole service's (a name kept for the routers that use it). */
export type ApiConfig = Config;

export interface ApiHooks {
  /**
   * Test-only fault injection: called after an order's row (and outbox entry) is written and
   * before the API answers. The crash test kills the process here (API_FAULT_CRASH_AFTER_INSERT).
   */
  afterOrderInsert?: (order: StoredOrder) => void;
}

export interface ApiDeps {
  db: Database;
  temporal: Client;
  config: ApiConfig;
  log: Logger;
  clock?: () => Date;
  hooks?: ApiHooks;
  /** Access control; `createApiApp` makes it when the caller does not. */
  auth?: Auth;
  /** The API's Prometheus metrics; `createApiApp` makes them when the caller does not. */
  metrics?: ApiMetrics;
  /** Woken after each accepted order, so its workflow starts without waiting for a poll. */
  launcher?: { notify(orderId: string): void };
  /** Bound on each Temporal call made while a client waits; TEMPORAL_CALL_TIMEOUT_MS by default. */
  temporalTimeoutMs?: number;
}

/**
 * Every Temporal call made while a client waits is bounded: an unreachable or slow Temporal
 * turns into a 503 (or a `temporal.error` note) within seconds instead of a hung request.
 */
export const TEMPORAL_CALL_TIMEOUT_MS = 5_000;

export function temporalTimeout(deps: Pick<ApiDeps, 'temporalTimeoutMs'>): number {
  return deps.temporalTimeoutMs ?? TEMPORAL_CALL_TIMEOUT_MS;
}
