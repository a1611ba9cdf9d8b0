/**
 * `/api/admin/features`: admins read and flip feature toggles. Reading is guarded too: the answer
 * names staff, and a flip changes how every following order is verified. Each change records who
 * made it as the credential says, never as the request claims.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { FEATURES, isFeatureName, type FeatureName } from '../domain/features';
import { actorOf, guardOf } from './auth';
import { jsonBody } from './body';
import type { ApiDeps } from './deps';
import { ApiError, methodNotAllowed, parseOr400 } from './errors';
import {
  FEATURE_CHANGES_SHOWN,
  setFeatureRequest,
  type FeatureListResponse,
  type FeatureToggleResponse,
} from './schemas';

export const ADMIN_FEATURES_PATH = '/api/admin/features';

/** 404 before the body is read: an unknown toggle is the first thing worth saying. */
const knownFeature: RequestHandler<{ name: string }> = (req, _res, next) => {
  const { name } = req.params;
  if (!isFeatureName(name)) {
    throw new ApiError(
      404,
      'unknown_feature',
      `No feature toggle named "${name.slice(0, 100)}"; known: ${Object.keys(FEATURES).join(', ')}`,
    );
  }
  next();
};

export function adminRouter(deps: ApiDeps): Router {
  const { db, log } = deps;
  const router = Router();
  const guard = guardOf(deps);

  async function listFeatures(_req: Request, res: Response): Promise<void> {
    const [features, changes] = await Promise.all([
      db.features.list(),
      db.features.changes({ limit: FEATURE_CHANGES_SHOWN }),
    ]);
    const body: FeatureListResponse = { features, changes };
    res.set('Cache-Control', 'no-store').json(body);
  }

  async function setFeature(req: Request<{ name: string }>, res: Response): Promise<void> {
    const name = req.params.name as FeatureName; // checked by `knownFeature`
    const { enabled } = parseOr400(setFeatureRequest, req.body);
    const changedBy = actorOf(req).label;
    const { previous, ...toggle } = await db.features.set(name, enabled, changedBy);
    log.info('feature toggle changed', { name, enabled, changedBy, previous });
    deps.metrics?.featureToggleChanges.inc({ name, enabled: String(enabled) });
    const body: FeatureToggleResponse = toggle;
    res.set('Cache-Control', 'no-store').json(body);
  }

  router
    .route(ADMIN_FEATURES_PATH)
    .get(guard('GET', ADMIN_FEATURES_PATH), listFeatures)
    .all(methodNotAllowed('GET', 'HEAD'));
  router
    .route(`${ADMIN_FEATURES_PATH}/:name`)
    .put(
      guard('PUT', `${ADMIN_FEATURES_PATH}/:name`),
      knownFeature,
      jsonBody({ required: true }),
      setFeature,
    )
    .all(methodNotAllowed('PUT'));
  return router;
}
