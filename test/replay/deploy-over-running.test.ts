/**
 * A deploy while orders are running: workflows started by an earlier release's workflow code
 * (taken from git, as it was shipped) are picked up by today's worker and finish the way they
 * started — on the path before SETTLE_PAYMENTS_PATCH, or before FEWER_ROUND_TRIPS_PATCH — while
 * new orders take the new path. Real workers on the dev server, a real finance simulator and
 * SQLite.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { Client, type WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { FinanceClient } from '../../clients/finance';
import { orderWorkflowSettings, startOrderWorkflow } from '../../clients/temporal';
import { openDatabase, type Database } from '../../db';
import { FeatureToggleService } from '../../db/features';
import { loadConfig } from '../../domain/config';
import type { Order, OrderWorkflowResult } from '../../domain/order';
import { workflowIdForOrder } from '../../domain/temporal';
import { createLogger } from '../../observability/logger';
import { cancelSignal, retrySignal, type processOrder } from '../../workflows';
import { createOrderWorkers, type OrderWorkers } from '../../worker/workers';
import { testDataConverter } from '../support/codec';
import { freshSqliteUrl } from '../support/database';
import { startFinance, type RunningFinance } from '../support/finance';
import { newOrder } from '../support/orders';
import { devServerForSuite, orderWorkflowBundle } from '../support/temporal';
import { waitFor } from '../support/wait';

const ROOT = resolve(__dirname, '../..');
/** The last release before payment settlement: its workflow code is what running orders run. */
const PREVIOUS_RELEASE = '6fea7cc';
/** The last release with status writes and verification as activity tasks of their own. */
const BEFORE_LOCAL_STEPS = '6655acb';
const WORKFLOW_SOURCES = [
  'workflows/index.ts',
  'workflows/processOrder.ts',
  'workflows/policies.ts',
  'domain/errors.ts',
  'domain/order.ts',
  'domain/temporal.ts',
  'domain/text.ts',
];

