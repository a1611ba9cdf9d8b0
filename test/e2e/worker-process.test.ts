/**
 * The worker as operators run it: its own process (`worker/main.ts`), configured by environment,
 * against the Temporal dev server. Stopping it must not lose or double-charge an order.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { paymentIdempotencyKey } from '../../activities/orders';
import { startOrderWorkflow } from '../../clients/temporal';
import { openDatabase, type Database } from '../../db';
import type { Order } from '../../domain/order';
import { freshSqliteUrl } from '../support/database';
import { startFinance, type RunningFinance } from '../support/finance';
import { newOrder } from '../support/orders';
import { createDevServerEnv } from '../support/temporal';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { waitFor } from '../support/wait';
import { TEST_CODEC_KEYS } from '../support/codec';

const ROOT = resolve(__dirname, '../..');

void describe('the worker process', () => {
  let env: TestWorkflowEnvironment;
  let finance: RunningFinance;
  let db: Database;
  let databaseUrl: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    env = await createDevServerEnv();
    finance = await startFinance();
    databaseUrl = freshSqliteUrl();
    db = await openDatabase(databaseUrl);
  });
  after(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await db?.close();
    await finance?.close();
    await env?.teardown();
  });

  function startWorker(taskQueue: string, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
    const worker = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_CODEC_KEYS: TEST_CODEC_KEYS,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: databaseUrl,
        FINANCE_URL: finance.url,
        WORKER_SHUTDOWN_GRACE: '1s',
        WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        ...extraEnv,
      },
      stdio: 'ignore',
    });
    workers.push(worker);
    return worker;
  }

  async function place(taskQueue: string): Promise<Order> {
    const order = await db.orders.create(newOrder());
    await startOrderWorkflow(
      env.client,
      { taskQueue, settings: { maxPaymentAttempts: 5, failedOrderWaitMs: 60_000 } },
      order,
    );
    return order;
  }

  async function processed(order: Order): Promise<Order> {
    const row = await waitFor(
      `order ${order.id} processed`,
      () => db.orders.get(order.id),
      (r) => r?.status === 'processed',
      { timeoutMs: 60_000, everyMs: 200 },
    );
    assert.ok(row);
    return row;
  }

  void test('a worker started from its entry point processes orders', async () => {
    const taskQueue = `orders-${randomUUID()}`;
    const worker = startWorker(taskQueue);
    const order = await place(taskQueue);
    const row = await processed(order);
    assert.match(row.paymentReference ?? '', /^PAY-/);
    worker.kill('SIGTERM');
    const [code] = (await once(worker, 'exit')) as [number | null];
    assert.equal(code, 0, 'a graceful stop exits 0');
  });

  void test('SIGTERM during a hung payment: the worker stops, the next one finishes the order, charged once', async () => {
    const taskQueue = `orders-${randomUUID()}`;
    const first = startWorker(taskQueue);
    await finance.queueFaults('hang');
    const order = await place(taskQueue);
    const key = paymentIdempotencyKey(order.id);
    await waitFor(
      'the payment call to be in flight',
      () => finance.charges(key),
      (c) => c.requests === 1,
      { timeoutMs: 60_000 },
    );
    first.kill('SIGTERM');
    const [code] = (await once(first, 'exit')) as [number | null];
    assert.equal(
      code,
      0,
      'the worker stopped after its grace time instead of hanging with the call',
    );

    startWorker(taskQueue);
    const row = await processed(order);
    assert.equal(row.status, 'processed');
    const charges = await finance.charges(key);
    assert.equal(charges.charges, 1);
    assert.equal(charges.requests, 2);
  });

  void test('PAYMENT_RATE_PER_SECOND spreads payments out: 10 orders at 2/s take at least 2 s', async () => {
    const taskQueue = `orders-${randomUUID()}`;
    startWorker(taskQueue, { PAYMENT_RATE_PER_SECOND: '2' });
    const orders = await Promise.all(Array.from({ length: 10 }, () => place(taskQueue)));
    const rows = await Promise.all(orders.map(processed));
    const times = rows.map((row) => Date.parse(row.updatedAt)).sort((a, b) => a - b);
    const spread = (times.at(-1) ?? 0) - (times[0] ?? 0);
    // A lower bound only: a capped queue can never be faster than its rate, whatever the machine.
    assert.ok(spread >= 2000, `payments spread over ${spread} ms`);
  });

  void test("the worker's /metrics counts outcomes and attempts, with the Temporal SDK's metrics", async () => {
    const taskQueue = `orders-${randomUUID()}`;
    const port = await freeLoopbackPort();
    startWorker(taskQueue, { WORKER_METRICS_PORT: String(port) });
    await finance.queueFaults('status-503');
    const retried = await place(taskQueue);
    await processed(retried);
    await processed(await place(taskQueue));
    const rejected = await db.orders.create(newOrder({ amount: '0.00' }));
    await startOrderWorkflow(
      env.client,
      { taskQueue, settings: { maxPaymentAttempts: 5, failedOrderWaitMs: 60_000 } },
      rejected,
    );
    await waitFor(
      'the rejected order to fail',
      () => db.orders.get(rejected.id),
      (r) => r?.status === 'failed',
    );

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (series: string) => Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('orders_processed_total'), 2);
    assert.equal(value('orders_failed_total{reason="rejected"}'), 1);
    assert.equal(value('payment_attempts_total'), 4);
    assert.equal(value('payment_attempt_failures_total{class="transient"}'), 1);
    assert.equal(value('payment_attempt_failures_total{class="permanent"}'), 1);
    assert.equal(value('payment_duration_seconds_count{outcome="charged"}'), 2);
    assert.match(text, /^finance_request_duration_seconds_count\{status="503"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^temporal_\w+/m, "the Temporal SDK's worker metrics are included");
  });
});
