/** Probes, dashboard numbers and the API's own description. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type Request, type Response } from 'express';
import { countOrderWorkflowsByStatus } from '../clients/temporal';
import { guardOf } from './auth';
import { temporalTimeout, type ApiDeps } from './deps';
import { ApiError, isTemporalUnavailable, methodNotAllowed, unavailable } from './errors';
import type { TimelineColumn } from '../db/orders';
import type { StatsResponse } from './schemas';
import { openApiDocument } from './openapi';

/** Probes answer fast: an orchestrator would rather hear "not ready" than wait for a hung pool. */
const PROBE_TIMEOUT_MS = 2_000;
const MINUTE_MS = 60_000;
const CHART_MINUTES = 60;
/** How old the Temporal visibility counts in `/api/stats` may be (`temporalCountedAt` says). */
const TEMPORAL_COUNTS_TTL_MS = 2_000;
/**
 * A minute that ended this long ago takes no more rows: its count is read once and kept. Rows are
 * stamped by the writing process's clock, so this also covers clock skew between processes.
 */
const SETTLED_AFTER_MS = 10_000;

type TemporalCounts = Pick<
  StatsResponse['byStatus'],
  'temporal' | 'temporalError' | 'temporalCountedAt'
>;

/**
 * A read served from the last value while it is younger than `ttlMs`; once older, still served,
 * and replaced in the background by one read at a time. Only the first call waits.
 */
