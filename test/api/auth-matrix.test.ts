/**
 * Every route in `ROUTE_ACCESS` against every role and every wrong way of presenting a credential,
 * on both databases, against the real system (Temporal dev server, workers, finance simulator).
 * A refusal is exactly 401 (no valid credential), 403 (a valid one without the role) or 431 (a
 * header block over Node's limit, answered before Express runs), and what it would have done did
 * not happen, as a user would check it. The least role the route admits then does it, and every
 * other admitted role gets past the guard, so a guard that refused everything fails too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ROUTE_ACCESS, STAFF_ROLES, type Access, type Role } from '../../api/access';
import { admits, SESSION_COOKIE, SESSION_HEADER } from '../../api/auth';
import type { LoadStatus } from '../../api/demo/load';
import type {
  ActionAcceptedResponse,
  FeatureListResponse,
  FeatureToggleResponse,
  OrderDetailResponse,
  OrderResponse,
} from '../../api/schemas';
import type { FinanceModeSettings } from '../../domain/finance';
import { UPDATES, workflowIdForOrder } from '../../domain/temporal';
import {
  bearer,
  credentialFor,
  expireSession,
  sessionHeaders,
  type TestCredential,
} from '../support/credentials';
import { DATABASES } from '../support/database';
import type { TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import { errorOf, orderBody, startSystemWithApi, type Answer, type RunningApi } from './harness';

const METRICS_TOKEN = 'metrics-scrape-token-for-the-auth-matrix-0123';
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

/** One way of presenting (or not) a credential, and what it is worth. */
interface Presentation {
  name: string;
  headers?: Record<string, string>;
  query?: string;
  /** Adds these fields to the JSON body. */
  body?: Record<string, string>;
  /** A valid credential with this role; absent: no valid credential at all. */
  role?: Role | 'scrape';
  /** Refused before Express runs. */
  tooLarge?: true;
}

interface Endpoint {
  /** The `ROUTE_ACCESS` entry this exercises. */
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  route: string;
  /** What the least admitted role does, as the report says it. */
  action: string;
  path: () => string;
  accepted: number;
  json?: Record<string, unknown>;
  /** Puts the system where the action would show. */
  arrange?: () => Promise<void>;
  /** The action did not happen (reads: nothing to check beyond the refusal's body). */
  unchanged?: () => Promise<void>;
  /** The accepted answer, and that the action happened. */
  control?: (answer: Answer) => Promise<void>;
  cleanup?: () => Promise<void>;
}

const accessOf = (method: string, route: string): Access => {
  const entry = ROUTE_ACCESS.find((r) => r.method === method && r.path === route);
  assert.ok(entry, `${method} ${route} is in ROUTE_ACCESS`);
  return entry.access;
};

const admitted = (access: Access, role: Presentation['role']): boolean => {
  if (access === 'public') return true;
  if (role === undefined) return false;
  if (access === 'scrape') return role === 'scrape' || admits(['viewer'], role);
  return role !== 'scrape' && admits(access, role);
};

/** The least role of each kind a route admits: the one whose request really does the action. */
function leastRole(access: Access): Presentation['role'] | undefined {
  if (access === 'public') return undefined;
  if (access === 'scrape') return 'scrape';
  if (access.includes('client')) return 'client';
  return STAFF_ROLES.find((role) => admits(access, role));
}

