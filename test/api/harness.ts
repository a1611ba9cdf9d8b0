/**
 * The API in-process on a loopback port, spoken to over real HTTP as a client would, with one
 * credential per role made on its database (test/support/credentials.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ROUTE_ACCESS, STAFF_ROLES, type Role } from '../../api/access';
import { createApiApp, type ApiDeps } from '../../api/app';
import { startLauncher } from '../../api/launcher';
import { lazyTemporalClient } from '../../clients/temporal';
import type { Database } from '../../db';
import { loadConfig } from '../../domain/config';
import { createLogger } from '../../observability/logger';
import { credentialsForEveryRole, type TestCredential } from '../support/credentials';
import { startTestSystem, type TestSystem } from '../support/system';

export const JSON_TYPE = { 'content-type': 'application/json' };

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null when the body is empty or not JSON. */
  body: unknown;
  text: string;
}

export interface CallOptions {
  /** Sent as JSON with `content-type: application/json` unless `raw` is given. */
  json?: unknown;
  /** Sent as is: a string gets fetch's default `text/plain`, bytes get no content type. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  /**
   * Whose credential to present: a role, or `null` for none. Left out, and with no
   * `authorization` or `cookie` in `headers`, the call presents the least role the route's entry
   * in `ROUTE_ACCESS` admits (a client for placing orders), as that route's usual caller would.
   */
  as?: Role | null;
}

export interface RunningApi {
  url: string;
  deps: ApiDeps;
  /** One credential per role, on this API's database; `client` placed the orders `call` placed. */
  credentials: Record<Role, TestCredential>;
  /** Log lines the API wrote, parsed. */
  logs: Record<string, unknown>[];
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface ApiOptions {
  db: Database;
  temporal: Client;
  /** Environment variables for `loadConfig`, on top of the test defaults. */
  env?: Record<string, string>;
  /** Replaces parts of the dependencies (a broken repository, a hook). */
  override?: Partial<ApiDeps>;
  /** Runs the outbox launcher as the API process does; true unless a test drives it itself. */
  launcher?: boolean;
}

/** A Temporal client aimed at a loopback port nothing listens on: Temporal is "down". */
export function unreachableTemporal(): Client {
  return lazyTemporalClient({ TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: 'default' });
}

export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const config = loadConfig({
    TEMPORAL_TASK_QUEUE: `orders-${randomUUID()}`,
    // Failed orders fail fast: two attempts, one second of backoff.
    PAYMENT_MAX_ATTEMPTS: '2',
    // As under `npm start`: the scenario, load and system tests drive the demo tools.
    DEMO_SCENARIOS: 'on',
    ...options.env,
  });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const deps: ApiDeps = {
    db: options.db,
    temporal: options.temporal,
    config,
    log: createLogger({ service: 'api', destination, level: 'debug' }),
    ...options.override,
  };
  const launcher = options.launcher === false ? null : startLauncher(deps);
  if (launcher) deps.launcher = launcher;
  const server: Server = await new Promise((resolve) => {
    const listening = createApiApp(deps).listen(0, '127.0.0.1', () => resolve(listening));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const credentials = await credentialsForEveryRole(options.db);

  async function call(method: string, path: string, call: CallOptions = {}): Promise<Answer> {
    const json = call.json !== undefined;
    const presents = Object.keys(call.headers ?? {}).some((name) =>
      ['authorization', 'cookie'].includes(name.toLowerCase()),
    );
    const role = call.as === undefined ? (presents ? null : usualRole(method, path)) : call.as;
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(json ? JSON_TYPE : {}),
        ...(role ? credentials[role].headers : {}),
        ...call.headers,
      },
      body: json ? JSON.stringify(call.json) : (call.raw ?? null),
      // A redirect is an answer to see, not to follow.
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  return {
    url,
    deps,
    credentials,
    logs,
    call,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await launcher?.stop();
    },
  };
}

/** The route pattern of `path` as Express would match it, as a regular expression. */
function patternOf(route: string): RegExp {
  const escaped = route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`, 'i');
}

/** The least role a route admits: a client where clients may, else the lowest staff role. */
export function usualRole(method: string, path: string): Role | null {
  const bare = path.split('?')[0] ?? path;
  const verb = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  const entry = ROUTE_ACCESS.find(
    (route) => route.method === verb && patternOf(route.path).test(bare),
  );
  if (!entry || entry.access === 'public') return null;
  if (entry.access === 'scrape') return 'viewer';
  const access: readonly Role[] = entry.access;
  if (access.includes('client') && (verb === 'POST' || access.length === 1)) return 'client';
  return STAFF_ROLES.find((role) => access.includes(role)) ?? 'client';
}

/** A valid order body; override what the test is about. */
export function orderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    customerId: `cust-${randomUUID().slice(0, 8)}`,
    product: 'Widget',
    quantity: 2,
    unitPrice: '12.50',
    currency: 'GBP',
    datePlaced: '2026-01-15T09:00:00Z',
    ...overrides,
  };
}

/** The `error` object of an error answer, or a failed assertion's worth of context. */
export function errorOf(answer: Answer): {
  code: string;
  message: string;
  details?: { path: string; message: string }[];
} {
  const body = answer.body as {
    error?: { code: string; message: string; details?: { path: string; message: string }[] };
  } | null;
  if (!body?.error)
    throw new Error(`expected an error body, got ${answer.status} ${answer.text.slice(0, 300)}`);
  return body.error;
}

/**
 * The whole system for API tests: real workers, finance simulator and database (two payment
 * attempts, so failed orders fail fast), and the API in front of them on the same task queue.
 */
export async function startSystemWithApi(
  env: TestWorkflowEnvironment,
  databaseUrl: string,
  apiEnv: Record<string, string> = {},
): Promise<{ system: TestSystem; api: RunningApi; stop: () => Promise<void> }> {
  const system = await startTestSystem({ env, databaseUrl, settings: { maxPaymentAttempts: 2 } });
  const api = await startApi({
    db: system.db,
    temporal: env.client,
    env: { TEMPORAL_TASK_QUEUE: system.taskQueue, FINANCE_URL: system.finance.url, ...apiEnv },
  });
  return {
    system,
    api,
    stop: async () => {
      await api.close();
      await system.stop();
    },
  };
}
