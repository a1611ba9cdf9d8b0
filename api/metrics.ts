/** `GET /metrics`: the API's Prometheus metrics (order intake, read-model gauges, Node process). */
import { Router } from 'express';
import { collectProcessMetrics, createApiMetrics, type ApiMetrics } from '../observability/metrics';
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

export function metricsRouter(metrics: ApiMetrics): Router {
  const router = Router();
  router
    .route('/metrics')
    .get(async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    })
    .all(methodNotAllowed('GET'));
  return router;
}
