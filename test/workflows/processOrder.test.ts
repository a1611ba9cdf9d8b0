/**
 * The order workflow on Temporal's time-skipping test server, with the real activities, a real
 * finance simulator on a loopback port and a real SQLite database.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { Order, OrderWorkflowResult, OrderWorkflowState } from '../../domain/order';
import { cancelSignal, retrySignal, statusQuery } from '../../workflows';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { createTimeSkippingEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

const MAX_ATTEMPTS = 4;

void describe('order workflow (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let system: TestSystem;

  before(async () => {
    env = await createTimeSkippingEnv();
    system = await startTestSystem({
      env,
      databaseUrl: freshSqliteUrl(),
      settings: { maxPaymentAttempts: MAX_ATTEMPTS },
      // Long enough that a hung call is still in flight when a test cancels it.
      financeTimeoutMs: 15_000,
    });
  });
  beforeEach(() => system.finance.reset());
  after(async () => {
    await system?.stop();
    await env?.teardown();
  });

  const row = async (order: Order) => {
    const read = await system.db.orders.get(order.id);
    assert.ok(read, `order ${order.id} has a row`);
    return read;
  };
  /** Waits for the SQL status, skipping Temporal time ahead so retry backoffs pass quickly. */
  const waitForStatus = (order: Order, status: Order['status']) =>
    waitFor(
      `order ${order.id} to be ${status}`,
      () => row(order),
      (r) => r.status === status,
      {
        between: () => env.sleep('2s'),
      },
    );
  const charges = (order: Order) => system.finance.charges(paymentIdempotencyKey(order.id));

  void test('an order is charged once and ends processed, with its payment reference', async () => {
    const { order, handle } = await system.place();
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    assert.equal(result.attempts, 1);
    const stored = await row(order);
    assert.equal(stored.status, 'processed');
    assert.equal(stored.attempts, 1);
    assert.match(stored.paymentReference ?? '', /^PAY-/);
    assert.equal(stored.paymentReference, result.paymentReference);
    assert.equal((await charges(order)).charges, 1);
  });

  void test("the payment date is sent in the finance package's local time, summer and winter", async () => {
    const summer = await system.place({ datePlaced: '2026-07-01T09:00:00.000Z' });
    const winter = await system.place({ datePlaced: '2026-01-15T09:00:00.000Z' });
    // One result at a time: each await unlocks the test server's time skipping and locks it
    // again afterwards, and overlapping unlock/lock pairs are best avoided.
    await summer.handle.result();
    await winter.handle.result();
    assert.equal((await charges(summer.order)).receipt?.date, '2026-07-01T10:00:00+01:00');
    assert.equal((await charges(winter.order)).receipt?.date, '2026-01-15T09:00:00+00:00');
  });

  void test('a finance 503 twice then OK: processed after 3 attempts, charged once', async () => {
    await system.finance.queueFaults('status-503', 'status-503');
    const { order, handle } = await system.place();
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    assert.equal(result.attempts, 3);
    assert.equal((await row(order)).attempts, 3);
    const record = await charges(order);
    assert.equal(record.requests, 3);
    assert.equal(record.charges, 1);
  });

  void test('retry backoff is skipped: minutes of backoff in workflow time, seconds of wall time', async () => {
    // 1 + 2 + 4 s of backoff between four attempts: the workflow clock covers it, the wall
    // clock does not.
    await system.finance.queueFaults('status-500', 'status-503', 'status-500');
    const wallStart = Date.now();
    const { handle } = await system.place();
    await handle.result();
    const wall = Date.now() - wallStart;
    const { history } = await handle.query(statusQuery);
    const processing = history.find((h) => h.status === 'processing');
    const processed = history.find((h) => h.status === 'processed');
    assert.ok(processing && processed);
    const workflowMs = Date.parse(processed.at) - Date.parse(processing.at);
    assert.ok(workflowMs >= 7_000, `workflow time covered the backoff (${workflowMs} ms)`);
    assert.ok(
      wall < workflowMs,
      `wall time ${wall} ms is less than workflow time ${workflowMs} ms`,
    );
  });

  void test('a 400 rejection fails the order after exactly one attempt, keeping the reason', async () => {
    const { order, handle } = await system.place({ amount: '0.00' });
    const stored = await waitForStatus(order, 'failed');
    assert.equal(stored.attempts, 1);
    assert.match(stored.failureReason ?? '', /amount_not_positive/);
    const state: OrderWorkflowState = await handle.query(statusQuery);
    assert.equal(state.status, 'failed');
    assert.equal(state.attempts, 1);
    assert.equal((await charges(order)).charges, 0);
  });

  void test('transient errors until retries run out: failed, with the last error as reason', async () => {
    await system.finance.queueFaults(...Array<'status-503'>(MAX_ATTEMPTS).fill('status-503'));
    const { order } = await system.place();
    const stored = await waitForStatus(order, 'failed');
    assert.equal(stored.attempts, MAX_ATTEMPTS);
    assert.match(
      stored.failureReason ?? '',
      new RegExp(`gave up after ${MAX_ATTEMPTS} attempts.*503`),
    );
    assert.equal((await charges(order)).charges, 0);
  });

  void test('a failed order nobody touches completes with status failed once its wait is over', async () => {
    const { order, handle } = await system.place({ amount: '0.00' });
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'failed');
    assert.match(result.failureReason ?? '', /amount_not_positive/);
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    assert.equal((await row(order)).status, 'failed');
  });

  void test('the retry signal after a failure charges again and the order ends processed', async () => {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await waitForStatus(order, 'failed');
    await system.finance.setMode({ mode: 'normal' });
    await handle.signal(retrySignal);
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    const stored = await row(order);
    assert.equal(stored.status, 'processed');
    assert.equal(stored.failureReason, null);
    assert.equal(stored.attempts, MAX_ATTEMPTS + 1);
    assert.equal((await charges(order)).charges, 1);
  });

  void test('cancel during backoff: cancelled, and the finance package is never called again', async () => {
    await system.finance.queueFaults(...Array<'status-503'>(MAX_ATTEMPTS).fill('status-503'));
    const { order, handle } = await system.place();
    await waitFor(
      'a first failed attempt',
      () => row(order),
      (r) => r.attempts >= 1,
    );
    await handle.signal(cancelSignal, { reason: 'customer changed their mind' });
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'cancelled');
    const requestsAtCancel = (await charges(order)).requests;
    await system.finance.reset();
    await env.sleep('10m');
    const record = await charges(order);
    assert.equal(record.charges, 0);
    assert.equal(record.requests, requestsAtCancel);
    assert.equal((await row(order)).status, 'cancelled');
  });

  void test('cancel while a payment call hangs: the attempt is stopped and nothing is charged', async () => {
    await system.finance.queueFaults('hang');
    const { order, handle } = await system.place();
    await waitFor(
      'the payment call to reach the finance package',
      () => charges(order),
      (c) => c.requests === 1,
    );
    await handle.signal(cancelSignal);
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'cancelled');
    const record = await charges(order);
    assert.equal(record.charges, 0);
    assert.equal(record.requests, 1);
    assert.equal((await row(order)).status, 'cancelled');
  });

  void test('a retry signal that does not apply (order still processing) changes nothing', async () => {
    await system.finance.queueFaults('status-503');
    const { order, handle } = await system.place();
    await waitFor(
      'a first failed attempt',
      () => row(order),
      (r) => r.attempts >= 1,
    );
    await handle.signal(retrySignal);
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    assert.equal(result.attempts, 2);
    assert.equal((await charges(order)).charges, 1);
  });

  void test('a year-3000 order fails while the orders placed after it are processed', async () => {
    const broken = await system.place({ datePlaced: '3000-01-01T00:00:00.000Z' });
    const next = await Promise.all([system.place(), system.place(), system.place()]);
    const results: OrderWorkflowResult[] = [];
    for (const { handle } of next) results.push(await handle.result());
    assert.deepEqual(
      results.map((r) => r.status),
      ['processed', 'processed', 'processed'],
    );
    const stored = await waitForStatus(broken.order, 'failed');
    assert.match(stored.failureReason ?? '', /date_in_future/);
    assert.equal(stored.attempts, 1);
  });

  /** Places `count` orders for one new customer at once; returns the last one placed. */
  async function burstOfOrders(count: number) {
    const customerId = `cust-burst-${Math.random().toString(36).slice(2, 10)}`;
    const placed = [];
    for (let i = 0; i < count; i += 1) placed.push(await system.place({ customerId }));
    return placed;
  }

  async function withNewVerification<T>(enabled: boolean, run: () => Promise<T>): Promise<T> {
    await system.db.features.set('NEW_VERIFICATION', enabled, 'workflow-test');
    try {
      return await run();
    } finally {
      await system.db.features.set('NEW_VERIFICATION', false, 'workflow-test');
    }
  }

  void test("NEW_VERIFICATION off: a customer's 7th order within a minute is processed", async () => {
    await withNewVerification(false, async () => {
      const orders = await burstOfOrders(7);
      const last = orders.at(-1);
      assert.ok(last);
      const result: OrderWorkflowResult = await last.handle.result();
      assert.equal(result.status, 'processed');
      assert.equal((await charges(last.order)).charges, 1);
    });
  });

  void test("NEW_VERIFICATION on: the same order is rejected with the rule's reason and never charged", async () => {
    await withNewVerification(true, async () => {
      const orders = await burstOfOrders(7);
      const last = orders.at(-1);
      assert.ok(last);
      const result: OrderWorkflowResult = await last.handle.result();
      assert.equal(result.status, 'rejected');
      assert.match(result.failureReason ?? '', /placed 7 orders within a minute \(limit 5\)/);
      const stored = await row(last.order);
      assert.equal(stored.status, 'rejected');
      assert.equal(stored.attempts, 0);
      assert.match(stored.failureReason ?? '', /within a minute/);
      const record = await charges(last.order);
      assert.equal(record.requests, 0);
      assert.equal(record.charges, 0);
      // The customer's first orders were within the limit and went through.
      const first: OrderWorkflowResult = await orders[0]!.handle.result();
      assert.equal(first.status, 'processed');
    });
  });

  void test('a blocked customer is rejected whatever the toggle, and the finance package never hears of it', async () => {
    const { order, handle } = await system.place({ customerId: 'cust-blocked' });
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'rejected');
    assert.equal((await row(order)).failureReason, 'customer cust-blocked is blocked');
    assert.equal((await charges(order)).requests, 0);
  });

  void test('a rejected order cannot be cancelled or retried: its workflow is closed', async () => {
    const { handle } = await system.place({ amount: '20000.00' });
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'rejected');
    assert.match(result.failureReason ?? '', /above the 10000 limit/);
    await assert.rejects(handle.signal(cancelSignal));
  });
});
