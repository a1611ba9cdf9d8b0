/**
 * The payment and status activities in a mock activity context, against the real finance
 * simulator on a loopback port and a real SQLite database: one test per answer the finance
 * package can give, each checking what the workflow, the operator and the customer's bill see.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { msOptionalToNumber } from '@temporalio/common/lib/time';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createOrderActivities,
  paymentIdempotencyKey,
  type ChargeInput,
  type ChargeResult,
  type OrderActivities,
} from '../../activities/orders';
import { FinanceClient } from '../../clients/finance';
import { openDatabase, type Database } from '../../db';
import { FeatureToggleService } from '../../db/features';
import { FAILURE_TYPES, type PaymentFailureDetails } from '../../domain/errors';
import type { NewOrder, Order, StatusChange } from '../../domain/order';
import { createLogger } from '../../observability/logger';
import { freshSqliteUrl } from '../support/database';
import { startFinance, type RunningFinance } from '../support/finance';
import { newOrder } from '../support/orders';
import { quietSdkLogger, unusedPort } from '../support/quiet';
import { waitFor } from '../support/wait';

const FINANCE_TIME_ZONE = 'Europe/London';
/** Long enough that no test waits for it: a call that must time out uses a short client timeout. */
const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;

interface ClientOptions {
  financeUrl?: string;
  timeoutMs?: number;
}

/** A fresh mock context per run: once cancelled, a MockActivityEnvironment stays cancelled. */
function activityEnv(attempt = 1, activityType = 'chargePayment'): MockActivityEnvironment {
  return new MockActivityEnvironment({ attempt, activityType }, { logger: quietSdkLogger });
}

/** Asserts that `promise` rejects with an ApplicationFailure and hands it over for more checks. */
async function applicationFailureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(
    caught instanceof ApplicationFailure,
    `expected an ApplicationFailure, got ${String(caught)}`,
  );
  return caught;
}

