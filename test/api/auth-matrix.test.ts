/**
 * Every operator-only endpoint against every wrong way of presenting the operator token, on both
 * databases. Each refusal is 401 or 403 in the API's error shape, or 431 from Node's HTTP parser
 * when the header block is over its 16 KiB limit (Express never sees that request). The action
 * must not have happened, as a user would check it. The right token then does it, so the matrix
 * fails if the guard stops working either way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LoadStatus } from '../../api/demo/load';
import type {
  ActionAcceptedResponse,
  FeatureListResponse,
  FeatureToggleResponse,
  OrderDetailResponse,
  OrderResponse,
  StatsResponse,
} from '../../api/schemas';
import type { FinanceModeSettings } from '../../domain/finance';
import { UPDATES, workflowIdForOrder } from '../../domain/temporal';
import { DATABASES } from '../support/database';
import type { TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import {
  AUTH,
  errorOf,
  OPERATOR_TOKEN,
  orderBody,
  startSystemWithApi,
  type Answer,
  type RunningApi,
} from './harness';

const TOKEN = OPERATOR_TOKEN;
/** The cookie `POST /api/session` sets (checked below), and the header that makes it count. */
const COOKIE = `operator_token=${encodeURIComponent(TOKEN)}`;
const DASHBOARD = { 'x-operator-session': '1' };
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

const UNAUTHORIZED = {
  error: {
    code: 'unauthorized',
    message: 'Operator actions need an "Authorization: Bearer <token>" header',
  },
};
const FORBIDDEN = { error: { code: 'forbidden', message: 'The operator token is not valid' } };

interface Credential {
  name: string;
  headers?: Record<string, string>;
  /** Appended to the path as the query string. */
  query?: string;
  /** Adds `token` to the request's JSON body. */
  inBody?: boolean;
  status: 401 | 403 | 431;
}

/**
 * What a client may get wrong. A trailing space after the whole header value cannot be sent:
 * HTTP strips it (RFC 9110 §5.5), so the trailing space is tried where it stays part of the
 * token, in the cookie (here) and in the sign-in body (below).
 */
const CREDENTIALS: Credential[] = [
  { name: 'no credentials', status: 401 },
  {
    name: 'a wrong bearer token',
    headers: { authorization: 'Bearer not-the-operator-token' },
    status: 403,
  },
  { name: 'the token as ?token=', query: `token=${TOKEN}`, status: 401 },
  { name: 'the token as ?access_token= (RFC 6750)', query: `access_token=${TOKEN}`, status: 401 },
  {
    name: 'the token in an X-Operator-Token header',
    headers: { 'x-operator-token': TOKEN },
    status: 401,
  },
  { name: 'the token in the JSON body', inBody: true, status: 401 },
  { name: 'Authorization: <token> without Bearer', headers: { authorization: TOKEN }, status: 401 },
  {
    name: 'the token under the Basic scheme',
    headers: { authorization: basic(`operator:${TOKEN}`) },
    status: 401,
  },
  {
    name: 'the token under a "Token" scheme',
    headers: { authorization: `Token ${TOKEN}` },
    status: 401,
  },
  { name: 'an empty bearer token', headers: { authorization: 'Bearer' }, status: 401 },
  {
    name: 'the session cookie without X-Operator-Session',
    headers: { cookie: COOKIE },
    status: 401,
  },
  {
    name: 'the session cookie with X-Operator-Session: true',
    headers: { cookie: COOKIE, 'x-operator-session': 'true' },
    status: 401,
  },
  {
    name: 'the token in a cookie of another name',
    headers: { cookie: `token=${encodeURIComponent(TOKEN)}`, ...DASHBOARD },
    status: 401,
  },
  {
    name: 'a forged session cookie',
    headers: { cookie: 'operator_token=not-the-operator-token', ...DASHBOARD },
    status: 403,
  },
  {
    name: 'the session cookie with a trailing space',
    headers: { cookie: `${COOKIE}%20`, ...DASHBOARD },
    status: 403,
  },
  {
    name: 'a prefix of the token',
    headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    status: 403,
  },
  {
    name: 'the token and one more character',
    headers: { authorization: `Bearer ${TOKEN}0` },
    status: 403,
  },
  {
    name: 'the token in upper case',
    headers: { authorization: `Bearer ${TOKEN.toUpperCase()}` },
    status: 403,
  },
  {
    name: 'the token followed by a space and more text',
    headers: { authorization: `Bearer ${TOKEN} ${TOKEN}` },
    status: 401,
  },
  {
    name: 'a 7 KiB bearer token that starts with the token',
    headers: { authorization: `Bearer ${TOKEN}${'x'.repeat(7 * 1024)}` },
    status: 403,
  },
  {
    name: 'a 64 KiB Authorization header that starts with the token',
    headers: { authorization: `Bearer ${TOKEN}${'x'.repeat(64 * 1024)}` },
    status: 431,
  },
];