void describe('authentication and access matrix', () => {
  const devServer = devServerForSuite();

  for (const target of DATABASES) {
    void describe(`every route × every role and credential with ${target.name}`, () => {
      let system: TestSystem;
      let api: RunningApi;
      let stop: () => Promise<void>;
      let presentations: Presentation[] = [];
      let client: TestCredential;

      before(async () => {
        ({ system, api, stop } = await startSystemWithApi(devServer(), await target.url(), {
          METRICS_TOKEN,
          // Hundreds of refusals from one address on purpose; the limits have their own test.
          AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: '100000',
        }));
        const { db } = system;
        client = api.credentials.client;
        const key = client.key ?? '';
        const revokedKey = await credentialFor(db, 'client');
        await db.credentials.revokeKey(revokedKey.keyId ?? '');
        const revokedUser = await credentialFor(db, 'admin');
        await db.credentials.revokeUser(revokedUser.username ?? '');
        const expired = await credentialFor(db, 'admin');
        await expireSession(db, expired.sessionId ?? '');
        const signedOut = await credentialFor(db, 'admin');
        await db.credentials.endSession(signedOut.sessionId ?? '');
        const session = api.credentials.admin.sessionId ?? '';
        const cookie = `${SESSION_COOKIE}=${session}`;
        presentations = [
          { name: 'no credential' },
          { name: 'a client API key', headers: client.headers, role: 'client' },
          { name: 'a viewer session', headers: api.credentials.viewer.headers, role: 'viewer' },
          {
            name: 'an operator session',
            headers: api.credentials.operator.headers,
            role: 'operator',
          },
          { name: 'an admin session', headers: api.credentials.admin.headers, role: 'admin' },
          { name: 'the metrics scrape token', headers: bearer(METRICS_TOKEN), role: 'scrape' },
          { name: 'a revoked API key', headers: revokedKey.headers },
          { name: "a revoked admin's session", headers: revokedUser.headers },
          { name: 'an expired admin session', headers: expired.headers },
          { name: 'a signed-out admin session', headers: signedOut.headers },
          { name: 'the admin session cookie without its header', headers: { cookie } },
          {
            name: 'the admin session cookie with the header set to "true"',
            headers: { cookie, [SESSION_HEADER]: 'true' },
          },
          {
            name: 'the admin session id in a cookie of another name',
            headers: { cookie: `session=${session}`, [SESSION_HEADER]: '1' },
          },
          { name: 'the admin session id as a bearer token', headers: bearer(session) },
          { name: 'a forged session cookie', headers: sessionHeaders('x'.repeat(43)) },
          { name: 'the client key as ?token=', query: `token=${key}` },
          { name: 'the client key as ?access_token=', query: `access_token=${key}` },
          { name: 'the client key in the JSON body', body: { token: key, apiKey: key } },
          { name: 'the client key in an X-Api-Key header', headers: { 'x-api-key': key } },
          { name: 'the client key without a scheme', headers: { authorization: key } },
          { name: 'the client key under Basic', headers: { authorization: basic(`c:${key}`) } },
          { name: 'the client key under "Token"', headers: { authorization: `Token ${key}` } },
          { name: 'an empty bearer token', headers: { authorization: 'Bearer' } },
          { name: 'the client key and more text', headers: bearer(`${key} ${key}`) },
          { name: 'a prefix of the client key', headers: bearer(key.slice(0, -1)) },
          { name: 'the client key and one more character', headers: bearer(`${key}0`) },
          { name: 'the client key in upper case', headers: bearer(key.toUpperCase()) },
          {
            name: 'the key id with a made-up secret',
            headers: bearer(`${key.slice(0, 20)}${'A'.repeat(43)}`),
          },
          {
            name: 'a 64 KiB Authorization header that starts with the client key',
            headers: bearer(`${key}${'x'.repeat(64 * 1024)}`),
            tooLarge: true,
          },
        ];
      });
      after(async () => {
        await stop?.();
      });

      const ok = async (answer: Promise<Answer>, status = 200): Promise<Answer> => {
        const settled = await answer;
        assert.equal(settled.status, status, settled.text);
        return settled;
      };
      const detail = async (id: string) =>
        (await ok(api.call('GET', `/api/orders/${id}`, { as: 'viewer' })))
          .body as OrderDetailResponse;
      const statusBecomes = (id: string, status: OrderResponse['status']) =>
        waitFor(
          `order ${id} to be ${status}`,
          () => detail(id),
          (order) => order.status === status,
          { timeoutMs: 30_000, everyMs: 200 },
        );
      /** The signals and accepted updates in the order's workflow history, by name. */
      const actions = async (id: string): Promise<string[]> => {
        const history = await devServer()
          .client.workflow.getHandle(workflowIdForOrder(id))
          .fetchHistory();
        return (history.events ?? []).flatMap((event) => {
          const name =
            event.workflowExecutionSignaledEventAttributes?.signalName ??
            event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
          return name ? [name] : [];
        });
      };
      const failedOrder = async (): Promise<string> => {
        await system.finance.setMode({ mode: 'down' });
        const placed = await ok(api.call('POST', '/api/orders', { json: orderBody() }), 201);
        const { id } = placed.body as OrderResponse;
        await statusBecomes(id, 'failed');
        return id;
      };
      /** A failed order that still waits for an operator, untouched by anyone. */
      const stillFailed = async (id: string) => {
        const order = await detail(id);
        assert.equal(order.status, 'failed');
        assert.ok(!('error' in order.temporal), JSON.stringify(order.temporal));
        assert.equal(order.temporal.executionStatus, 'RUNNING');
        assert.deepEqual(await actions(id), []);
      };
      const features = async () =>
        (await ok(api.call('GET', '/api/admin/features', { as: 'admin' })))
          .body as FeatureListResponse;
      const orderCount = async () => (await system.db.orders.list({ limit: 10_000 })).length;
      const financeMode = async () => {
        const response = await fetch(`${system.finance.url}/mode`);
        return ((await response.json()) as Required<FinanceModeSettings>).mode;
      };
      const load = async () =>
        (await ok(api.call('GET', '/api/load', { as: 'viewer' }))).body as LoadStatus;
      /** A load slow enough to place one order in the test's lifetime (the first goes at once). */
      const SLOW_LOAD = { ratePerSecond: 0.01, durationSeconds: 600 };
      const startLoad = () =>
        ok(api.call('POST', '/api/scenarios/monitoring-load', { as: 'operator', json: SLOW_LOAD }));
      const stopLoad = () => ok(api.call('DELETE', '/api/load', { as: 'operator' }));

      let cancelled = '';
      let retried = '';
      let ownOrder = '';
      let ordersBefore = 0;
      const loadScenario = (name: 'monitoring-load' | 'system-monitoring'): Endpoint => ({
        method: 'POST',
        route: '/api/scenarios/:name',
        action: `starts the load generator (${name})`,
        path: () => `/api/scenarios/${name}`,
        accepted: 200,
        json: SLOW_LOAD,
        arrange: async () => {
          assert.equal((await load()).running, false);
        },
        unchanged: async () => {
          assert.equal((await load()).running, false);
        },
        control: async (answer) => {
          assert.equal((answer.body as { load: LoadStatus }).load.running, true);
          assert.equal((await load()).scenario, name);
          await stopLoad();
        },
        cleanup: async () => {
          await stopLoad();
        },
      });
      const read = (route: string, path = route, accepted = 200): Endpoint => ({
        method: 'GET',
        route,
        action: 'reads',
        path: () => path,
        accepted,
      });

      const ENDPOINTS: Endpoint[] = [
        read('/healthz'),
        read('/readyz'),
        read('/api/openapi.json'),
        read('/vendor/uplot/uPlot.iife.min.js'),
        read('/vendor/uplot/uPlot.min.css'),
        read('/orders/:id/temporal', '/orders/some-order/temporal', 302),
        {
          ...read('/metrics'),
          action: 'reads the Prometheus metrics',
          control: async (answer) => {
            assert.match(answer.text, /^# HELP /m);
            return Promise.resolve();
          },
        },
        {
          method: 'POST',
          route: '/api/orders',
          action: 'places an order',
          path: () => '/api/orders',
          accepted: 201,
          json: orderBody({ customerId: 'matrix-customer' }),
          arrange: async () => {
            await system.finance.reset();
            ordersBefore = await orderCount();
          },
          unchanged: async () => {
            assert.equal(await orderCount(), ordersBefore);
          },
          control: async (answer) => {
            const order = answer.body as OrderResponse;
            assert.equal(await orderCount(), ordersBefore + 1);
            assert.equal((await system.db.orders.get(order.id))?.placedBy, client.placedBy);
          },
        },
        {
          ...read('/api/orders'),
          action: "lists the client's own orders",
          control: async (answer) => {
            const { orders } = answer.body as { orders: OrderResponse[] };
            assert.ok(orders.length > 0);
            return Promise.resolve();
          },
        },
        {
          method: 'GET',
          route: '/api/orders/:id',
          action: "reads the client's own order",
          path: () => `/api/orders/${ownOrder}`,
          accepted: 200,
          arrange: async () => {
            await system.finance.reset();
            const placed = await ok(api.call('POST', '/api/orders', { json: orderBody() }), 201);
            ownOrder = (placed.body as OrderResponse).id;
          },
          control: async (answer) => {
            assert.equal((answer.body as OrderResponse).id, ownOrder);
            return Promise.resolve();
          },
        },
        {
          method: 'POST',
          route: '/api/orders/:id/cancel',
          action: 'cancels a failed order',
          path: () => `/api/orders/${cancelled}/cancel`,
          accepted: 202,
          json: { reason: 'auth matrix' },
          arrange: async () => {
            cancelled = await failedOrder();
            // The cancel is settled with the finance package (nothing to refund): it must answer.
            await system.finance.reset();
          },
          unchanged: () => stillFailed(cancelled),
          control: async (answer) => {
            assert.equal((answer.body as ActionAcceptedResponse).action, 'cancel');
            await statusBecomes(cancelled, 'cancelled');
            assert.deepEqual(await actions(cancelled), [UPDATES.cancel]);
          },
        },
        {
          method: 'POST',
          route: '/api/orders/:id/retry',
          action: 'retries a failed order',
          path: () => `/api/orders/${retried}/retry`,
          accepted: 202,
          arrange: async () => {
            retried = await failedOrder();
            // Finance recovers now: only a retry that gets through can process the order.
            await system.finance.reset();
          },
          unchanged: () => stillFailed(retried),
          control: async (answer) => {
            assert.equal((answer.body as ActionAcceptedResponse).action, 'retry');
            await statusBecomes(retried, 'processed');
            assert.deepEqual(await actions(retried), [UPDATES.retry]);
          },
        },
        read('/api/stats'),
        read('/api/system'),
        {
          ...read('/api/admin/features'),
          action: 'lists the toggles and who changed them',
        },
        {
          method: 'PUT',
          route: '/api/admin/features/:name',
          action: 'flips a feature toggle, recorded under the admin who did it',
          path: () => '/api/admin/features/NEW_VERIFICATION',
          accepted: 200,
          json: { enabled: true },
          unchanged: async () => {
            const { features: toggles, changes } = await features();
            assert.deepEqual(
              toggles.map((toggle) => [toggle.name, toggle.enabled]),
              [['NEW_VERIFICATION', false]],
            );
            assert.deepEqual(changes, []);
          },
          control: async (answer) => {
            assert.equal((answer.body as FeatureToggleResponse).enabled, true);
            const { features: toggles, changes } = await features();
            assert.equal(toggles[0]?.enabled, true);
            assert.deepEqual(
              changes.map((change) => change.changedBy),
              [api.credentials.admin.label],
            );
          },
        },
        {
          method: 'POST',
          route: '/api/scenarios/:name',
          action: 'places a broken order',
          path: () => '/api/scenarios/broken-order',
          accepted: 200,
          arrange: async () => {
            ordersBefore = await orderCount();
          },
          unchanged: async () => {
            assert.equal(await orderCount(), ordersBefore);
          },
          control: async (answer) => {
            const { order } = answer.body as { order: OrderResponse };
            assert.equal(order.datePlaced, '3000-01-01T00:00:00.000Z');
            assert.equal(await orderCount(), ordersBefore + 1);
          },
        },
        {
          method: 'POST',
          route: '/api/scenarios/:name',
          action: 'makes the finance package flaky',
          path: () => '/api/scenarios/queue-reliability',
          accepted: 200,
          arrange: () => system.finance.reset(),
          unchanged: async () => {
            assert.equal(await financeMode(), 'normal');
          },
          control: async () => {
            assert.equal(await financeMode(), 'flaky');
          },
          cleanup: () => system.finance.reset(),
        },
        loadScenario('monitoring-load'),
        loadScenario('system-monitoring'),
        {
          method: 'POST',
          route: '/api/scenarios/:name',
          action: 'stops the load and sets finance back to normal',
          path: () => '/api/scenarios/reset',
          accepted: 200,
          arrange: async () => {
            await startLoad();
            await system.finance.setMode({ mode: 'down' });
          },
          unchanged: async () => {
            assert.equal((await load()).running, true);
            assert.equal(await financeMode(), 'down');
          },
          control: async () => {
            assert.equal((await load()).running, false);
            assert.equal(await financeMode(), 'normal');
          },
        },
        { ...read('/api/load'), action: 'reads the load generator' },
        {
          method: 'DELETE',
          route: '/api/load',
          action: 'stops the load generator',
          path: () => '/api/load',
          accepted: 200,
          arrange: async () => {
            await startLoad();
          },
          unchanged: async () => {
            assert.equal((await load()).running, true);
          },
          control: async () => {
            assert.equal((await load()).running, false);
          },
          cleanup: async () => {
            await stopLoad();
          },
        },
      ];

      const send = (endpoint: Endpoint, presentation: Presentation) => {
        const json = endpoint.json ?? (presentation.body ? {} : undefined);
        const query = presentation.query ? `?${presentation.query}` : '';
        return api.call(endpoint.method, `${endpoint.path()}${query}`, {
          as: null,
          headers: presentation.headers ?? {},
          ...(json ? { json: { ...json, ...presentation.body } } : {}),
        });
      };

      /** Why `answer` is not what `presentation` must get, or null when it is exactly that. */
      function problemOf(endpoint: Endpoint, presentation: Presentation, answer: Answer) {
        const access = accessOf(endpoint.method, endpoint.route);
        const what = `${presentation.name}: ${answer.status} ${answer.text.slice(0, 200)}`;
        if (presentation.tooLarge) {
          // Node's parser answers before Express: a bare status line, the connection closed.
          return answer.status === 431 && answer.text === '' ? null : what;
        }
        if (admitted(access, presentation.role)) return null; // checked by the control below
        if (answer.headers.get('set-cookie') !== null) return `${what} (sets a cookie)`;
        if (!/^application\/json/.test(answer.headers.get('content-type') ?? '')) return what;
        const body = answer.body as { error?: Record<string, unknown> } | null;
        if (Object.keys(body ?? {}).join() !== 'error') return `${what} (not just the error)`;
        const expected = presentation.role === undefined ? 401 : 403;
        if (answer.status !== expected) return `${what} (expected ${expected})`;
        const code = errorOf(answer).code;
        if (code !== (expected === 401 ? 'unauthorized' : 'forbidden')) return what;
        const challenge = answer.headers.get('www-authenticate');
        if ((expected === 401) !== (challenge === 'Bearer realm="orders"')) {
          return `${what} (WWW-Authenticate: ${challenge})`;
        }
        return null;
      }

      for (const endpoint of ENDPOINTS) {
        const access = accessOf(endpoint.method, endpoint.route);
        const who = typeof access === 'string' ? access : access.join('/');
        void test(`${endpoint.method} ${endpoint.route} (${who}): refusals are exact and change nothing; its least role ${endpoint.action}; every other admitted role gets past the guard`, async () => {
          await endpoint.arrange?.();
          const problems: string[] = [];
          const refused = presentations.filter(
            (p) =>
              (p.tooLarge === true || !admitted(access, p.role)) &&
              !(p.body && endpoint.method === 'GET'),
          );
          for (const presentation of refused) {
            const problem = problemOf(endpoint, presentation, await send(endpoint, presentation));
            if (problem) problems.push(problem);
          }
          assert.deepEqual(problems, [], 'every refusal is exactly as expected');
          await endpoint.unchanged?.();

          const least = leastRole(access);
          const first = presentations.find((p) => p.role === least && !p.query && !p.body);
          assert.ok(first, `a presentation for ${String(least)}`);
          const control = await send(endpoint, first);
          assert.equal(control.status, endpoint.accepted, `${first.name}: ${control.text}`);
          await endpoint.control?.(control);
          for (const other of presentations.filter(
            (p) => p !== first && admitted(access, p.role),
          )) {
            if (other.tooLarge || other.query || other.body) continue;
            const answer = await send(endpoint, other);
            assert.ok(
              ![401, 403].includes(answer.status),
              `${other.name} is admitted: ${answer.status} ${answer.text.slice(0, 200)}`,
            );
          }
          await endpoint.cleanup?.();
        });
      }

      void test('a client reads only the orders it placed: another client gets 404 and an empty list', async () => {
        const other = await credentialFor(system.db, 'client');
        const placed = await ok(
          api.call('POST', '/api/orders', { json: orderBody(), headers: other.headers, as: null }),
          201,
        );
        const { id, customerId } = placed.body as OrderResponse;
        const theirs = await api.call('GET', `/api/orders/${id}`, { as: 'client' });
        assert.equal(theirs.status, 404, theirs.text);
        assert.equal(errorOf(theirs).code, 'order_not_found');
        const list = await ok(
          api.call('GET', `/api/orders?customerId=${customerId}`, { as: 'client' }),
        );
        assert.deepEqual((list.body as { orders: unknown[] }).orders, []);
        const all = await ok(api.call('GET', '/api/orders?limit=200', { as: 'client' }));
        const ids = (all.body as { orders: OrderResponse[] }).orders.map((order) => order.id);
        assert.ok(!ids.includes(id));
        const own = await ok(
          api.call('GET', `/api/orders/${id}`, { headers: other.headers, as: null }),
        );
        assert.equal((own.body as OrderResponse).id, id);
        const staff = await ok(api.call('GET', `/api/orders/${id}`, { as: 'viewer' }));
        assert.equal((staff.body as OrderResponse).id, id);
        // Its Idempotency-Key names nothing to another client: a new key is asked for.
        const key = 'matrix-key-0001';
        await ok(
          api.call('POST', '/api/orders', {
            json: orderBody(),
            headers: { ...other.headers, 'idempotency-key': key },
            as: null,
          }),
          201,
        );
        const reused = await api.call('POST', '/api/orders', {
          json: orderBody(),
          headers: { 'idempotency-key': key },
          as: 'client',
        });
        assert.equal(reused.status, 409, reused.text);
        assert.doesNotMatch(reused.text, new RegExp(id));
      });

      void test('signing in: a wrong or padded password sets no cookie; the right one starts a session that sign-out ends everywhere', async () => {
        const user = await credentialFor(system.db, 'operator');
        const password = user.password ?? '';
        for (const [name, json] of [
          ['a wrong password', { username: user.username, password: 'not-the-password' }],
          [
            'the password and one more character',
            { username: user.username, password: `${password}0` },
          ],
          [
            'a prefix of the password',
            { username: user.username, password: password.slice(0, -1) },
          ],
          [
            'the password with a trailing space',
            { username: user.username, password: `${password} ` },
          ],
          ['an unknown user', { username: 'nobody-here', password }],
          ['the username in upper case', { username: user.username?.toUpperCase(), password }],
        ] as const) {
          const answer = await api.call('POST', '/api/session', { json, as: null });
          assert.equal(answer.status, 401, `${name}: ${answer.text}`);
          assert.equal(errorOf(answer).code, 'unauthorized', name);
          assert.equal(answer.headers.get('set-cookie'), null, name);
        }
        const signIn = await ok(
          api.call('POST', '/api/session', {
            json: { username: user.username, password },
            as: null,
          }),
        );
        assert.deepEqual(signIn.body, { user: { username: user.username, role: 'operator' } });
        const setCookie = signIn.headers.get('set-cookie') ?? '';
        assert.match(setCookie, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43};`));
        assert.match(setCookie, /; HttpOnly/);
        assert.match(setCookie, /; SameSite=Strict/);
        assert.match(setCookie, /; Path=\/api/);
        assert.doesNotMatch(setCookie, /; Secure/, 'plain HTTP: no Secure');
        const id = /=([^;]+)/.exec(setCookie)?.[1] ?? '';
        const session = sessionHeaders(id);
        const asked = await ok(api.call('GET', '/api/session', { headers: session, as: null }));
        assert.deepEqual(asked.body, { user: { username: user.username, role: 'operator' } });
        await ok(api.call('GET', '/api/stats', { headers: session, as: null }));
        const out = await ok(api.call('DELETE', '/api/session', { headers: session, as: null }));
        assert.match(out.headers.get('set-cookie') ?? '', new RegExp(`^${SESSION_COOKIE}=;`));
        // A copy of the cookie kept by anyone stops working too.
        const after = await api.call('GET', '/api/stats', { headers: session, as: null });
        assert.equal(after.status, 401);
        const again = await api.call('GET', '/api/session', { headers: session, as: null });
        assert.equal(again.status, 401, 'a dead session is a failed check, not "signed out"');
        const none = await ok(api.call('GET', '/api/session', { as: null }));
        assert.deepEqual(none.body, { user: null });
      });

      void test('revoking a user ends their live session at once; revoking a key stops it at once', async () => {
        const user = await credentialFor(system.db, 'admin');
        await ok(api.call('GET', '/api/admin/features', { headers: user.headers, as: null }));
        await system.db.credentials.revokeUser(user.username ?? '');
        const refused = await api.call('GET', '/api/admin/features', {
          headers: user.headers,
          as: null,
        });
        assert.equal(refused.status, 401, refused.text);
        const signIn = await api.call('POST', '/api/session', {
          json: { username: user.username, password: user.password },
          as: null,
        });
        assert.equal(signIn.status, 401, 'a revoked user cannot sign in again');
        const key = await credentialFor(system.db, 'client');
        await ok(api.call('GET', '/api/orders', { headers: key.headers, as: null }));
        await system.db.credentials.revokeKey(key.keyId ?? '');
        const gone = await api.call('GET', '/api/orders', { headers: key.headers, as: null });
        assert.equal(gone.status, 401, gone.text);
      });

      void test('a guarded route spelled in upper case or with a trailing slash is still guarded', async () => {
        const order = await failedOrder();
        await system.finance.reset();
        for (const [method, path] of [
          ['POST', `/API/ORDERS/${order}/CANCEL`],
          ['POST', `/api/orders/${order}/retry/`],
          ['PUT', '/api/admin/features/NEW_VERIFICATION/'],
          ['POST', '/API/Scenarios/queue-reliability'],
          ['GET', '/API/STATS'],
          ['GET', '/api/orders/'],
          ['GET', '/METRICS'],
        ] as const) {
          const answer = await api.call(method, path, {
            json: method === 'GET' ? undefined : { enabled: true },
            as: null,
          });
          assert.equal(answer.status, 401, `${method} ${path}: ${answer.text}`);
          const viewer = await api.call(method, path, {
            json: method === 'GET' ? undefined : { enabled: true },
            as: 'viewer',
          });
          assert.ok(
            [200, 403].includes(viewer.status),
            `${method} ${path} as viewer: ${viewer.text}`,
          );
        }
        await stillFailed(order);
        assert.equal(await financeMode(), 'normal');
        assert.equal((await features()).features[0]?.enabled, true, 'as the toggle test left it');
      });
    });
  }
});
