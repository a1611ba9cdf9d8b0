/**
 * The order API as an Express app. Nothing listens here: `main.ts` does, and the tests start it
 * in-process on port 0.
 */
import express from 'express';
import helmet from 'helmet';
import { adminRouter } from './admin';
import { createAuth } from './auth';
import { bulkRouter } from './bulk';
import { codecRouter } from './codec';
import { dashboardRouter } from './dashboard';
import type { ApiDeps } from './deps';
import { errorHandler, notFound } from './errors';
import { apiMetrics, metricsRouter } from './metrics';
import { opsRouter } from './ops';
import { ordersRouter } from './orders';

export type { ApiConfig, ApiDeps, ApiHooks } from './deps';

export function createApiApp(given: ApiDeps): express.Express {
  const deps = {
    ...given,
    metrics: given.metrics ?? apiMetrics(given),
    auth: given.auth ?? createAuth(given),
  };
  const app = express();
  app.disable('x-powered-by');
  // Off unless TRUST_PROXY says which proxies to believe: `req.ip` is what the failure limits
  // key on, and `req.secure` decides the session cookie's `Secure`.
  app.set('trust proxy', deps.config.TRUST_PROXY);
  // Served over plain HTTP on loopback by default: `upgrade-insecure-requests` would make a
  // browser fetch the (future) dashboard's assets over HTTPS, which nothing serves.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(metricsRouter(deps));
  app.use(opsRouter(deps));
  app.use(ordersRouter(deps));
  app.use(bulkRouter(deps));
  app.use(adminRouter(deps));
  app.use(
    codecRouter({
      codecs: deps.temporal.options.loadedDataConverter.payloadCodecs,
      // Both routes have the same entry: a viewer's right, the cookie counting on its own.
      guard: deps.auth.guard('POST', '/api/codec/decode'),
      uiUrl: deps.config.TEMPORAL_UI_URL,
      namespace: deps.config.TEMPORAL_NAMESPACE,
    }),
  );
  app.use(dashboardRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
