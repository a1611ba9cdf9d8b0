/**
 * Operator actions need the operator token: `Authorization: Bearer <OPERATOR_TOKEN>` (scripts,
 * curl), or the dashboard's session cookie, set once by `POST /api/session`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { jsonBody } from './body';
import { ApiError, methodNotAllowed, parseOr400 } from './errors';
import { sessionRequest } from './schemas';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export const SESSION_PATH = '/api/session';
/** HttpOnly: the page's scripts never see the token, so an injected script cannot read it. */
export const OPERATOR_COOKIE = 'operator_token';
/**
 * The cookie counts only on requests that also carry this header. SameSite=Strict keeps other
 * sites out, but a page on another port of the same host (the Temporal UI on 127.0.0.1:8233) is
 * the same site; a custom header makes its browser ask first (CORS preflight), which this API
 * never grants.
 */
export const SESSION_HEADER = 'x-operator-session';
const SESSION_MAX_AGE_MS = 12 * 3600 * 1000;

function bearerToken(req: Request): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '')?.[1];
}

/** The operator cookie of a request that says it comes from the dashboard, if any. */
function cookieToken(req: Request): string | undefined {
  if (req.get(SESSION_HEADER) !== '1') return undefined;
  for (const pair of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=');
    if (name !== OPERATOR_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('=')) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function tokenMatcher(token: string): (presented: string) => boolean {
  const expected = digest(token);
  // Equal-length digests compared in constant time: the answer's timing says nothing about how
  // much of the token was right.
  return (presented) => timingSafeEqual(digest(presented), expected);
}

export function requireOperator(token: string): RequestHandler {
  const matches = tokenMatcher(token);
  return (req, _res, next) => {
    const presented = bearerToken(req) ?? cookieToken(req);
    if (!presented) {
      throw new ApiError(
        401,
        'unauthorized',
        'Operator actions need an "Authorization: Bearer <token>" header',
        undefined,
        { 'WWW-Authenticate': 'Bearer realm="orders"' },
      );
    }
    if (!matches(presented)) {
      throw new ApiError(403, 'forbidden', 'The operator token is not valid');
    }
    next();
  };
}

/**
 * Wrong operator tokens allowed per client address per minute. Past that, every request from the
 * address that carries credentials (a bearer token, the operator cookie, a sign-in) is answered
 * 429 until the minute is over: a guessing loop gets a handful of tries, however many routes it
 * spreads them over. Requests without credentials — placing and reading orders — never count and
 * are never held back.
 */
export function operatorFailureLimit(failuresPerMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: failuresPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) =>
      req.get('authorization') === undefined &&
      !(req.get('cookie') ?? '').includes(`${OPERATOR_COOKIE}=`) &&
      !(req.method === 'POST' && req.path === SESSION_PATH),
    // Only refusals count: a request is taken back off the count when it was not a 401 or 403.
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401 && res.statusCode !== 403,
    handler: (_req, _res, next) => {
      next(
        new ApiError(
          429,
          'rate_limited',
          'Too many wrong operator tokens from this address; wait a minute',
        ),
      );
    },
  });
}

/**
 * `/api/session`: the dashboard trades the operator token for an HttpOnly, SameSite=Strict cookie
 * (POST), asks whether it has one (GET), and signs out (DELETE).
 */
export function sessionRouter(token: string): Router {
  const matches = tokenMatcher(token);
  const router = Router();
  const cookie = (req: Request) => ({
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.secure,
    path: '/api',
  });
  // A guessing loop meets 429s long before it could matter (tokens have ≥ 16 characters).
  const attempts = rateLimit({
    windowMs: 60_000,
    limit: 20,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) => {
      next(new ApiError(429, 'rate_limited', 'Too many sign-in attempts; wait a minute'));
    },
  });
  function signIn(req: Request, res: Response): void {
    const { token: presented } = parseOr400(sessionRequest, req.body);
    if (!matches(presented)) {
      throw new ApiError(403, 'forbidden', 'The operator token is not valid');
    }
    res.cookie(OPERATOR_COOKIE, presented, { ...cookie(req), maxAge: SESSION_MAX_AGE_MS });
    res.json({ operator: true });
  }

  router
    .route(SESSION_PATH)
    .get((req, res) => {
      const presented = cookieToken(req);
      res.json({ operator: presented !== undefined && matches(presented) });
    })
    .post(attempts, jsonBody({ required: true }), signIn)
    .delete((req, res) => {
      res.clearCookie(OPERATOR_COOKIE, cookie(req));
      res.json({ operator: false });
    })
    .all(methodNotAllowed('GET', 'HEAD', 'POST', 'DELETE'));
  return router;
}
