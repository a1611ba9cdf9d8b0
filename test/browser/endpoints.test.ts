/**
 * The endpoints behind the dashboard, over HTTP without a browser: the session cookie's rules, and the scenarios being operator-only, bounded, reversible and safe twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { LoadStatus } from '../../api/demo/load';
import type { OrderResponse } from '../../api/schemas';
import { SESSION_COOKIE } from '../../api/auth';
import { errorOf, startApi, type RunningApi } from '../api/harness';
import { bearer } from '../support/credentials';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

const DASHBOARD = { 'x-operator-session': '1' };

void describe('dashboard endpoints', () => {
  let env: TestWorkflowEnvironment;
  let system: TestSystem;
  let api: RunningApi;

  before(async () => {
    env = await createDevServerEnv();
    system = await startTestSystem({ env, databaseUrl: freshSqliteUrl() });
    api = await startApi({
      db: system.db,
      temporal: env.client,
      env: {
        TEMPORAL_TASK_QUEUE: system.taskQueue,
        FINANCE_URL: system.finance.url,
        LOAD_MAX_RATE_PER_SECOND: '4',
      },
    });
  });
  after(async () => {
    await api?.close();
    await system?.stop();
    await env?.teardown();
  });

  const loadStatus = async () => (await api.call('GET', '/api/load')).body as LoadStatus;

  void test('a username and password are traded once for an opaque HttpOnly SameSite=Strict session cookie; signing out ends it', async () => {
    const user = api.credentials.operator;
    assert.deepEqual((await api.call('GET', '/api/session', { as: null })).body, { user: null });
    const wrong = await api.call('POST', '/api/session', {
      json: { username: user.username, password: 'not-the-password' },
      as: null,
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);

    const signed = await api.call('POST', '/api/session', {
      json: { username: user.username, password: user.password },
      as: null,
    });
    assert.equal(signed.status, 200, signed.text);
    const cookie = signed.headers.get('set-cookie') ?? '';
    assert.match(
      cookie,
      new RegExp(
        `^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/api; Expires=[^;]+; HttpOnly; SameSite=Strict$`,
      ),
    );
    const session = { cookie: cookie.split(';')[0] ?? '', ...DASHBOARD };
    assert.deepEqual((await api.call('GET', '/api/session', { headers: session })).body, {
      user: { username: user.username, role: 'operator' },
    });

    const out = await api.call('DELETE', '/api/session', { headers: session });
    assert.match(
      out.headers.get('set-cookie') ?? '',
      new RegExp(`^${SESSION_COOKIE}=; Path=/api; Expires=Thu, 01 Jan 1970`),
    );
    assert.equal((await api.call('GET', '/api/stats', { headers: session })).status, 401);
  });

  void test('the cookie counts only with the dashboard header; a staff API key works as a bearer', async () => {
    const id = api.credentials.operator.sessionId ?? '';
    const cookie = `${SESSION_COOKIE}=${id}`;
    // Another page of the same site (e.g. another port on this host) cannot add the header
    // without a CORS preflight, which the API never grants.
    const bare = await api.call('DELETE', '/api/load', { headers: { cookie } });
    assert.equal(bare.status, 401);
    assert.equal(errorOf(bare).code, 'unauthorized');
    const forged = await api.call('DELETE', '/api/load', {
      headers: { cookie: `${SESSION_COOKIE}=${'g'.repeat(43)}`, ...DASHBOARD },
    });
    assert.equal(forged.status, 401);
    assert.equal(
      (await api.call('DELETE', '/api/load', { headers: { cookie, ...DASHBOARD } })).status,
      200,
    );
    const { secret } = await system.db.credentials.addKey('ops-script', 'operator');
    assert.equal((await api.call('DELETE', '/api/load', { headers: bearer(secret) })).status, 200);
  });

  void test('scenarios are operator-only and named; a load above the ceiling is refused', async () => {
    assert.equal((await api.call('POST', '/api/scenarios/reset', { as: null })).status, 401);
    assert.equal((await api.call('POST', '/api/scenarios/reset', { as: 'viewer' })).status, 403);
    const unknown = await api.call('POST', '/api/scenarios/drop-tables');
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown).code, 'scenario_not_found');
    const tooFast = await api.call('POST', '/api/scenarios/monitoring-load', {
      json: { ratePerSecond: 50 },
    });
    assert.equal(tooFast.status, 400);
    assert.equal(errorOf(tooFast).details?.[0]?.path, 'ratePerSecond');
    assert.equal((await loadStatus()).running, false);
  });

  void test('"Add broken order" places an order through the API that fails for good', async () => {
    const answer = await api.call('POST', '/api/scenarios/broken-order');
    assert.equal(answer.status, 200, answer.text);
    const { order } = answer.body as { order: OrderResponse };
    assert.equal(order.datePlaced, '3000-01-01T00:00:00.000Z');
    await waitFor(
      'the broken order to fail',
      () => system.db.orders.get(order.id),
      (row) => row?.status === 'failed',
    );
  });

  void test('a load started twice runs once; it places orders, and "Reset" twice stops it and restores finance', async () => {
    await system.finance.setMode({ mode: 'flaky' });
    const start = () =>
      api.call('POST', '/api/scenarios/monitoring-load', {
        json: { ratePerSecond: 4, durationSeconds: 30 },
      });
    assert.equal((await start()).status, 200);
    const second = await start();
    assert.equal(second.status, 200);
    const { load } = second.body as { load: LoadStatus };
    assert.equal(load.running, true);
    assert.equal(load.ratePerSecond, 4);

    const placed = await waitFor('orders to be placed', loadStatus, (s) => s.placed >= 4, {
      timeoutMs: 10_000,
      everyMs: 200,
    });
    assert.equal(placed.failed, 0, placed.lastError ?? '');
    // One generator, not two: orders arrive at 4/s (give or take one in flight), never 8/s.
    const total = async () =>
      Object.values(await system.db.orders.countByStatus()).reduce((sum, n) => sum + n, 0);
    const [before, since] = [await total(), Date.now()];
    await sleep(2000);
    const arrived = (await total()) - before;
    const allowed = Math.ceil((4 * (Date.now() - since)) / 1000) + 2;
    assert.ok(arrived <= allowed, `${arrived} orders in 2 s; at most ${allowed} expected`);

    for (let round = 0; round < 2; round++) {
      const reset = await api.call('POST', '/api/scenarios/reset');
      assert.equal(reset.status, 200, reset.text);
    }
    assert.equal((await loadStatus()).running, false);
    const health = (await api.call('GET', '/api/system')).body as {
      finance: { mode: string };
      temporal: { taskQueues: unknown[] };
    };
    assert.equal(health.finance.mode, 'normal');
    assert.equal(health.temporal.taskQueues.length, 3);
  });
});