/** Whether the release has the file (later releases have more workflow sources). */
function releaseHas(release: string, file: string): boolean {
  try {
    execFileSync('git', ['cat-file', '-e', `${release}:${file}`], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A release's workflow bundle, built from its sources as git has them. */
async function previousReleaseBundle(release: string): Promise<WorkflowBundle> {
  // Inside the repository, so the bundler finds node_modules; test-results/ is git-ignored.
  const dir = join(ROOT, 'test-results', `workflows-${release}`);
  rmSync(dir, { recursive: true, force: true });
  for (const file of WORKFLOW_SOURCES.filter((source) => releaseHas(release, source))) {
    const source = execFileSync('git', ['show', `${release}:${file}`], { cwd: ROOT });
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), source);
  }
  return bundleWorkflowCode({
    workflowsPath: join(dir, 'workflows/index.ts'),
    logger: new DefaultLogger('WARN'),
  });
}

void describe('a deploy while orders are running (dev server)', () => {
  const devServer = devServerForSuite();
  let finance: RunningFinance;
  let db: Database;
  const taskQueue = `orders-${randomUUID()}`;
  const config = loadConfig({ PAYMENT_MAX_ATTEMPTS: '2' });

  before(async () => {
    finance = await startFinance({ timeZone: 'Europe/London' });
    db = await openDatabase(freshSqliteUrl());
  });
  after(async () => {
    await finance?.close();
    await db?.close();
  });

  async function runWorkers(
    workflowBundle: WorkflowBundle,
    dataConverter: DataConverter,
  ): Promise<{ stop(): Promise<void> }> {
    const workers: OrderWorkers = await createOrderWorkers({
      connection: devServer().nativeConnection,
      taskQueue,
      workflowBundle,
      dataConverter,
      activities: {
        orders: db.orders,
        finance: new FinanceClient(finance.url, 5_000),
        log: createLogger({ service: 'worker', silent: true }),
        financeTimeZone: 'Europe/London',
        features: new FeatureToggleService(db.features, { ttlMs: 0 }),
      },
    });
    const running = workers.run();
    return {
      async stop() {
        workers.shutdown();
        await running;
      },
    };
  }

  /** Earlier releases stored payloads in clear: their client had no codec. */
  const plainClient = () => new Client({ connection: devServer().connection });

  async function place(
    client: Client = devServer().client,
  ): Promise<{ order: Order; handle: WorkflowHandle<typeof processOrder> }> {
    const order = await db.orders.create(newOrder());
    await startOrderWorkflow(client, { taskQueue, settings: orderWorkflowSettings(config) }, order);
    const handle = devServer().client.workflow.getHandle<typeof processOrder>(
      workflowIdForOrder(order.id),
    );
    return { order, handle };
  }

  const failedInSql = (order: Order) =>
    waitFor(
      `order ${order.id} to fail`,
      () => db.orders.get(order.id),
      (row) => row?.status === 'failed',
    );

  /**
   * Before the deploy: `release`'s worker and client, storing payloads in clear, the finance
   * package down, so `count` orders run out of attempts and wait, failed, for an operator; then
   * that worker stops.
   */
  async function failedUnder(release: string, count: number) {
    const previous = await runWorkers(await previousReleaseBundle(release), {});
    await finance.setMode({ mode: 'down' });
    const orders = [];
    for (let index = 0; index < count; index++) orders.push(await place(plainClient()));
    for (const { order } of orders) await failedInSql(order);
    await previous.stop();
    return orders;
  }

  /** The activity types the workflow's history scheduled, in order. */
  async function activitiesOf(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((event) => {
      const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
  }

  void test('orders started by the previous release finish on its path after the deploy; new ones take the new path', async () => {
    const [toRetry, toCancel] = await failedUnder(PREVIOUS_RELEASE, 2);
    // The deploy: today's worker, with the codec, picks the same task queue up, replaying their
    // clear histories; what it adds from now on is encrypted.
    const current = await runWorkers(await orderWorkflowBundle(), testDataConverter());
    try {
      await finance.reset();
      if (!toRetry || !toCancel) throw new Error('two orders were placed');
      await toRetry.handle.signal(retrySignal);
      await toCancel.handle.signal(cancelSignal, { reason: 'after the deploy' });
      const retried: OrderWorkflowResult = await toRetry.handle.result();
      const cancelled: OrderWorkflowResult = await toCancel.handle.result();
      assert.equal(retried.status, 'processed');
      assert.equal(cancelled.status, 'cancelled');
      // The old path: a cancel of a failed order ends it without a refund call.
      assert.ok(!(await activitiesOf(toCancel.handle)).includes('refundPayment'));
      assert.equal((await db.orders.get(toRetry.order.id))?.status, 'processed');
      assert.equal((await db.orders.get(toCancel.order.id))?.status, 'cancelled');

      // A new order on today's worker takes the new path: its cancel is settled with the
      // finance package (nothing to refund here).
      await finance.setMode({ mode: 'down' });
      const fresh = await place();
      await failedInSql(fresh.order);
      await finance.reset();
      await fresh.handle.signal(cancelSignal, { reason: 'new path' });
      const settled: OrderWorkflowResult = await fresh.handle.result();
      assert.equal(settled.status, 'cancelled');
      assert.ok((await activitiesOf(fresh.handle)).includes('refundPayment'));
    } finally {
      await current.stop();
    }
  });

  void test('orders started before the local steps finish with activity tasks after the deploy; new ones run them locally', async () => {
    const [waiting] = await failedUnder(BEFORE_LOCAL_STEPS, 1);
    const current = await runWorkers(await orderWorkflowBundle(), testDataConverter());
    try {
      if (!waiting) throw new Error('an order was placed');
      await finance.reset();
      await waiting.handle.signal(retrySignal);
      const retried: OrderWorkflowResult = await waiting.handle.result();
      assert.equal(retried.status, 'processed');
      assert.equal((await db.orders.get(waiting.order.id))?.status, 'processed');
      // The old path to the end: processing, failed, processing, processed, each an activity.
      const old = await activitiesOf(waiting.handle);
      assert.equal(old.filter((name) => name === 'recordOrderStatus').length, 4, old.join(', '));
      assert.ok(old.includes('verifyCustomer'));

      // A new order writes its status and verifies inside its workflow tasks: the payment is its
      // only activity task.
      const fresh = await place();
      const processed: OrderWorkflowResult = await fresh.handle.result();
      assert.equal(processed.status, 'processed');
      assert.equal((await db.orders.get(fresh.order.id))?.status, 'processed');
      assert.deepEqual(await activitiesOf(fresh.handle), ['chargePayment']);
    } finally {
      await current.stop();
    }
  });
});
