/**
 * `/api/admin/features`: operators read and flip feature toggles. Both routes need the operator
 * token (header or dashboard session), reading included: the answer names operators, and a flip
 * changes how every following order is verified.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { FEATURES, isFeatureName, type FeatureName } from '../domain/features';
import { requireOperator } from './auth';
import { jsonBody } from './body';
import type { ApiDeps } from './deps';
import { ApiError, issueDetails, methodNotAllowed, parseOr400, validationError } from './errors';
import {
  FEATURE_CHANGES_SHOWN,
  operatorNameHeader,
  setFeatureRequest,
  type FeatureListResponse,
  type FeatureToggleResponse,
} from './schemas';

export const ADMIN_FEATURES_PATH = '/api/admin/features';

/** Recorded as `changedBy` when a request does not say who it is (no `X-Operator`). */
export const DEFAULT_OPERATOR_NAME = 'operator';

function operatorName(req: Request): string {
  const parsed = operatorNameHeader.safeParse(req.get('x-operator'));
  if (!parsed.success) throw validationError(issueDetails(parsed.error.issues, 'X-Operator'));
  return parsed.data ?? DEFAULT_OPERATOR_NAME;
}

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
  const { db, config, log } = deps;
  const router = Router();
  const operator = requireOperator(config.OPERATOR_TOKEN);

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
    const changedBy = operatorName(req);
    const { previous, ...toggle } = await db.features.set(name, enabled, changedBy);
    log.info('feature toggle changed', { name, enabled, changedBy, previous });
    deps.metrics?.featureToggleChanges.inc({ name, enabled: String(enabled) });
    const body: FeatureToggleResponse = toggle;
    res.set('Cache-Control', 'no-store').json(body);
  }

  router
    .route(ADMIN_FEATURES_PATH)
    .get(operator, listFeatures)
    .all(methodNotAllowed('GET', 'HEAD'));
  router
    .route(`${ADMIN_FEATURES_PATH}/:name`)
    .put(operator, knownFeature, jsonBody({ required: true }), setFeature)
    .all(methodNotAllowed('PUT'));
  return router;
}