void describe('payment and status activities (real finance simulator, real SQLite)', () => {
  let finance: RunningFinance;
  let db: Database;

  before(async () => {
    // A hung call stays silent far longer than any client timeout used here.
    finance = await startFinance({ timeZone: FINANCE_TIME_ZONE, hangMs: 60_000 });
    db = await openDatabase(freshSqliteUrl());
  });
  beforeEach(() => finance.reset());
  after(async () => {
    await finance?.close();
    await db?.close();
  });

  const activities = ({
    financeUrl = finance.url,
    timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
  }: ClientOptions = {}): OrderActivities =>
    createOrderActivities({
      orders: db.orders,
      finance: new FinanceClient(financeUrl, timeoutMs),
      log: createLogger({ service: 'worker', silent: true }),
      financeTimeZone: FINANCE_TIME_ZONE,
      features: new FeatureToggleService(db.features, { ttlMs: 0 }),
    });

  /** Runs chargePayment in `env` (a fresh attempt-1 context unless given). */
  const charge = (
    input: ChargeInput,
    { env = activityEnv(), ...client }: ClientOptions & { env?: MockActivityEnvironment } = {},
  ): Promise<ChargeResult> =>
    env.run<[ChargeInput], ChargeResult, OrderActivities['chargePayment']>(
      activities(client).chargePayment,
      input,
    );

  /** Writes the order row, as the API does before the workflow starts, and returns the input. */
  const placeOrder = async (
    overrides: Partial<NewOrder> = {},
  ): Promise<{ order: Order; input: ChargeInput }> => {
    const fields = newOrder(overrides);
    const order = await db.orders.create(fields);
    const { id: orderId, amount, currency, datePlaced } = fields;
    return { order, input: { orderId, amount, currency, datePlaced } };
  };

  const row = async (order: Order): Promise<Order> => {
    const read = await db.orders.get(order.id);
    assert.ok(read, `order ${order.id} has a row`);
    return read;
  };
  const charges = (order: Order) => finance.charges(paymentIdempotencyKey(order.id));

  const assertUnavailable = (
    failure: ApplicationFailure,
    details: PaymentFailureDetails,
    message: RegExp,
  ) => {
    assert.equal(failure.type, FAILURE_TYPES.paymentUnavailable);
    assert.equal(failure.nonRetryable, false, 'a transient failure is retried');
    assert.deepEqual(failure.details, [details]);
    assert.match(failure.message, message);
  };

  void test("a 200 returns the payment reference, charges once, and sends the date in the package's local time", async () => {
    const { order, input } = await placeOrder({ datePlaced: '2026-07-01T09:00:00.000Z' });
    const result = await charge(input);

    assert.match(result.paymentReference, /^PAY-[0-9a-f]{16}$/);
    assert.equal(result.attempt, 1);
    const record = await charges(order);
    assert.equal(record.requests, 1);
    assert.equal(record.charges, 1);
    assert.equal(record.receipt?.paymentReference, result.paymentReference);
    assert.equal(record.receipt?.date, '2026-07-01T10:00:00+01:00');
    assert.equal(record.receipt?.orderId, order.id);
    assert.equal(record.receipt?.amount, '25.00');
    assert.equal(record.receipt?.currency, 'GBP');
    assert.equal((await row(order)).attempts, 1);
  });

  void test('a winter order date is sent at the +00:00 offset London has in January', async () => {
    const { order, input } = await placeOrder({ datePlaced: '2026-01-15T09:00:00.000Z' });
    await charge(input);
    assert.equal((await charges(order)).receipt?.date, '2026-01-15T09:00:00+00:00');
  });

  const rejections: {
    name: string;
    overrides: Partial<NewOrder>;
    code: string;
    reason: RegExp;
  }[] = [
    {
      name: 'an amount of zero',
      overrides: { amount: '0.00' },
      code: 'amount_not_positive',
      reason: /amount 0\.00 must be greater than zero/,
    },
    {
      name: 'an order date in the year 3000',
      overrides: { datePlaced: '3000-01-01T00:00:00.000Z' },
      code: 'date_in_future',
      reason: /date 3000-01-01T00:00:00\+00:00 is in the future/,
    },
    {
      name: 'an unknown currency',
      overrides: { currency: 'XYZ' },
      code: 'unknown_currency',
      reason: /currency XYZ is not an ISO 4217 code/,
    },
  ];
  for (const { name, overrides, code, reason } of rejections) {
    void test(`a 400 for ${name} is a non-retryable PaymentRejected naming ${code} and why`, async () => {
      const { order, input } = await placeOrder(overrides);
      const failure = await applicationFailureOf(charge(input));

      assert.equal(failure.type, FAILURE_TYPES.paymentRejected);
      assert.equal(failure.nonRetryable, true, 'retrying a rejected request cannot help');
      assert.match(failure.message, new RegExp(`\\(400 ${code}\\)`));
      assert.match(failure.message, reason);
      assert.deepEqual(failure.details, [{ attempt: 1, status: 400, ambiguous: false }]);
      const record = await charges(order);
      assert.equal(record.requests, 1);
      assert.equal(record.charges, 0);
      assert.equal((await row(order)).attempts, 1);
    });
  }

  // A 500 may come from a proxy in front of a backend that charged: the attempt asks first.
  for (const status of [500, 503] as const) {
    void test(`a ${status} is a retryable PaymentUnavailable carrying the status and attempt`, async () => {
      await finance.queueFaults(`status-${status}`);
      const { order, input } = await placeOrder();
      const failure = await applicationFailureOf(charge(input, { env: activityEnv(3) }));

      assertUnavailable(
        failure,
        { attempt: 3, status, ambiguous: false },
        new RegExp(`finance unavailable: ${status} `),
      );
      // No Retry-After: the retry policy's own backoff applies.
      assert.equal(failure.nextRetryDelay, undefined);
      assert.equal((await charges(order)).charges, 0);
      assert.equal((await row(order)).attempts, 1);
    });
  }

  void test("a 429 is a retryable PaymentUnavailable whose next retry waits Retry-After's 1 s", async () => {
    await finance.queueFaults('status-429');
    const { order, input } = await placeOrder();
    const failure = await applicationFailureOf(charge(input));

    assertUnavailable(failure, { attempt: 1, status: 429, ambiguous: false }, /429 rate_limited/);
    // The SDK keeps the Duration as given; a number is milliseconds.
    assert.equal(failure.nextRetryDelay, 1000);
    assert.equal(msOptionalToNumber(failure.nextRetryDelay ?? undefined), 1000);
    assert.equal((await charges(order)).charges, 0);
  });

  void test('a call that hangs past the client timeout is PaymentUnavailable: no answer within the timeout', async () => {
    await finance.queueFaults('hang');
    const { order, input } = await placeOrder();
    const started = Date.now();
    const failure = await applicationFailureOf(charge(input, { timeoutMs: 300 }));
    const elapsed = Date.now() - started;

    // Asked afterwards, the package had nothing under the key: a definite "not charged".
    assertUnavailable(
      failure,
      { attempt: 1, status: null, ambiguous: false },
      /^finance unavailable: no answer within 300 ms$/,
    );
    assert.ok(elapsed < 5_000, `gave up after the client timeout, not the hang (${elapsed} ms)`);
    const record = await charges(order);
    assert.equal(record.requests, 1);
    assert.equal(record.charges, 0);
  });

  void test('a dropped connection after the charge: the attempt asks the package and returns that charge, charged once', async () => {
    await finance.queueFaults('drop');
    const { order, input } = await placeOrder();
    const result = await charge(input, { env: activityEnv(1) });
    const record = await charges(order);
    assert.ok(record.receipt, 'the package charged before the answer was lost');
    assert.deepEqual(result, { paymentReference: record.receipt.paymentReference, attempt: 1 });
    assert.equal(record.requests, 1, 'looked up, not charged again');
    assert.equal(record.charges, 1);
    assert.equal((await row(order)).attempts, 1);
  });

  void test('a refused connection is PaymentUnavailable naming ECONNREFUSED', async () => {
    const financeUrl = `http://127.0.0.1:${await unusedPort()}`;
    const { order, input } = await placeOrder();
    const failure = await applicationFailureOf(charge(input, { financeUrl }));

    // The lookup cannot reach the package either: the outcome stays unknown, and the workflow
    // looks the charge up before it calls the order failed.
    assertUnavailable(
      failure,
      { attempt: 1, status: null, ambiguous: true },
      /^finance unavailable: .*ECONNREFUSED/,
    );
    assert.equal((await row(order)).attempts, 1);
  });

  void test('cancelling while the call hangs rejects with CancelledFailure and charges nothing', async () => {
    await finance.queueFaults('hang');
    const { order, input } = await placeOrder();
    const env = activityEnv();
    const running = charge(input, { env });
    running.catch(() => undefined); // awaited below; avoids an unhandled rejection meanwhile
    await waitFor(
      'the payment call to reach the finance package',
      () => charges(order),
      (c) => c.requests === 1,
      { timeoutMs: 5_000, everyMs: 20 },
    );

    const cancelledAt = Date.now();
    env.cancel();
    await assert.rejects(running, (error: unknown) => {
      assert.ok(
        error instanceof CancelledFailure,
        `expected CancelledFailure, got ${String(error)}`,
      );
      return true;
    });
    const elapsed = Date.now() - cancelledAt;
    assert.ok(elapsed < 2_000, `stopped at once, not at the client timeout (${elapsed} ms)`);
    const record = await charges(order);
    assert.equal(record.requests, 1);
    assert.equal(record.charges, 0);
    assert.equal((await row(order)).attempts, 1);
  });

  void test('the activity heartbeats while the call is in flight, and stops once it ends', async () => {
    await finance.queueFaults('hang');
    const { order, input } = await placeOrder();
    const env = activityEnv();
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    const running = charge(input, { env });
    running.catch(() => undefined); // awaited below

    await waitFor(
      'a heartbeat while the payment call hangs',
      () => Promise.resolve(heartbeats),
      (n) => n >= 1,
      { timeoutMs: 5_000, everyMs: 20 },
    );
    const inFlight = await charges(order);
    assert.equal(inFlight.requests, 1, 'the call reached the package');
    assert.equal(inFlight.charges, 0, 'and has not been answered');

    env.cancel();
    await assert.rejects(running, CancelledFailure);
    const atEnd = heartbeats;
    await sleep(1_500);
    assert.equal(heartbeats, atEnd, 'no heartbeat after the activity ended');
  });

  void describe('recordOrderStatus', () => {
    const record = (change: StatusChange) =>
      activityEnv(1, 'recordOrderStatus').run<
        [StatusChange],
        void,
        OrderActivities['recordOrderStatus']
      >(activities().recordOrderStatus, change);

    void test('applies a status change to the order row', async () => {
      const { order } = await placeOrder();
      await record({ orderId: order.id, status: 'processing', version: 1 });
      assert.equal((await row(order)).status, 'processing');

      await record({
        orderId: order.id,
        status: 'processed',
        version: 2,
        paymentReference: 'PAY-1',
      });
      const stored = await row(order);
      assert.equal(stored.status, 'processed');
      assert.equal(stored.paymentReference, 'PAY-1');
      assert.equal(stored.failureReason, null);
    });

    void test('a repeated or late change is harmless: the row keeps its newest status', async () => {
      const { order } = await placeOrder();
      await record({ orderId: order.id, status: 'failed', version: 2, failureReason: 'boom' });
      await record({ orderId: order.id, status: 'failed', version: 2, failureReason: 'boom' });
      await record({ orderId: order.id, status: 'processing', version: 1 });
      const stored = await row(order);
      assert.equal(stored.status, 'failed');
      assert.equal(stored.failureReason, 'boom');
    });

    void test('a missing order is a non-retryable OrderNotFound', async () => {
      const orderId = newOrder().id;
      const failure = await applicationFailureOf(
        record({ orderId, status: 'processing', version: 1 }),
      );
      assert.equal(failure.type, 'OrderNotFound');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`order ${orderId} has no row`));
      assert.equal(await db.orders.get(orderId), null);
    });
  });
});