function staleWhileRevalidate<T>(
  ttlMs: number,
  read: () => Promise<T>,
  clock: () => number,
): () => Promise<T> {
  let last: { value: T; at: number } | null = null;
  let pending: Promise<T> | null = null;
  const refresh = (): Promise<T> => {
    pending ??= read()
      .then((value) => {
        last = { value, at: clock() };
        return value;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  return async () => {
    if (!last) return refresh();
    if (clock() - last.at >= ttlMs) refresh().catch(() => undefined);
    return last.value;
  };
}

/**
 * Per-minute counts of `column` for the chart: settled minutes from memory (each read once), the
 * last one or two minutes read on every request, so the series is as exact as a full read.
 */
function settledMinutes(db: ApiDeps['db'], column: TimelineColumn) {
  const kept = new Map<number, number>();
  return async (since: Date, at: Date): Promise<{ minute: string; count: number }[]> => {
    const starts = Array.from({ length: CHART_MINUTES }, (_, i) => since.getTime() + i * MINUTE_MS);
    const live = starts.findIndex((start) => start + MINUTE_MS > at.getTime() - SETTLED_AFTER_MS);
    const firstLive = live === -1 ? CHART_MINUTES : live;
    const missing = starts.slice(0, firstLive).findIndex((start) => !kept.has(start));
    const [settledRows, liveRows] = await Promise.all([
      missing === -1
        ? Promise.resolve([])
        : db.orders.countPerMinute(column, new Date(starts[missing] ?? 0), firstLive - missing),
      firstLive === CHART_MINUTES
        ? Promise.resolve([])
        : db.orders.countPerMinute(
            column,
            new Date(starts[firstLive] ?? 0),
            CHART_MINUTES - firstLive,
          ),
    ]);
    for (const row of settledRows) kept.set(Date.parse(row.minute), row.count);
    for (const start of kept.keys()) if (start < since.getTime()) kept.delete(start);
    const liveCounts = new Map(liveRows.map((row) => [Date.parse(row.minute), row.count]));
    return starts.map((start) => ({
      minute: new Date(start).toISOString(),
      count: kept.get(start) ?? liveCounts.get(start) ?? 0,
    }));
  };
}

/** A check that failed: `said` is for the client, `cause` (the raw error) for the log only. */
interface ProbeFailure {
  said: string;
  cause: string;
}

async function probe(check: () => Promise<unknown>): Promise<ProbeFailure | null> {
  try {
    const outcome = await Promise.race([
      check().then(() => 'ok' as const),
      sleep(PROBE_TIMEOUT_MS, 'timeout' as const, { ref: false }),
    ]);
    const said = `no answer within ${PROBE_TIMEOUT_MS} ms`;
    return outcome === 'ok' ? null : { said, cause: said };
  } catch (error) {
    // `/readyz` is public, and a driver's message names hosts, ports, users or library
    // internals ("connect ECONNREFUSED 10.0.0.5:5432"): the client hears only that the check
    // failed, the log keeps the message.
    return {
      said: 'the check failed; the API log has the error',
      cause: error instanceof Error ? error.message.slice(0, 500) : String(error),
    };
  }
}

export function opsRouter(deps: ApiDeps): Router {
  const { db, temporal, config, log } = deps;
  const now = deps.clock ?? (() => new Date());
  const router = Router();
  const guard = guardOf(deps);
  const document = openApiDocument(config);

  async function ready(_req: Request, res: Response): Promise<void> {
    const [database, temporalProblem] = await Promise.all([
      probe(() => db.ping()),
      probe(() =>
        temporal.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
          temporal.workflowService.getSystemInfo({}),
        ),
      ),
    ]);
    const details = [
      ...(database ? [{ path: 'database', message: database.said }] : []),
      ...(temporalProblem ? [{ path: 'temporal', message: temporalProblem.said }] : []),
    ];
    if (details.length > 0) {
      log.warn('readiness check failed', {
        ...(database ? { database: database.cause } : {}),
        ...(temporalProblem ? { temporal: temporalProblem.cause } : {}),
      });
      const down = unavailable(
        'not_ready',
        `Not ready: ${details.map((d) => d.path).join(' and ')} unreachable`,
      );
      throw new ApiError(down.status, down.code, down.message, details, down.headers);
    }
    res.json({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
  }

  async function readTemporalCounts(): Promise<TemporalCounts> {
    const countedAt = now().toISOString();
    try {
      const counts = await countOrderWorkflowsByStatus(temporal, config.TEMPORAL_TASK_QUEUE, {
        timeoutMs: temporalTimeout(deps),
      });
      return { temporal: counts, temporalError: null, temporalCountedAt: countedAt };
    } catch (error) {
      if (!isTemporalUnavailable(error)) throw error;
      return { temporal: null, temporalError: 'Temporal is unreachable', temporalCountedAt: null };
    }
  }
  // Six visibility counts per request would cost more than everything else together.
  const temporalCounts = staleWhileRevalidate(TEMPORAL_COUNTS_TTL_MS, readTemporalCounts, () =>
    now().getTime(),
  );
  const created = settledMinutes(db, 'created_at');
  const processed = settledMinutes(db, 'processed_at');

  async function stats(_req: Request, res: Response): Promise<void> {
    const at = now();
    const currentMinute = Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS;
    const since = new Date(currentMinute - (CHART_MINUTES - 1) * MINUTE_MS);
    const [sql, fromTemporal, createdPerMinute, processedPerMinute] = await Promise.all([
      db.orders.countByStatus(),
      temporalCounts(),
      created(since, at),
      processed(since, at),
    ]);
    const perMinute = createdPerMinute.map(({ minute, count }, index) => ({
      minute,
      created: count,
      processed: processedPerMinute[index]?.count ?? 0,
    }));
    const body: StatsResponse = {
      byStatus: { sql, ...fromTemporal },
      perMinute,
      generatedAt: at.toISOString(),
    };
    res.json(body);
  }

  const only = (...methods: string[]) => methodNotAllowed(...methods);
  router
    .route('/healthz')
    .get(guard('GET', '/healthz'), (_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(only('GET', 'HEAD'));
  router.route('/readyz').get(guard('GET', '/readyz'), ready).all(only('GET', 'HEAD'));
  router.route('/api/stats').get(guard('GET', '/api/stats'), stats).all(only('GET', 'HEAD'));
  router
    .route('/api/openapi.json')
    .get(guard('GET', '/api/openapi.json'), (_req, res) => {
      res.json(document);
    })
    .all(only('GET', 'HEAD'));
  return router;
}
