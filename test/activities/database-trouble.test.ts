/**
 * What database trouble does to the activities, on a real PostgreSQL (which, unlike SQLite,
 * enforces column lengths): a write the database refuses for good is counted and reported instead
 * of retried forever, an outage stays retryable, and neither costs a payment attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Sequelize } from 'sequelize';
import {
  createOrderActivities,
  paymentIdempotencyKey,
  type OrderActivities,
} from '../../activities/orders';
import { FinanceClient } from '../../clients/finance';
import { openDatabase, type Database } from '../../db';
import { isPermanentWriteError } from '../../db/errors';
import { FeatureToggleService } from '../../db/features';
import { FAILURE_TYPES } from '../../domain/errors';
import { createLogger } from '../../observability/logger';
import { createWorkerMetrics, METRICS } from '../../observability/metrics';
import { freshPostgresUrl } from '../support/database';
import { startFinance, type RunningFinance } from '../support/finance';
import { newOrder } from '../support/orders';
import { quietSdkLogger, unusedPort } from '../support/quiet';

void describe('activities and database trouble (real PostgreSQL)', () => {
  let finance: RunningFinance;
  let db: Database;
  let url: string;

  before(async () => {
    finance = await startFinance({ timeZone: 'Europe/London' });
    url = await freshPostgresUrl();
    db = await openDatabase(url);
  });
  after(async () => {
    await finance?.close();
    await db?.close();
  });

  const activitiesOn = (database: Database, metrics = createWorkerMetrics()) =>
    createOrderActivities({
      orders: database.orders,
      finance: new FinanceClient(finance.url, 5_000),
      log: createLogger({ service: 'worker', silent: true }),
      financeTimeZone: 'Europe/London',
      features: new FeatureToggleService(database.features, { ttlMs: 0 }),
      metrics,
    });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) =>
    new MockActivityEnvironment({ attempt: 1 }, { logger: quietSdkLogger }).run(fn, ...args);

  void test('a status the database refuses for good is a non-retryable StatusWriteRejected, counted for the alert', async () => {
    // A column narrower than the code expects: what a missing migration looks like.
    const narrow = await openDatabase(await freshPostgresUrl());
    try {
      await narrow.sequelize.query(
        'ALTER TABLE orders ALTER COLUMN failure_reason TYPE varchar(10)',
      );
      const order = await narrow.orders.create(newOrder());
      const metrics = createWorkerMetrics();
      const { recordOrderStatus } = activitiesOn(narrow, metrics);
      let caught: unknown;
      await assert.rejects(
        run(recordOrderStatus, {
          orderId: order.id,
          status: 'failed',
          version: 1,
          failureReason: 'finance rejected the payment: a reason longer than ten characters',
        }),
        (error: unknown) => {
          caught = error;
          return true;
        },
      );
      assert.ok(caught instanceof ApplicationFailure);
      assert.equal(caught.type, FAILURE_TYPES.statusWriteRejected);
      assert.equal(caught.nonRetryable, true);
      assert.match(caught.message, /refused the failed status: .*too long/);
      const exported = await metrics.registry.getSingleMetricAsString(METRICS.statusWriteFailures);
      assert.match(exported, /order_status_write_failures_total\{status="failed"\} 1/);
      assert.equal((await narrow.orders.get(order.id))?.status, 'queued', 'nothing was written');
    } finally {
      await narrow.close();
    }
  });

  void test('an outage is not a refusal: connection errors stay retryable', async () => {
    const unreachable = new Sequelize(`postgres://orders@127.0.0.1:${await unusedPort()}/orders`, {
      logging: false,
    });
    let caught: unknown;
    try {
      await unreachable.authenticate();
    } catch (error) {
      caught = error;
    } finally {
      await unreachable.close();
    }
    assert.ok(caught instanceof Error, 'the connection was refused');
    assert.equal(isPermanentWriteError(caught), false);
  });

  void test('a database that cannot count the attempt does not cost the payment: charged once', async () => {
    const order = await db.orders.create(newOrder());
    // A second handle, closed: every query on it fails at once.
    const broken = await openDatabase(url);
    await broken.close();
    const { chargePayment } = createOrderActivities({
      orders: broken.orders,
      finance: new FinanceClient(finance.url, 5_000),
      log: createLogger({ service: 'worker', silent: true }),
      financeTimeZone: 'Europe/London',
      features: new FeatureToggleService(db.features, { ttlMs: 0 }),
    } satisfies Parameters<typeof createOrderActivities>[0]);
    const result = await run<Parameters<OrderActivities['chargePayment']>, unknown>(chargePayment, {
      orderId: order.id,
      amount: order.amount,
      currency: order.currency,
      datePlaced: order.datePlaced,
    });
    assert.match(JSON.stringify(result), /PAY-/);
    assert.equal((await finance.charges(paymentIdempotencyKey(order.id))).charges, 1);
  });
});
