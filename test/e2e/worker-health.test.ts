/**
 * The worker's `/healthz` (worker/health.ts) as compose's healthcheck asks it: 200 while the
 * worker polls, Temporal answers and the database answers; 503 naming the database while its
 * PostgreSQL is stopped, and 200 again once it is back — with the same process, no restart.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createPostgresCluster, type PostgresCluster } from '../../scripts/lib/postgres';
import type { WorkerHealth } from '../../worker/health';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { startFinance, type RunningFinance } from '../support/finance';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';
import { TEST_CODEC_KEYS } from '../support/codec';

const ROOT = resolve(__dirname, '../..');

void describe("the worker's /healthz", () => {
  let env: TestWorkflowEnvironment;
  let finance: RunningFinance;
  let postgres: PostgresCluster;
  let worker: ChildProcess | undefined;

  before(async () => {
    [env, finance, postgres] = await Promise.all([
      createDevServerEnv(),
      startFinance(),
      createPostgresCluster({ password: 'health-test' }),
    ]);
  });
  after(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await postgres?.destroy();
    await finance?.close();
    await env?.teardown();
  });

  void test('turns unhealthy while the database is down, and healthy again when it is back', async () => {
    const port = await freeLoopbackPort();
    worker = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_CODEC_KEYS: TEST_CODEC_KEYS,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: `orders-${randomUUID()}`,
        DATABASE_URL: postgres.url,
        FINANCE_URL: finance.url,
        WORKER_METRICS_PORT: String(port),
        WORKER_SHUTDOWN_GRACE: '1s',
        LOG_LEVEL: 'error',
      },
      stdio: 'ignore',
    });
    const child = worker;
    const health = async (): Promise<{ code: number; body: WorkerHealth } | null> => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        return { code: response.status, body: (await response.json()) as WorkerHealth };
      } catch {
        return null; // not listening yet
      }
    };
    const until = (what: string, done: (h: { code: number; body: WorkerHealth }) => boolean) =>
      waitFor(what, health, (h) => (h !== null && done(h)) || child.exitCode !== null, {
        timeoutMs: 60_000,
        everyMs: 250,
      });

    const up = await until('the worker to be healthy', (h) => h.code === 200);
    assert.equal(child.exitCode, null, 'the worker exited');
    assert.equal(up?.body.status, 'ok');
    assert.deepEqual(
      Object.fromEntries(Object.entries(up?.body.workers ?? {}).map(([k, w]) => [k, w.ok])),
      { orders: true, payments: true, bulk: true },
    );
    assert.equal(up?.body.temporal.ok, true);
    assert.equal(up?.body.database.ok, true);

    await postgres.stop();
    const down = await until('the worker to report the database', (h) => h.code === 503);
    assert.equal(down?.body.status, 'unhealthy');
    assert.equal(down?.body.database.ok, false);
    assert.equal(down?.body.temporal.ok, true, 'only the database is down');
    assert.doesNotMatch(JSON.stringify(down?.body), /health-test|ECONNREFUSED|127\.0\.0\.1:\d+/);

    await postgres.start();
    const back = await until('the worker to be healthy again', (h) => h.code === 200);
    assert.equal(back?.body.database.ok, true);
    assert.equal(child.exitCode, null, 'the worker kept running through the outage');
  });
});
