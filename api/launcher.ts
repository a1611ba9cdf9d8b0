/**
 * No order lost, and no client waiting on Temporal: `POST /api/orders` writes the order and its
 * outbox entry in one statement and answers; this loop starts the workflows of the entries. A
 * start is idempotent (the workflow id is the order id, and a closed workflow's id is never
 * reused), so a start repeated after a crash, or by two API processes, changes nothing.
 */
import { context as otelContext, type Context } from '@opentelemetry/api';
import { orderWorkflowSettings, startOrderWorkflow } from '../clients/temporal';
import type { ClaimedLaunch } from '../db/launches';
import type { StoredOrder } from '../db/orders';
import { temporalTimeout, type ApiDeps } from './deps';
import { isTemporalUnavailable } from './errors';

export interface LaunchResult {
  claimed: number;
  started: number;
  /** The workflow existed already; only the row was behind. */
  recorded: number;
  failed: number;
  /** Temporal was unreachable: the loop backs off before its next pass. */
  unavailable: boolean;
}

type LaunchDeps = Pick<
  ApiDeps,
  'db' | 'temporal' | 'config' | 'log' | 'clock' | 'temporalTimeoutMs' | 'metrics'
>;

const MAX_RETRY_DELAY_MS = 60_000;
/** Trace contexts kept for orders accepted here and not launched yet; the oldest go first. */
const MAX_KEPT_CONTEXTS = 10_000;

/** 1 s after the first failed claim, doubling, at most a minute. */
function retryDelay(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Runs `work` over `items` with at most `limit` in flight; stops taking new ones once `halt()`. */
async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  halt: () => boolean,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && !halt()) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * One pass: claims due outbox entries and starts their workflows, LAUNCH_CONCURRENCY at a time.
 * `contexts` holds the trace context of each order's request, so its workflow start joins the
 * order's trace when the same process launches it.
 */
export async function launchDue(
  deps: LaunchDeps,
  contexts: Map<string, Context> = new Map(),
): Promise<LaunchResult> {
  const { db, temporal, config, log } = deps;
  const now = (deps.clock ?? (() => new Date()))();
  const claimed = await db.launches.claim(
    now,
    new Date(now.getTime() + config.RECONCILE_AFTER),
    config.LAUNCH_BATCH,
  );
  const result: LaunchResult = {
    claimed: claimed.length,
    started: 0,
    recorded: 0,
    failed: 0,
    unavailable: false,
  };
  if (claimed.length === 0) return result;
  const orders = new Map(
    (await db.orders.getMany(claimed.map((c) => c.orderId))).map((order) => [order.id, order]),
  );
  await db.launches.remove(claimed.filter((c) => !orders.has(c.orderId)).map((c) => c.orderId));

  const launched: { claim: ClaimedLaunch; order: StoredOrder; started: boolean }[] = [];
  const retry = new Map<ClaimedLaunch, string>();
  const work = claimed.filter((c) => orders.has(c.orderId));
  await forEachBounded(
    work,
    config.LAUNCH_CONCURRENCY,
    () => result.unavailable,
    async (claim) => {
      const order = orders.get(claim.orderId) as StoredOrder;
      const start = () =>
        temporal.withDeadline(Date.now() + temporalTimeout(deps), () =>
          startOrderWorkflow(
            temporal,
            { taskQueue: config.TEMPORAL_TASK_QUEUE, settings: orderWorkflowSettings(config) },
            order,
          ),
        );
      try {
        const request = contexts.get(order.id);
        const { started } = await (request ? otelContext.with(request, start) : start());
        contexts.delete(order.id);
        launched.push({ claim, order, started });
      } catch (error) {
        retry.set(claim, reasonOf(error));
        // Temporal is down: the rest of the batch would fail the same way.
        if (isTemporalUnavailable(error)) result.unavailable = true;
      }
    },
  );

  const recordedAt = (deps.clock ?? (() => new Date()))();
  await db.orders.markWorkflowsStarted(
    launched.map(({ order }) => order.id),
    recordedAt,
  );
  for (const { claim, started } of launched) {
    result[started ? 'started' : 'recorded'] += 1;
    deps.metrics?.launchLatency.observe(
      { outcome: started ? 'started' : 'existed' },
      Math.max(0, recordedAt.getTime() - claim.acceptedAt.getTime()) / 1000,
    );
  }

  // Entries never tried (Temporal went down mid-batch) wait like the one that failed.
  const firstReason = [...retry.values()][0] ?? 'not tried: Temporal is unreachable';
  for (const claim of work) {
    if (!retry.has(claim) && !launched.some((l) => l.claim === claim))
      retry.set(claim, firstReason);
  }
  result.failed = retry.size;
  const byDelay = new Map<number, { ids: string[]; reason: string }>();
  for (const [claim, reason] of retry) {
    const delay = retryDelay(claim.attempts);
    const group = byDelay.get(delay) ?? { ids: [], reason };
    group.ids.push(claim.orderId);
    byDelay.set(delay, group);
  }
  for (const [delay, { ids, reason }] of byDelay) {
    await db.launches.reschedule(ids, new Date(now.getTime() + delay), reason);
  }
  if (retry.size > 0) {
    deps.metrics?.launchFailures.inc(retry.size);
    log.warn('order workflows not started yet; their launch is retried', {
      orders: retry.size,
      reason: firstReason,
    });
  }
  return result;
}

/** The running launch loop. */
export interface Launcher {
  /**
   * This order was just accepted: run a pass now rather than at the next poll. Called within the
   * request, so the request's trace context is kept for the order's workflow start.
   */
  notify(orderId: string): void;
  stop(): Promise<void>;
}

/**
 * Passes back to back while there is work, a poll every RECONCILE_EVERY when idle, and after
 * Temporal was unreachable a pause that doubles up to a minute. Passes never overlap within a
 * process; several API processes each run one, and their claims do not overlap.
 */
export function startLauncher(deps: LaunchDeps): Launcher {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let outageDelay = 0;
  const contexts = new Map<string, Context>();

  const pass = async (): Promise<number> => {
    try {
      const result = await launchDue(deps, contexts);
      if (result.unavailable) {
        outageDelay = Math.min(Math.max(outageDelay * 2, 1000), MAX_RETRY_DELAY_MS);
        return outageDelay;
      }
      outageDelay = 0;
      return result.claimed === deps.config.LAUNCH_BATCH ? 0 : deps.config.RECONCILE_EVERY;
    } catch (error) {
      deps.log.warn('launcher pass failed', { reason: reasonOf(error) });
      return deps.config.RECONCILE_EVERY;
    }
  };
  const run = (): void => {
    if (stopped || running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    again = false;
    running = pass().then((delay) => {
      running = null;
      if (stopped) return;
      // An order arrived during the pass: it may not have been claimed yet.
      if (again && outageDelay === 0) schedule(0);
      else schedule(delay);
    });
  };
  const schedule = (delay: number): void => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(run, delay);
  };
  schedule(0);
  return {
    notify(orderId) {
      contexts.set(orderId, otelContext.active());
      if (contexts.size > MAX_KEPT_CONTEXTS) contexts.delete(contexts.keys().next().value ?? '');
      if (outageDelay === 0) run();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
