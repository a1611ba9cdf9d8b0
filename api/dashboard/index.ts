/**
 * The operations dashboard: the page and its assets at `/`, the operator session and the system
 * health the page shows, plus the demo tools' routes when they are on (api/demo). Everything else
 * the page reads comes from the order API itself (`/api/stats`, `/api/orders`).
 */
import { dirname, join } from 'node:path';
import express, { Router } from 'express';
import { temporalUiWorkflowUrl } from '../../domain/temporal';
import { guardOf } from '../auth';
import type { ApiDeps } from '../deps';
import { methodNotAllowed } from '../errors';
import { demoTools } from '../demo';
import { systemRouter } from './system';

const PUBLIC_DIR = join(__dirname, '..', 'public');
const UPLOT_DIST = join(dirname(require.resolve('uplot/package.json')), 'dist');
/** Served from the installed package: the page works offline, with no CDN. */
const VENDOR_FILES: Record<string, string> = {
  '/vendor/uplot/uPlot.iife.min.js': join(UPLOT_DIST, 'uPlot.iife.min.js'),
  '/vendor/uplot/uPlot.min.css': join(UPLOT_DIST, 'uPlot.min.css'),
};

/** The dashboard's page, session, system health and (when on) demo routes. */
export function dashboardRouter(deps: ApiDeps): Router {
  const { config } = deps;
  const guard = guardOf(deps);
  const demo = demoTools(deps);
  const router = Router();

  // The page's own files only: its tsconfig.json (for type checks) is not for the browser.
  const page = express.static(PUBLIC_DIR, { index: 'index.html' });
  router.use((req, res, next) => {
    if (req.path === '/' || /^\/[\w-]+\.(html|css|js)$/.test(req.path)) page(req, res, next);
    else next();
  });
  for (const [path, file] of Object.entries(VENDOR_FILES)) {
    router.get(path, guard('GET', path), (_req, res) => {
      res.sendFile(file);
    });
  }
  if (deps.auth) router.use(deps.auth.sessionRouter());
  if (demo) router.use(demo.router);
  router.use(systemRouter(deps, demo));
  // The list has no Temporal UI address per row: this builds it server-side, in one place.
  router
    .route('/orders/:id/temporal')
    .get(guard('GET', '/orders/:id/temporal'), (req, res) => {
      res.redirect(
        302,
        temporalUiWorkflowUrl(config.TEMPORAL_UI_URL, config.TEMPORAL_NAMESPACE, req.params.id),
      );
    })
    .all(methodNotAllowed('GET', 'HEAD'));
  return router;
}
