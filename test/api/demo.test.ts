/**
 * The demo tools (api/demo) are off unless DEMO_SCENARIOS=on: off, their routes do not exist and
 * `/api/system` says there is no simulator; on, but in front of a real finance package (which has
 * no `/mode` or `/faults`), `/api/system` says the same instead of reporting an outage, and the
 * scenarios that need the simulator refuse with 409 while `reset` still stops the load.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import type { SystemHealth } from '../../api/dashboard/system';
import { freshSqliteUrl } from '../support/database';
import { errorOf, startApi, unreachableTemporal, type RunningApi } from './harness';

void describe('demo tools', () => {
  let db: Database;
  /** Stands in for a real finance package: it knows nothing of the simulator's endpoints. */
  let realFinance: Server;
  let realFinanceUrl: string;
  const apis: RunningApi[] = [];

  before(async () => {
    db = await openDatabase(freshSqliteUrl());
    realFinance = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not Found' }));
    });
    await new Promise<void>((resolve) => realFinance.listen(0, '127.0.0.1', resolve));
    realFinanceUrl = `http://127.0.0.1:${(realFinance.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const api of apis) await api.close();
    await new Promise((resolve) => realFinance?.close(resolve));
    await db?.close();
  });

  async function api(env: Record<string, string>): Promise<RunningApi> {
    const running = await startApi({ db, temporal: unreachableTemporal(), env });
    apis.push(running);
    return running;
  }

  void test('off by default: no scenario or load routes, and /api/system says no simulator', async () => {
    const off = await api({ DEMO_SCENARIOS: 'off', FINANCE_URL: realFinanceUrl });
    for (const [method, path] of [
      ['POST', '/api/scenarios/reset'],
      ['POST', '/api/scenarios/broken-order'],
      ['GET', '/api/load'],
      ['DELETE', '/api/load'],
    ] as const) {
      const answer = await off.call(method, path);
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
    }
    const system = (await off.call('GET', '/api/system')).body as SystemHealth;
    assert.equal(system.demo, false);
    assert.equal(system.load, null);
    assert.deepEqual(system.finance, {
      simulator: false,
      reason: 'no simulator: the demo scenarios are off (DEMO_SCENARIOS)',
    });
  });

  void test('on, in front of a real finance package: "no simulator", not an error', async () => {
    const on = await api({ DEMO_SCENARIOS: 'on', FINANCE_URL: realFinanceUrl });
    const system = (await on.call('GET', '/api/system')).body as SystemHealth;
    assert.equal(system.demo, true);
    assert.deepEqual(system.finance, {
      simulator: false,
      reason: 'no simulator: the finance package has no control endpoints',
    });
    assert.equal(system.load?.running, false);

    const flaky = await on.call('POST', '/api/scenarios/queue-reliability');
    assert.equal(flaky.status, 409, flaky.text);
    assert.equal(errorOf(flaky).code, 'no_simulator');
    const reset = await on.call('POST', '/api/scenarios/reset');
    assert.equal(reset.status, 200, reset.text);
    assert.equal((reset.body as { finance: unknown }).finance, null);
  });

  void test("broken-order refused by the API's own rate limit is a 503 that says so", async () => {
    const on = await api({
      DEMO_SCENARIOS: 'on',
      FINANCE_URL: realFinanceUrl,
      ORDER_RATE_LIMIT_PER_MINUTE: '1',
    });
    const first = await on.call('POST', '/api/scenarios/broken-order');
    assert.equal(first.status, 200, first.text);
    const second = await on.call('POST', '/api/scenarios/broken-order');
    assert.equal(second.status, 503, second.text);
    assert.equal(second.headers.get('retry-after'), '5');
    assert.deepEqual(errorOf(second), {
      code: 'order_refused',
      message: "The API refused the scenario's order (429 rate_limited)",
    });
  });
});
