/**
 * The production build as the image runs it: `npm run build` (scripts/build.ts), then the worker
 * and the API started with plain `node dist/<service>/main.js` (no tsx loader, NODE_ENV=production)
 * against the Temporal dev server, and one order placed through the API until it is processed.
 * The worker must load the prebuilt workflow bundle rather than bundle at start.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOrderWorkflow } from '../../clients/temporal';
import { openDatabase } from '../../db';
import { freshSqliteUrl } from '../support/database';
import { startFinance, type RunningFinance } from '../support/finance';
import { newOrder } from '../support/orders';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { workflowBundlePath } from '../../worker/workflowBundle';
import { TEST_CODEC_KEYS } from '../support/codec';

const ROOT = resolve(__dirname, '../..');
const DIST = join(ROOT, 'dist');

/** A started process with its output kept, for the log lines the test reads. */
interface Started {
  child: ChildProcess;
  output: () => string;
}

/** Every process the tests started, killed at the end if still running. */
const running: Started[] = [];

function startBuilt(entry: string, env: NodeJS.ProcessEnv): Started {
  // No --import tsx: the built output must run on Node alone.
  const child = spawn(process.execPath, [join(DIST, entry)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      TEMPORAL_CODEC_KEYS: TEST_CODEC_KEYS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const started = { child, output: () => text };
  running.push(started);
  return started;
}

function logLine(output: string, message: string): Record<string, unknown> | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.message === message) return entry;
  }
  return undefined;
}

/** The built worker, once it logged that it polls; fails with its output if it exits first. */
async function startBuiltWorker(
  env: NodeJS.ProcessEnv,
): Promise<{ part: Started; ready: Record<string, unknown> }> {
  const part = startBuilt('worker/main.js', { WORKER_SHUTDOWN_GRACE: '1s', ...env });
  const ready = await waitFor(
    'the built worker to start',
    () => Promise.resolve(logLine(part.output(), 'worker started')),
    (line) => line !== undefined || part.child.exitCode !== null,
    { timeoutMs: 60_000, everyMs: 100 },
  );
  assert.ok(ready, `the worker exited:\n${part.output()}`);
  return { part, ready };
}

void describe('the production build (dist/)', () => {
  let env: TestWorkflowEnvironment;
  let finance: RunningFinance;

  before(async () => {
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
    env = await createDevServerEnv();
    finance = await startFinance();
  });
  after(async () => {
    for (const { child } of running) if (child.exitCode === null) child.kill('SIGKILL');
    await finance?.close();
    await env?.teardown();
  });

  void test('holds the compiled services and both prebuilt workflow bundles', () => {
    for (const entry of [
      'api/main.js',
      'worker/main.js',
      'finance/main.js',
      'api/public/index.html',
    ]) {
      assert.ok(existsSync(join(DIST, entry)), `dist/${entry} is missing`);
    }
    for (const traced of [false, true]) {
      assert.ok(existsSync(workflowBundlePath(traced, join(DIST, 'worker'))));
    }
    assert.equal(existsSync(join(DIST, 'test')), false, 'tests are not part of the build');
    assert.equal(existsSync(join(DIST, 'scripts')), false, 'scripts are not part of the build');
  });

  void test('the compiled code requires no dev dependency (the image installs none)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const dev = new Set(Object.keys(manifest.devDependencies));
    const files = readdirSync(DIST, { recursive: true, encoding: 'utf8' }).filter(
      (file) => file.endsWith('.js') && !file.startsWith('api/public/'),
    );
    for (const file of files) {
      const code = readFileSync(join(DIST, file), 'utf8');
      for (const [, name = ''] of code.matchAll(/require\("((?:@[^/"]+\/)?[^/"]+)[^"]*"\)/g)) {
        assert.ok(!dev.has(name), `dist/${file} requires the dev dependency ${name}`);
      }
    }
  });

  void test('the built worker and API process an order end to end', async () => {
    const databaseUrl = freshSqliteUrl();
    const taskQueue = `orders-built-${Date.now()}`;
    const common = {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      FINANCE_URL: finance.url,
      LOG_LEVEL: 'info',
    };
    const metricsPort = await freeLoopbackPort();
    const { part: worker, ready } = await startBuiltWorker({
      ...common,
      WORKER_METRICS_PORT: String(metricsPort),
    });
    assert.equal(ready.workflowBundle, workflowBundlePath(false, join(DIST, 'worker')));
    console.log(`built worker: process start to polling in ${String(ready.startupMs)} ms`);

    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 200, await health.clone().text());

    const apiPort = await freeLoopbackPort();
    const api = startBuilt('api/main.js', {
      ...common,
      API_PORT: String(apiPort),
    });
    const base = `http://127.0.0.1:${apiPort}`;
    await waitFor(
      'the built API to answer',
      () =>
        fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      (ok) => ok || api.child.exitCode !== null,
      { timeoutMs: 60_000, everyMs: 200 },
    );
    assert.equal(api.child.exitCode, null, `the API exited:\n${api.output()}`);

    // The image's own users CLI makes the client's key, printed once.
    const added = spawnSync(process.execPath, [join(DIST, 'db/users-cli.js'), 'add-key', 'built'], {
      env: { ...process.env, ...common },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(added.status, 0, added.stderr);
    const key = /ok_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/.exec(added.stdout)?.[0] ?? '';
    assert.ok(key, added.stdout);
    const authorization = `Bearer ${key}`;
    const created = await fetch(`${base}/api/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `built-${Date.now()}`,
        authorization,
      },
      body: JSON.stringify({
        customerId: 'cust-1',
        product: 'Widget',
        quantity: 2,
        unitPrice: '12.50',
        currency: 'GBP',
      }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = (await created.json()) as { id: string };
    const order = await waitFor(
      `order ${id} processed`,
      async () =>
        (await (
          await fetch(`${base}/api/orders/${id}`, { headers: { authorization } })
        ).json()) as Record<string, unknown>,
      (o) => o.status === 'processed',
      { timeoutMs: 60_000, everyMs: 250 },
    );
    assert.match(String(order.paymentReference), /^PAY-/);

    for (const part of [api, worker]) {
      part.child.kill('SIGTERM');
      const [code] = (await once(part.child, 'exit')) as [number | null];
      assert.equal(code, 0, `a graceful stop exits 0:\n${part.output()}`);
    }
  });

  void test('with spans exported, the built worker loads the traced bundle and processes an order', async () => {
    const databaseUrl = freshSqliteUrl();
    const taskQueue = `orders-traced-${Date.now()}`;
    const { part: worker, ready } = await startBuiltWorker({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      FINANCE_URL: finance.url,
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      // Nothing listens there: spans are dropped, but the worker traces inside workflows.
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freeLoopbackPort()}`,
    });
    assert.equal(ready.workflowBundle, workflowBundlePath(true, join(DIST, 'worker')));
    const db = await openDatabase(databaseUrl);
    try {
      const order = await db.orders.create(newOrder());
      await startOrderWorkflow(
        env.client,
        { taskQueue, settings: { maxPaymentAttempts: 5, failedOrderWaitMs: 60_000 } },
        order,
      );
      const row = await waitFor(
        `order ${order.id} processed`,
        () => db.orders.get(order.id),
        (r) => r?.status === 'processed',
        { timeoutMs: 60_000, everyMs: 250 },
      );
      assert.match(row?.paymentReference ?? '', /^PAY-/);
    } finally {
      await db.close();
    }
    worker.child.kill('SIGTERM');
    const [code] = (await once(worker.child, 'exit')) as [number | null];
    assert.equal(code, 0, worker.output());
  });
});
