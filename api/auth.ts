/**
 * Who is calling, and may they: credentials (API keys as `Authorization: Bearer ok_…`, the
 * dashboard's session cookie with its header, the Prometheus scrape token), one middleware per
 * kind of access in `access.ts`, and the failure limits that keep guessing slow without locking
 * anyone out. Routers never decide access themselves: they ask `guard(method, path)`, which reads
 * the route's entry in `ROUTE_ACCESS`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { User } from '../db/credentials';
import { ROUTE_ACCESS, STAFF_ROLES, type Access, type Method, type Role } from './access';
import { jsonBody } from './body';
import type { ApiDeps } from './deps';
import { ApiError, methodNotAllowed, parseOr400 } from './errors';
import { sessionRequest } from './schemas';

export const SESSION_PATH = '/api/session';
/** HttpOnly: the page's scripts never see the session id, so an injected script cannot read it. */
export const SESSION_COOKIE = 'orders_session';
/**
 * The cookie counts only on requests that also carry this header. SameSite=Strict keeps other
 * sites out, but a page on another port of the same host (the Temporal UI on 127.0.0.1:8233) is
 * the same site; a custom header makes its browser ask first (CORS preflight), which this API
 * never grants.
 */
export const SESSION_HEADER = 'x-operator-session';

/** Who made a request, once a guard let it through. */
export interface Actor {
  kind: 'user' | 'key' | 'scrape' | 'internal';
  /** `null` for the scrape token, which reads `/metrics` only. */
  role: Role | null;
  /** What audit rows and logs record: a username, or `key:<id>` (usernames never hold `:`). */
  label: string;
  /** What an order records as its placer; a client reads only the orders with its own. */
  placedBy: string;
}

const actors = new WeakMap<Request, Actor>();

/** The authenticated caller of a guarded route; the one place audits and logs take it from. */
export function actorOf(req: Request): Actor {
  const actor = actors.get(req);
  if (!actor) throw new Error(`no authenticated caller on ${req.method} ${req.path}`);
  return actor;
}

const staffRank = (role: Role): number => (STAFF_ROLES as readonly Role[]).indexOf(role);

/** Whether a role may do what `access` lists: a staff role admits the staff roles above it. */
export function admits(access: readonly Role[], role: Role | null): boolean {
  if (role === null) return false;
  if (access.includes(role)) return true;
  const rank = staffRank(role);
  return rank >= 0 && access.some((needed) => staffRank(needed) >= 0 && staffRank(needed) <= rank);
}

const WINDOW_MS = 60_000;
const USER_WINDOW_MS = 15 * 60_000;
/** An address a user signed in from stays "theirs" this long (in memory). */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600_000;
/** Bounds the memory an attacker can make the limits hold. */
const MAX_TRACKED = 100_000;

/** Failures per key in fixed windows, in memory: one API process (several each count their own). */
class FailureCounter {
  private readonly counts = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  over(key: string, now: number): boolean {
    const entry = this.counts.get(key);
    return entry !== undefined && entry.resetAt > now && entry.count >= this.limit;
  }

  /** Seconds until the window of `key` ends. */
  retryAfter(key: string, now: number): number {
    const entry = this.counts.get(key);
    return Math.max(1, Math.ceil(((entry?.resetAt ?? now) - now) / 1000));
  }

  fail(key: string, now: number): void {
    const entry = this.counts.get(key);
    if (entry && entry.resetAt > now) {
      entry.count += 1;
      return;
    }
    if (this.counts.size >= MAX_TRACKED) {
      for (const [k, e] of this.counts) if (e.resetAt <= now) this.counts.delete(k);
      if (this.counts.size >= MAX_TRACKED) this.counts.clear();
    }
    this.counts.set(key, { count: 1, resetAt: now + this.windowMs });
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Constant-time equality of two strings of any length (their digests are compared). */
function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, 'unauthorized', message, undefined, {
    'WWW-Authenticate': 'Bearer realm="orders"',
  });
}

function rateLimited(retryAfterSeconds: number, message: string): ApiError {
  return new ApiError(429, 'rate_limited', message, undefined, {
    'Retry-After': String(retryAfterSeconds),
  });
}

/** What a request presents: nothing, or one credential to check. */
type Presented =
  | { kind: 'none' }
  | { kind: 'bearer'; value: string }
  | { kind: 'malformed' }
  | { kind: 'session'; value: string };

/** The session cookie's value, if the request says it comes from the dashboard. */
function sessionCookie(req: Request, cookieAlone = false): string | undefined {
  if (!cookieAlone && req.get(SESSION_HEADER) !== '1') return undefined;
  for (const pair of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=');
    if (name !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return '';
    }
  }
  return undefined;
}

