/** Probes, dashboard numbers and the API's own description. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type Request, type Response } from 'express';
import { countOrderWorkflowsByStatus } from '../clients/temporal';
import { guardOf } from './auth';
import { temporalTimeout, type ApiDeps } from './deps';
import { ApiError, isTemporalUnavailable, methodNotAllowed, unavailable } from './errors';
import type { StatsResponse } from './schemas';
import { openApiDocument } from './openapi';

/** Probes answer fast: an orchestrator would rather hear "not ready" than wait for a hung pool. */
const PROBE_TIMEOUT_MS = 2_000;
const MINUTE_MS = 60_000;
const CHART_MINUTES = 60;

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

  async function temporalCounts(): Promise<
    Pick<StatsResponse['byStatus'], 'temporal' | 'temporalError'>
  > {
    try {
      const counts = await countOrderWorkflowsByStatus(temporal, config.TEMPORAL_TASK_QUEUE, {
        timeoutMs: temporalTimeout(deps),
      });
      return { temporal: counts, temporalError: null };
    } catch (error) {
      if (!isTemporalUnavailable(error)) throw error;
      return { temporal: null, temporalError: 'Temporal is unreachable' };
    }
  }

  async function stats(_req: Request, res: Response): Promise<void> {
    const at = now();
    const currentMinute = Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS;
    const since = new Date(currentMinute - (CHART_MINUTES - 1) * MINUTE_MS);
    const [sql, fromTemporal, created, processed] = await Promise.all([
      db.orders.countByStatus(),
      temporalCounts(),
      db.orders.countPerMinute('created_at', since, CHART_MINUTES),
      db.orders.countPerMinute('processed_at', since, CHART_MINUTES),
    ]);
    const perMinute = created.map(({ minute, count }, index) => ({
      minute,
      created: count,
      processed: processed[index]?.count ?? 0,
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
