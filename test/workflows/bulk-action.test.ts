/**
 * The bulk-action workflow on Temporal's time-skipping test server, with the real activities, a
 * real finance simulator and SQLite: its rate, pause and resume, cancel, continue-as-new, and an
 * order that changed state before the batch reached it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { paymentIdempotencyKey } from '../../activities/orders';
import { startBulkWorkflow } from '../../clients/bulk';
import { updateOrderWorkflow } from '../../clients/temporal';
import type { BulkActionRecord } from '../../db/bulk';
import type { BulkActionInput, BulkProgress } from '../../domain/bulk';
import type { Order } from '../../domain/order';
import { workflowIdForBulkAction } from '../../domain/temporal';
import {
  BULK_CONTROL_REFUSED,
  bulkAction,
  bulkProgressQuery,
  cancelBulkUpdate,
  pauseBulkUpdate,
  resumeBulkUpdate,
} from '../../workflows';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { createTimeSkippingEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

void describe('bulk action workflow (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let system: TestSystem;

  before(async () => {
    env = await createTimeSkippingEnv();
    // One attempt per payment round: a failed order fails at once while finance is down.
    system = await startTestSystem({
      env,
      databaseUrl: freshSqliteUrl(),
      settings: { maxPaymentAttempts: 1 },
    });
  });
  beforeEach(() => system.finance.reset());
  after(async () => {
    await system?.stop();
    await env?.teardown();
  });

  /** Places an order and records its workflow as started, as the API does. */
  async function place(customerId: string): Promise<Order> {
    const { order } = await system.place({ customerId });
    await system.db.orders.markWorkflowStarted(order.id);
    return order;
  }

  /** `count` orders of one new customer, failed while the finance package was down. */
  async function failedOrders(count: number): Promise<{ customerId: string; orders: Order[] }> {
    const customerId = `bulk-${randomUUID().slice(0, 8)}`;
    await system.finance.setMode({ mode: 'down' });
    const orders: Order[] = [];
    for (let i = 0; i < count; i += 1) orders.push(await place(customerId));
    for (const order of orders) {
      await waitFor(
        `order ${order.id} to fail`,
        () => system.db.orders.get(order.id),
        (row) => row?.status === 'failed',
      );
    }
    await system.finance.setMode({ mode: 'normal' });
    return { customerId, orders };
  }

  /** Confirms a batch over the customer's failed orders; `beforeStart` runs between the two. */
  async function startBatch(
    customerId: string,
    options: Partial<BulkActionInput> & Pick<BulkActionInput, 'action'>,
    beforeStart: (batch: BulkActionRecord) => Promise<void> = () => Promise.resolve(),
  ): Promise<{ batch: BulkActionRecord; handle: WorkflowHandle<typeof bulkAction> }> {
    const batch = await system.db.bulk.create({
      id: randomUUID(),
      action: options.action,
      filter: { customerId, statuses: ['failed'] },
      reason: options.reason ?? null,
      startedBy: 'test',
      ratePerSecond: options.ratePerSecond ?? 10,
    });
    await beforeStart(batch);
    await startBulkWorkflow(
      env.client,
      { orderTaskQueue: system.taskQueue, timeoutMs: 10_000 },
      {
        batchId: batch.id,
        action: options.action,
        ratePerSecond: options.ratePerSecond ?? 10,
        pageSize: options.pageSize ?? 100,
        itemsPerRun: options.itemsPerRun ?? 500,
        ...(options.reason ? { reason: options.reason } : {}),
      },
    );
    const handle = env.client.workflow.getHandle<typeof bulkAction>(
      workflowIdForBulkAction(batch.id),
    );
    return { batch, handle };
  }

  /**
   * A batch at one order a minute over `count` failed orders, once it has done the first: the
   * rest wait for their minute, so the test acts between two orders.
   */
  async function slowBatch(count: number, options: Partial<BulkActionInput> = {}) {
    const failed = await failedOrders(count);
    const started = await startBatch(failed.customerId, {
      action: 'retry',
      ratePerSecond: 1 / 60,
      ...options,
    });
    await waitFor(
      'the first item',
      () => doneCount(started.batch.id),
      (n) => n === 1,
    );
    return { ...failed, ...started };
  }

  const doneCount = async (batchId: string) => {
    const counts = await system.db.bulk.counts(batchId);
    return counts.applied + counts.refused + counts.failed;
  };
  const charges = async (order: Order) =>
    (await system.finance.charges(paymentIdempotencyKey(order.id))).charges;

  void test('a retry batch continues as new every 2 items, skips an order that moved on, and charges each once', async () => {
    const { customerId, orders } = await failedOrders(5);
    let newcomerId = '';
    // The newest order is cancelled by hand after the batch matched it, before it gets there.
    const moved = orders.at(-1);
    assert.ok(moved);
    const { batch, handle } = await startBatch(
      customerId,
      { action: 'retry', itemsPerRun: 2, pageSize: 2 },
      async () => {
        await updateOrderWorkflow(env.client, moved.id, 'cancel', { timeoutMs: 10_000 });
        await waitFor(
          'the hand-cancelled order to be cancelled',
          () => system.db.orders.get(moved.id),
          (row) => row?.status === 'cancelled',
        );
        // An order of the same customer failing after the batch matched is not part of it.
        await system.finance.setMode({ mode: 'down' });
        const order = await place(customerId);
        newcomerId = order.id;
        await waitFor(
          'the newcomer to fail',
          () => system.db.orders.get(order.id),
          (row) => row?.status === 'failed',
        );
        await system.finance.setMode({ mode: 'normal' });
      },
    );
    assert.equal(batch.matched, 5);
    const firstRunId = (await handle.describe()).runId;

    const result: BulkProgress = await handle.result();
    assert.equal(result.state, 'completed');
    assert.deepEqual(result.counts, { applied: 4, refused: 1, failed: 0 });
    const { runId } = await handle.describe();
    assert.notEqual(runId, firstRunId, 'the batch continued as new at least once');

    const items = await system.db.bulk.items(batch.id, { limit: 10 });
    assert.deepEqual(
      items.map((item) => item.orderId),
      orders.map((order) => order.id),
      'items are the matched orders, oldest first',
    );
    const refused = items.find((item) => item.orderId === moved.id);
    assert.equal(refused?.outcome, 'refused');
    assert.match(refused?.detail ?? '', /cancelled/);
    for (const order of orders.slice(0, 4)) {
      await waitFor(
        `order ${order.id} to be processed`,
        () => system.db.orders.get(order.id),
        (row) => row?.status === 'processed',
      );
      assert.equal(await charges(order), 1);
    }
    assert.equal((await system.db.orders.get(newcomerId))?.status, 'failed');
    assert.equal((await system.db.bulk.get(batch.id))?.state, 'completed');
  });

  void test('the rate spaces the orders: one a minute means one per minute of workflow time', async () => {
    const { batch, handle } = await slowBatch(3);
    // Real time passes, workflow time does not: the next order waits for its minute.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await doneCount(batch.id), 1);
    await env.sleep('30s');
    assert.equal(await doneCount(batch.id), 1);
    await env.sleep('31s');
    await waitFor(
      'the second item',
      () => doneCount(batch.id),
      (n) => n === 2,
    );
    assert.equal((await handle.query(bulkProgressQuery)).ratePerSecond, 1 / 60);
    await handle.executeUpdate(cancelBulkUpdate);
    assert.equal((await handle.result()).state, 'cancelled');
  });

  void test('pause holds the batch however long; resume carries on; controls that do not apply are refused', async () => {
    const { batch, handle } = await slowBatch(3);
    const paused = await handle.executeUpdate(pauseBulkUpdate);
    assert.equal(paused.state, 'paused');
    await assert.rejects(handle.executeUpdate(pauseBulkUpdate), (error: unknown) => {
      assert.ok(error instanceof WorkflowUpdateFailedError);
      assert.equal((error.cause as Error & { type?: string }).type, BULK_CONTROL_REFUSED);
      assert.match((error.cause as Error).message, /already paused/);
      return true;
    });
    await env.sleep('1h');
    assert.equal(await doneCount(batch.id), 1);
    await waitFor(
      'the paused state in SQL',
      () => system.db.bulk.get(batch.id),
      (row) => row?.state === 'paused',
    );
    assert.equal((await handle.executeUpdate(resumeBulkUpdate)).state, 'running');
    const result = await handle.result();
    assert.equal(result.state, 'completed');
    assert.deepEqual(result.counts, { applied: 3, refused: 0, failed: 0 });
    await assert.rejects(handle.executeUpdate(resumeBulkUpdate));
  });

  void test('cancel stops the batch: the orders it had not reached stay failed and untouched', async () => {
    const { batch, handle, orders } = await slowBatch(4, {
      action: 'cancel',
      reason: 'customer closed the account',
    });
    assert.equal((await handle.executeUpdate(cancelBulkUpdate)).state, 'cancelled');
    const result = await handle.result();
    assert.equal(result.state, 'cancelled');
    assert.deepEqual(result.counts, { applied: 1, refused: 0, failed: 0 });
    const [first, ...rest] = orders;
    assert.ok(first);
    await waitFor(
      'the first order to be cancelled with the reason',
      () => system.db.orders.get(first.id),
      (row) => row?.status === 'cancelled' && row.cancelReason === 'customer closed the account',
    );
    for (const order of rest)
      assert.equal((await system.db.orders.get(order.id))?.status, 'failed');
    const pending = await system.db.bulk.items(batch.id, { outcome: 'pending', limit: 10 });
    assert.equal(pending.length, 3);
    const stored = await system.db.bulk.get(batch.id);
    assert.equal(stored?.state, 'cancelled');
    assert.ok(stored?.finishedAt);
  });
});