/**
 * Only two places count: the `Authorization` header (scheme `Bearer`, any case) and the session
 * cookie with its header. Never the query string, the body or another header.
 */
function presented(req: Request, cookieAlone: boolean): Presented {
  const header = req.get('authorization');
  if (header !== undefined) {
    const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    return token ? { kind: 'bearer', value: token } : { kind: 'malformed' };
  }
  const cookie = sessionCookie(req, cookieAlone);
  return cookie === undefined ? { kind: 'none' } : { kind: 'session', value: cookie };
}

const userActor = (user: User): Actor => ({
  kind: 'user',
  role: user.role,
  label: user.username,
  placedBy: `user:${user.username}`,
});

/** Access control of one API process. */
export interface Auth {
  /** The middleware of a route's entry in `ROUTE_ACCESS`; throws at start-up for a route without one. */
  guard(method: Method, path: string): RequestHandler;
  /** The middleware for one kind of access: one per role, `scrape` and `public`. */
  require(access: Access): RequestHandler;
  /** `/api/session`: sign in, ask, sign out. */
  sessionRouter(): Router;
  /** A client credential that lives only in this process, for the demo tools' own orders. */
  internalClientToken: string;
}

/** The API's access control, from its database and configuration. */
export function createAuth(deps: Pick<ApiDeps, 'db' | 'config' | 'log'>): Auth {
  const { db, config, log } = deps;
  const byAddress = new FailureCounter(config.AUTH_FAILURES_PER_ADDRESS_PER_MINUTE, WINDOW_MS);
  const byUser = new FailureCounter(config.SIGN_IN_FAILURES_PER_USER, USER_WINDOW_MS);
  const knownAddresses = new Map<string, Map<string, number>>();
  const internalClientToken = `internal_${randomBytes(32).toString('base64url')}`;
  const internalClient: Actor = {
    kind: 'internal',
    role: 'client',
    label: 'demo',
    placedBy: 'client:demo',
  };
  const addressOf = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  /** A failed check: counted against the address; once past the limit, the answer is 429. */
  function failed(req: Request, message: string): ApiError {
    const address = addressOf(req);
    const now = Date.now();
    const over = byAddress.over(address, now);
    byAddress.fail(address, now);
    log.warn('credential refused', { address, path: req.path, reason: message });
    if (over) {
      return rateLimited(
        byAddress.retryAfter(address, now),
        'Too many failed credential checks from this address; wait a minute',
      );
    }
    return unauthorized(message);
  }

  async function bearerActor(token: string): Promise<Actor | null> {
    if (sameSecret(token, internalClientToken)) return internalClient;
    if (config.METRICS_TOKEN && sameSecret(token, config.METRICS_TOKEN)) {
      return { kind: 'scrape', role: null, label: 'metrics', placedBy: 'metrics' };
    }
    const key = await db.credentials.checkKey(token);
    if (!key) return null;
    return {
      kind: 'key',
      role: key.role,
      label: `key:${key.id}`,
      placedBy: `client:${key.client}`,
    };
  }

  /** The caller, or an ApiError (401, or 429 once the address failed too often). */
  async function authenticate(req: Request, cookieAlone: boolean): Promise<Actor> {
    const credential = presented(req, cookieAlone);
    switch (credential.kind) {
      case 'none':
        throw unauthorized(
          'This needs a credential: "Authorization: Bearer <API key>", or the dashboard session',
        );
      case 'malformed':
        throw failed(req, 'The Authorization header must be "Bearer <API key>"');
      case 'bearer': {
        const actor = await bearerActor(credential.value);
        if (!actor) throw failed(req, 'The API key is not valid');
        return actor;
      }
      case 'session': {
        const user = credential.value ? await db.credentials.sessionUser(credential.value) : null;
        if (!user) throw failed(req, 'The session has ended: sign in again');
        return userActor(user);
      }
    }
  }

  function permitted(access: Exclude<Access, 'public'>, actor: Actor): boolean {
    if (access === 'scrape') return actor.kind === 'scrape' || admits(['viewer'], actor.role);
    return admits(access, actor.role);
  }

  const cache = new Map<string, RequestHandler>();
  function require(access: Access, cookieAlone = false): RequestHandler {
    const name = JSON.stringify([access, cookieAlone]);
    const cached = cache.get(name);
    if (cached) return cached;
    const middleware: RequestHandler =
      access === 'public'
        ? (_req, _res, next) => next()
        : async (req, _res, next) => {
            const actor = await authenticate(req, cookieAlone);
            if (!permitted(access, actor)) {
              throw new ApiError(
                403,
                'forbidden',
                `This needs the ${access === 'scrape' ? 'metrics token or viewer' : access.join(' or ')} role`,
              );
            }
            actors.set(req, actor);
            next();
          };
    cache.set(name, middleware);
    return middleware;
  }

  function guard(method: Method, path: string): RequestHandler {
    const entry = ROUTE_ACCESS.find((route) => route.method === method && route.path === path);
    if (!entry) throw new Error(`${method} ${path} has no entry in ROUTE_ACCESS (api/access.ts)`);
    return require(entry.access, entry.cookieAlone === true);
  }

  function knownAddress(username: string, address: string, now: number): boolean {
    const at = knownAddresses.get(username)?.get(address);
    return at !== undefined && now - at < KNOWN_ADDRESS_MS;
  }

  function remember(username: string, address: string, now: number): void {
    if (knownAddresses.size >= MAX_TRACKED) knownAddresses.clear();
    const addresses = knownAddresses.get(username) ?? new Map<string, number>();
    addresses.set(address, now);
    // The most recent few: a user rarely signs in from more places than this.
    if (addresses.size > 20) addresses.delete(addresses.keys().next().value as string);
    knownAddresses.set(username, addresses);
  }

  function sessionRouter(): Router {
    const router = Router();
    const cookie = (req: Request) => ({
      httpOnly: true,
      sameSite: 'strict' as const,
      secure: req.secure,
      path: '/api',
    });
    const who = (user: User) => ({ user: { username: user.username, role: user.role } });

    async function signIn(req: Request, res: Response): Promise<void> {
      const address = addressOf(req);
      const now = Date.now();
      // The password is the one guessable secret: from an address over its limit it is not even
      // checked, so the limit holds whatever the guesses are.
      if (byAddress.over(address, now)) {
        throw rateLimited(
          byAddress.retryAfter(address, now),
          'Too many failed credential checks from this address; wait a minute',
        );
      }
      const { username, password } = parseOr400(sessionRequest, req.body);
      const userKey = username.toLowerCase();
      if (byUser.over(userKey, now) && !knownAddress(userKey, address, now)) {
        throw rateLimited(
          byUser.retryAfter(userKey, now),
          'Too many wrong passwords for this user; sign in from an address you used before, or wait',
        );
      }
      const user = await db.credentials.checkPassword(username, password);
      if (!user) {
        byUser.fail(userKey, now);
        throw failed(req, 'The username or password is not right');
      }
      remember(userKey, address, now);
      const session = await db.credentials.startSession(user, config.SESSION_TTL);
      res.cookie(SESSION_COOKIE, session.id, { ...cookie(req), expires: session.expiresAt });
      log.info('signed in', { username: user.username, role: user.role });
      res.set('Cache-Control', 'no-store').json(who(user));
    }

    async function current(req: Request, res: Response): Promise<void> {
      const id = sessionCookie(req);
      const user = id ? await db.credentials.sessionUser(id) : null;
      // A cookie that is not a live session is a failed check, counted like any other: this
      // route must not become a free oracle for guessed session ids.
      if (id !== undefined && !user) throw failed(req, 'The session has ended: sign in again');
      res.set('Cache-Control', 'no-store').json(user ? who(user) : { user: null });
    }

    async function signOut(req: Request, res: Response): Promise<void> {
      const id = sessionCookie(req);
      if (id) await db.credentials.endSession(id);
      res.clearCookie(SESSION_COOKIE, cookie(req));
      res.json({ user: null });
    }

    router
      .route(SESSION_PATH)
      .get(guard('GET', SESSION_PATH), current)
      .post(guard('POST', SESSION_PATH), jsonBody({ required: true }), signIn)
      .delete(guard('DELETE', SESSION_PATH), signOut)
      .all(methodNotAllowed('GET', 'HEAD', 'POST', 'DELETE'));
    return router;
  }

  return { guard, require, sessionRouter, internalClientToken };
}

/**
 * `POST <base>/:id/<name>` for each name (an order's cancel and retry, a batch's pause, resume
 * and cancel): guarded by its access-map entry, with an optional JSON body.
 */
export function routeActions<T extends string>(
  router: Router,
  guard: Auth['guard'],
  base: string,
  names: readonly T[],
  handler: (name: T) => RequestHandler<{ id: string }>,
): void {
  for (const name of names) {
    const path = `${base}/:id/${name}`;
    router
      .route(path)
      .post(guard('POST', path), jsonBody({ required: false }), handler(name))
      .all(methodNotAllowed('POST'));
  }
}

/** The guard of the app these dependencies belong to (`createApiApp` sets `deps.auth`). */
export function guardOf(deps: Pick<ApiDeps, 'auth'>): Auth['guard'] {
  const { auth } = deps;
  if (!auth) throw new Error('the API dependencies carry no access control (createApiApp sets it)');
  return (method, path) => auth.guard(method, path);
}
