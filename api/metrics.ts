/**
 * `GET /metrics`: the API's Prometheus metrics (order intake, read-model gauges, Node process), for
 * the scrape token (METRICS_TOKEN) or a viewer's credential.
 */
import { Router } from 'express';
import { collectProcessMetrics, createApiMetrics, type ApiMetrics } from '../observability/metrics';
import { guardOf } from './auth';
import type { ApiDeps } from './deps';
import { methodNotAllowed } from './errors';

export function apiMetrics({ db, config }: Pick<ApiDeps, 'db' | 'config'>): ApiMetrics {
  const metrics = createApiMetrics({
    countByStatus: () => db.orders.countByStatus(),
    databaseSizeBytes: () => db.sizeBytes(),
    databaseQuotaBytes: config.DATABASE_QUOTA_BYTES ?? null,
    launchBacklog: () => db.launches.backlog(),
  });
  collectProcessMetrics(metrics.registry);
  return metrics;
}

export function metricsRouter(deps: ApiDeps & { metrics: ApiMetrics }): Router {
  const { metrics } = deps;
  const guard = guardOf(deps);
  const router = Router();
  router
    .route('/metrics')
    .get(guard('GET', '/metrics'), async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    })
    .all(methodNotAllowed('GET'));
  return router;
}
