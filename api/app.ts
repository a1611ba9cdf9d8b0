/**
 * The order API as an Express app. Nothing listens here: `main.ts` does, and the tests start it
 * in-process on port 0.
 */
import express from 'express';
import helmet from 'helmet';
import { adminRouter } from './admin';
import { operatorFailureLimit } from './auth';
import { bulkRouter } from './bulk';
import { dashboardRouter } from './dashboard';
import type { ApiDeps } from './deps';
import { errorHandler, notFound } from './errors';
import { apiMetrics, metricsRouter } from './metrics';
import { opsRouter } from './ops';
import { ordersRouter } from './orders';

export type { ApiConfig, ApiDeps, ApiHooks } from './deps';

export function createApiApp(given: ApiDeps): express.Express {
  const deps = { ...given, metrics: given.metrics ?? apiMetrics(given) };
  const app = express();
  app.disable('x-powered-by');
  // Behind no proxy: the client address is the socket's, which is what the rate limit keys on.
  app.set('trust proxy', false);
  // Served over plain HTTP on loopback by default: `upgrade-insecure-requests` would make a
  // browser fetch the (future) dashboard's assets over HTTPS, which nothing serves.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(operatorFailureLimit(deps.config.OPERATOR_AUTH_FAILURES_PER_MINUTE));
  app.use(metricsRouter(deps.metrics));
  app.use(opsRouter(deps));
  app.use(ordersRouter(deps));
  app.use(bulkRouter(deps));
  app.use(adminRouter(deps));
  app.use(dashboardRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
