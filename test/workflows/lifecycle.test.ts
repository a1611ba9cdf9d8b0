/**
 * Every edge of an order's life on Temporal's time-skipping test server, with the real
 * activities, a real finance simulator that behaves like a payment provider (it can charge after
 * the caller hung up, lose its answer, answer with an HTML page) and each real database: money is
 * taken if and only if the order ends `processed`.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { paymentIdempotencyKey } from '../../activities/orders';
import { resumeOrderWorkflow } from '../../clients/temporal';
import type { StoredOrder } from '../../db/orders';
import type { Order, OrderWorkflowResult } from '../../domain/order';
import { workflowIdForOrder } from '../../domain/temporal';
import { TEXT_LIMITS } from '../../domain/text';
import {
  ACTION_REFUSED,
  cancelSignal,
  cancelUpdate,
  processOrder,
  retryUpdate,
} from '../../workflows';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';
import { startTestSystem, type TestSystem } from '../support/system';
import { createTimeSkippingEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

const MAX_ATTEMPTS = 3;
/** Short, so a test that lets the wait run out does not skip through days of timers. */
const FAILED_ORDER_WAIT_MS = 60 * 60 * 1000;

for (const database of DATABASES) {
  void describe(`order lifecycle edges on ${database.name} (time-skipping test server)`, () => {
    let env: TestWorkflowEnvironment;
    let system: TestSystem;

    before(async () => {
      env = await createTimeSkippingEnv();
      system = await startTestSystem({
        env,
        databaseUrl: await database.url(),
        settings: { maxPaymentAttempts: MAX_ATTEMPTS, failedOrderWaitMs: FAILED_ORDER_WAIT_MS },
        financeTimeoutMs: 2_000,
        financeLateChargeMs: 500,
      });
    });
    beforeEach(() => system.finance.reset());
    after(async () => {
      await system?.stop();
      await env?.teardown();
    });

    const row = async (order: Order): Promise<StoredOrder> => {
      const read = await system.db.orders.get(order.id);
      assert.ok(read, `order ${order.id} has a row`);
      return read;
    };
    const money = (order: Order) => system.finance.charges(paymentIdempotencyKey(order.id));
    const waitForPending = (order: Order) =>
      waitFor(
        'the payment call to be in progress at the finance package',
        () => system.finance.pending(),
        (keys) => keys.includes(paymentIdempotencyKey(order.id)),
      );
    /** The update's refusal reason, from the workflow's own validator. */
    async function refusalOf(promise: Promise<unknown>): Promise<string> {
      let reason = '';
      await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
        assert.ok(error.cause instanceof Error);
        assert.equal((error.cause as Error & { type?: string }).type, ACTION_REFUSED);
        reason = error.cause.message;
        return true;
      });
      return reason;
    }

    void test('cancel before payment (a signal with the start): cancelled with its reason, the package never asked', async () => {
      const order = await system.db.orders.create(newOrder());
      const handle = await env.client.workflow.signalWithStart(processOrder, {
        workflowId: workflowIdForOrder(order.id),
        taskQueue: system.taskQueue,
        args: [
          {
            orderId: order.id,
            customerId: order.customerId,
            amount: order.amount,
            currency: order.currency,
            datePlaced: order.datePlaced,
            settings: system.settings,
          },
        ],
        signal: cancelSignal,
        signalArgs: [{ reason: 'customer called before we started' }],
      });
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'cancelled');
      assert.equal(result.cancelReason, 'customer called before we started');
      assert.equal(result.refundReference, null);
      const stored = await row(order);
      assert.equal(stored.status, 'cancelled');
      assert.equal(stored.cancelReason, 'customer called before we started');
      assert.equal((await money(order)).requests, 0);
    });

    void test('cancel during verification: accepted while verifying, ends cancelled, never charged', async () => {
      const held = system.holdNextVerification();
      const { order, handle } = await system.place();
      await held.reached;
      const accepted = await handle.executeUpdate(cancelUpdate, {
        args: [{ reason: 'duplicate order' }],
      });
      assert.equal(accepted.status, 'processing');
      assert.match(accepted.message, /never charged/);
      held.release();
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'cancelled');
      assert.equal((await row(order)).cancelReason, 'duplicate order');
      const record = await money(order);
      assert.equal(record.requests, 0);
      assert.equal(record.charges, 0);
    });

    for (const [name, setUp] of [
      [
        'a late charge (it lands after we hung up)',
        () => system.finance.queueFaults('late-charge'),
      ],
      [
        // Under the client's timeout: a package this slow still answers every call, refunds too.
        'slow mode (it charges once its delay is over, whatever we asked meanwhile)',
        () => system.finance.setMode({ mode: 'slow', latencyMs: 1_500 }),
      ],
    ] as const) {
      void test(`cancel while the payment call is in flight, ${name}: refunded, ends cancelled`, async () => {
        await setUp();
        const { order, handle } = await system.place();
        await waitForPending(order);
        const accepted = await handle.executeUpdate(cancelUpdate, {
          args: [{ reason: 'customer cancelled at checkout' }],
        });
        assert.equal(accepted.status, 'processing');
        const result: OrderWorkflowResult = await handle.result();
        assert.equal(result.status, 'cancelled');
        assert.match(result.refundReference ?? '', /^REF-/);
        const record = await money(order);
        assert.equal(record.charges, 1, 'the package did charge after the call was aborted');
        assert.equal(record.refunds, 1, 'and the charge was given back, once');
        assert.equal(record.refund?.refundReference, result.refundReference);
        const stored = await row(order);
        assert.equal(stored.status, 'cancelled');
        assert.equal(stored.refundReference, result.refundReference);
        assert.equal(stored.cancelReason, 'customer cancelled at checkout');
      });
    }

    void test('cancel during backoff after a bad-gateway page: nothing was charged, nothing refunded', async () => {
      await system.finance.queueFaults('status-502-html', 'status-503', 'status-503');
      const { order, handle } = await system.place();
      await waitFor(
        'a first failed attempt',
        () => row(order),
        (r) => r.attempts >= 1,
      );
      await handle.executeUpdate(cancelUpdate, { args: [{}] });
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'cancelled');
      assert.equal(result.refundReference, null);
      const record = await money(order);
      assert.equal(record.charges, 0);
      assert.equal(record.refunds, 0);
    });

    void test('the answer is lost after the charge: the attempt looks it up and the order is processed, charged once', async () => {
      await system.finance.queueFaults('drop');
      const { order, handle } = await system.place();
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'processed');
      assert.equal(result.attempts, 1);
      const record = await money(order);
      assert.equal(record.charges, 1);
      assert.equal(record.requests, 1, 'no second charge request was needed');
      assert.equal((await row(order)).paymentReference, record.receipt?.paymentReference);
    });

    void test('the workflow refuses what does not apply, with its reason: a retry while processing, a second cancel', async () => {
      await system.finance.setMode({ mode: 'slow', latencyMs: 1_500 });
      const { handle } = await system.place();
      const early = await refusalOf(handle.executeUpdate(retryUpdate));
      assert.match(early, /Only a failed order can be retried; this order is (queued|processing)/);
      await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'first' }] });
      assert.equal(
        await refusalOf(handle.executeUpdate(cancelUpdate, { args: [{ reason: 'second' }] })),
        'A cancel of this order is already under way',
      );
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'cancelled');
      assert.equal(result.cancelReason, 'first');
    });

    void test('two retries racing on a failed order: exactly one is accepted, the order is charged once', async () => {
      await system.finance.setMode({ mode: 'down' });
      const { order, handle } = await system.place();
      await waitFor(
        `order ${order.id} to fail`,
        () => row(order),
        (r) => r.status === 'failed',
        { between: () => env.sleep('2s') },
      );
      await system.finance.reset();
      const outcomes = await Promise.allSettled([
        handle.executeUpdate(retryUpdate),
        handle.executeUpdate(retryUpdate),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
      const loser = outcomes.find((o) => o.status === 'rejected');
      assert.ok(loser?.status === 'rejected' && loser.reason instanceof WorkflowUpdateFailedError);
      // Refused either while the winner's retry is still pending or once it has started paying.
      assert.match(
        String((loser.reason.cause as Error).message),
        /A retry of this order is already under way|Only a failed order can be retried; this order is processing/,
      );
      const result: OrderWorkflowResult = await handle.result();
      assert.equal(result.status, 'processed');
      assert.equal((await money(order)).charges, 1);
    });

    for (const [fault, expected] of [
      ['reject-long', /card_declined/],
      ['reject-html', /HTML page/],
    ] as const) {
      void test(`a rejection with ${fault === 'reject-long' ? 'a 20,000-character reason' : 'an HTML page'}: failed, its reason bounded and stored`, async () => {
        await system.finance.queueFaults(fault);
        const { order } = await system.place();
        const stored = await waitFor(
          `order ${order.id} to fail`,
          () => row(order),
          (r) => r.status === 'failed',
          { between: () => env.sleep('1s') },
        );
        assert.match(stored.failureReason ?? '', expected);
        assert.ok((stored.failureReason ?? '').length <= TEXT_LIMITS.failureReason);
        assert.equal(stored.attempts, 1);
        assert.equal((await money(order)).charges, 0);
      });
    }

    void test('nobody acts within the wait: the workflow completes with status failed; a retry later starts a new run, charged once', async () => {
      await system.finance.setMode({ mode: 'down' });
      const { order, handle } = await system.place();
      const closed: OrderWorkflowResult = await handle.result();
      assert.equal(closed.status, 'failed', 'a business outcome, not a workflow failure');
      assert.equal(closed.attempts, MAX_ATTEMPTS);
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      const failed = await row(order);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.attempts, MAX_ATTEMPTS);

      await system.finance.reset();
      await resumeOrderWorkflow(
        env.client,
        { taskQueue: system.taskQueue, settings: system.settings, timeoutMs: 10_000 },
        failed,
        'retry',
      );
      const rerun = await env.client.workflow
        .getHandle<typeof processOrder>(workflowIdForOrder(order.id))
        .result();
      assert.equal(rerun.status, 'processed');
      assert.equal(rerun.attempts, MAX_ATTEMPTS + 1);
      const stored = await row(order);
      assert.equal(stored.status, 'processed');
      assert.equal(stored.paymentReference, rerun.paymentReference);
      assert.ok(stored.statusVersion > failed.statusVersion);
      assert.equal((await money(order)).charges, 1);
    });

    void test('a cancel after the wait ran out: a new run settles and ends it cancelled, nothing to refund', async () => {
      const { order, handle } = await system.place({ amount: '0.00' });
      assert.equal((await handle.result()).status, 'failed');
      await resumeOrderWorkflow(
        env.client,
        { taskQueue: system.taskQueue, settings: system.settings, timeoutMs: 10_000 },
        await row(order),
        'cancel',
        'written off',
      );
      const rerun = await env.client.workflow
        .getHandle<typeof processOrder>(workflowIdForOrder(order.id))
        .result();
      assert.equal(rerun.status, 'cancelled');
      assert.equal(rerun.refundReference, null);
      const stored = await row(order);
      assert.equal(stored.status, 'cancelled');
      assert.equal(stored.cancelReason, 'written off');
      assert.equal((await money(order)).charges, 0);
    });
  });
}