/** Why `answer` is not the refusal `credential` must get, or null when it is exactly that. */
function refusalProblem(answer: Answer, credential: Credential): string | null {
  try {
    assert.equal(answer.status, credential.status, answer.text.slice(0, 300));
    assert.equal(answer.headers.get('set-cookie'), null, 'no cookie is set');
    if (credential.status === 431) {
      // Node's HTTP parser answers before Express runs: a bare status line, and the connection
      // is closed. No body, so nothing of the request can be echoed.
      assert.equal(answer.text, '');
      assert.equal(answer.headers.get('connection'), 'close');
      return null;
    }
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(answer.body, credential.status === 401 ? UNAUTHORIZED : FORBIDDEN);
    assert.equal(
      answer.headers.get('www-authenticate'),
      credential.status === 401 ? 'Bearer realm="orders"' : null,
    );
    return null;
  } catch (error) {
    return `${credential.name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

interface Endpoint {
  /** Method and route, as the report names it. */
  route: string;
  /** What the right token does, as a user would see it. */
  action: string;
  method: string;
  path: () => string;
  /** The right token's status. */
  accepted: 200 | 202;
  /** The body a genuine request carries. */
  json?: Record<string, unknown>;
  /** Puts the system where the action would show, before any request is made. */
  arrange?: () => Promise<void>;
  /** Asserts that the action did not happen (for the one read-only endpoint: nothing to do). */
  unchanged: () => Promise<void>;
  /** Asserts the right token's answer, and that the action happened. */
  control: (answer: Answer) => Promise<void>;
  cleanup?: () => Promise<void>;
}

void describe('operator authentication matrix', () => {
  const devServer = devServerForSuite();

  for (const target of DATABASES) {
    void describe(`every operator endpoint with ${target.name}`, () => {
      let system: TestSystem;
      let api: RunningApi;
      let stop: () => Promise<void>;

      before(async () => {
        ({ system, api, stop } = await startSystemWithApi(devServer(), await target.url(), {
          // The matrix presents hundreds of wrong tokens from one address on purpose; the
          // limit on them has its own test (test/api/auth-guessing.test.ts).
          OPERATOR_AUTH_FAILURES_PER_MINUTE: '100000',
        }));
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
        (await ok(api.call('GET', `/api/orders/${id}`))).body as OrderDetailResponse;
      const statusBecomes = (id: string, status: OrderResponse['status']) =>
        waitFor(
          `order ${id} to be ${status}`,
          () => detail(id),
          (order) => order.status === status,
          { timeoutMs: 30_000, everyMs: 200 },
        );
      /** Signals the order's workflow has received, from its history in Temporal. */
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
        (await ok(api.call('GET', '/api/admin/features', { headers: AUTH })))
          .body as FeatureListResponse;
      const orderCount = async () => {
        const stats = (await ok(api.call('GET', '/api/stats'))).body as StatsResponse;
        return Object.values(stats.byStatus.sql).reduce((sum, n) => sum + n, 0);
      };
      const financeMode = async () => {
        const response = await fetch(`${system.finance.url}/mode`);
        return ((await response.json()) as Required<FinanceModeSettings>).mode;
      };
      const load = async () => (await ok(api.call('GET', '/api/load'))).body as LoadStatus;
      /** A load slow enough to place one order in the test's lifetime (the first goes at once). */
      const SLOW_LOAD = { ratePerSecond: 0.01, durationSeconds: 600 };
      const startLoad = () =>
        ok(api.call('POST', '/api/scenarios/monitoring-load', { headers: AUTH, json: SLOW_LOAD }));
      const stopLoad = () => ok(api.call('DELETE', '/api/load', { headers: AUTH }));

      let cancelled = '';
      let retried = '';
      let ordersBefore = 0;
      const loadScenario = (name: 'monitoring-load' | 'system-monitoring'): Endpoint => ({
        route: `POST /api/scenarios/${name}`,
        action: 'starts the load generator',
        method: 'POST',
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
          const now = await load();
          assert.equal(now.running, true);
          assert.equal(now.scenario, name);
        },
        cleanup: async () => {
          await stopLoad();
        },
      });

      const ENDPOINTS: Endpoint[] = [
        {
          route: 'POST /api/orders/:id/cancel',
          action: 'cancels a failed order',
          method: 'POST',
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
          route: 'POST /api/orders/:id/retry',
          action: 'retries a failed order',
          method: 'POST',
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
        {
          route: 'PUT /api/admin/features/:name',
          action: 'flips a feature toggle',
          method: 'PUT',
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
            assert.equal(changes.length, 1);
          },
          cleanup: async () => {
            await ok(
              api.call('PUT', '/api/admin/features/NEW_VERIFICATION', {
                headers: AUTH,
                json: { enabled: false },
              }),
            );
          },
        },
        {
          route: 'GET /api/admin/features',
          action: 'lists the toggles and who changed them (read-only)',
          method: 'GET',
          path: () => '/api/admin/features',
          accepted: 200,
          // A read: a refusal carrying nothing but the error is checked with each answer.
          unchanged: () => Promise.resolve(),
          control: (answer) => {
            const body = answer.body as FeatureListResponse;
            assert.deepEqual(
              body.features.map((toggle) => toggle.name),
              ['NEW_VERIFICATION'],
            );
            return Promise.resolve();
          },
        },
        {
          route: 'POST /api/scenarios/broken-order',
          action: 'places an order',
          method: 'POST',
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
          route: 'POST /api/scenarios/queue-reliability',
          action: 'makes the finance package flaky',
          method: 'POST',
          path: () => '/api/scenarios/queue-reliability',
          accepted: 200,
          arrange: () => system.finance.reset(),
          unchanged: async () => {
            assert.equal(await financeMode(), 'normal');
          },
          control: async (answer) => {
            assert.equal((answer.body as { finance: FinanceModeSettings }).finance.mode, 'flaky');
            assert.equal(await financeMode(), 'flaky');
          },
          cleanup: () => system.finance.reset(),
        },
        loadScenario('monitoring-load'),
        loadScenario('system-monitoring'),
        {
          route: 'DELETE /api/load',
          action: 'stops the load generator',
          method: 'DELETE',
          path: () => '/api/load',
          accepted: 200,
          arrange: async () => {
            await startLoad();
          },
          unchanged: async () => {
            assert.equal((await load()).running, true);
          },
          control: async (answer) => {
            assert.equal((answer.body as LoadStatus).running, false);
            assert.equal((await load()).running, false);
          },
        },
        {
          route: 'POST /api/scenarios/reset',
          action: 'stops the load and sets finance back to normal',
          method: 'POST',
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
      ];

      const send = (endpoint: Endpoint, credential: Credential | null) => {
        const json =
          credential?.inBody === true ? { ...endpoint.json, token: TOKEN } : endpoint.json;
        const query = credential?.query ? `?${credential.query}` : '';
        return api.call(endpoint.method, `${endpoint.path()}${query}`, {
          headers: credential ? (credential.headers ?? {}) : AUTH,
          ...(json ? { json } : {}),
        });
      };

      for (const endpoint of ENDPOINTS) {
        // fetch sends no body with a GET: the body case applies to the others.
        const credentials = CREDENTIALS.filter((c) => !c.inBody || endpoint.method !== 'GET');
        void test(`${endpoint.route}: ${credentials.length} wrong credentials are refused and nothing happens; the right token ${endpoint.action}`, async () => {
          await endpoint.arrange?.();
          const problems: string[] = [];
          for (const credential of credentials) {
            const problem = refusalProblem(await send(endpoint, credential), credential);
            if (problem) problems.push(problem);
          }
          assert.deepEqual(problems, [], 'every refusal is exactly as expected');
          await endpoint.unchanged();

          const control = await send(endpoint, null);
          assert.equal(control.status, endpoint.accepted, control.text);
          await endpoint.control(control);
          await endpoint.cleanup?.();
        });
      }

      void test('the dashboard session, cookie and X-Operator-Session together, is accepted', async () => {
        const signIn = await ok(api.call('POST', '/api/session', { json: { token: TOKEN } }));
        const cookie = signIn.headers.get('set-cookie')?.split(';')[0];
        assert.equal(cookie, COOKIE, 'the cookie the refusals above were sent');
        const session = { cookie: COOKIE, ...DASHBOARD };
        const flipped = await ok(
          api.call('PUT', '/api/admin/features/NEW_VERIFICATION', {
            headers: session,
            json: { enabled: false },
          }),
        );
        assert.equal((flipped.body as FeatureToggleResponse).updatedBy, 'operator');
        await startLoad();
        await ok(api.call('DELETE', '/api/load', { headers: session }));
        assert.equal((await load()).running, false);
      });

      void test('signing in with a wrong, shortened, lengthened or space-padded token sets no cookie', async () => {
        const attempts: [string, unknown][] = [
          ['a wrong token', { token: 'not-the-operator-token' }],
          ['a prefix of the token', { token: TOKEN.slice(0, -1) }],
          ['the token and one more character', { token: `${TOKEN}0` }],
          ['the token with a trailing space', { token: `${TOKEN} ` }],
          ['the token with a leading space', { token: ` ${TOKEN}` }],
        ];
        for (const [name, json] of attempts) {
          const answer = await api.call('POST', '/api/session', { json });
          assert.equal(answer.status, 403, name);
          assert.deepEqual(answer.body, FORBIDDEN, name);
          assert.equal(answer.headers.get('set-cookie'), null, name);
        }
        // The bearer header is not a way to sign in: the body is what counts.
        const header = await api.call('POST', '/api/session', { headers: AUTH });
        assert.equal(header.status, 400);
        assert.equal(errorOf(header).code, 'missing_body');
        assert.equal(header.headers.get('set-cookie'), null);
      });

      void test('an operator route spelled in upper case or with a trailing slash is still guarded', async () => {
        const order = await failedOrder();
        await system.finance.reset();
        await startLoad();
        for (const [method, path] of [
          ['POST', `/API/ORDERS/${order}/CANCEL`],
          ['POST', `/api/orders/${order}/retry/`],
          ['PUT', '/api/admin/features/NEW_VERIFICATION/'],
          ['POST', '/API/Scenarios/queue-reliability'],
          ['DELETE', '/api/load/'],
        ] as const) {
          const answer = await api.call(method, path, { json: { enabled: true } });
          assert.equal(answer.status, 401, `${method} ${path}: ${answer.text}`);
          assert.deepEqual(answer.body, UNAUTHORIZED);
        }
        await stillFailed(order);
        assert.equal(await financeMode(), 'normal');
        assert.equal((await features()).features[0]?.enabled, false);
        assert.equal((await load()).running, true);
        await stopLoad();
      });
    });
  }
});
