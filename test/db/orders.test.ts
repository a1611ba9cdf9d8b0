import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';

for (const target of DATABASES) {
  void describe(`orders in ${target.name}`, () => {
    let url: string;
    let db: Database;

    before(async () => {
      url = await target.url();
      db = await openDatabase(url);
    });
    after(() => db.close());

    void test('a new order is stored queued with its amount and UTC date as given', async () => {
      const order = newOrder({ amount: '1234.50', datePlaced: '2026-03-05T23:15:00.000Z' });
      const created = await db.orders.create(order);
      assert.equal(created.status, 'queued');
      const read = await db.orders.get(order.id);
      assert.ok(read);
      assert.equal(read.amount, '1234.50');
      assert.equal(read.datePlaced, '2026-03-05T23:15:00.000Z');
      assert.equal(read.attempts, 0);
      assert.equal(read.failureReason, null);
    });

    void test('an unknown id reads as null', async () => {
      assert.equal(await db.orders.get('no-such-order'), null);
    });

    void test('a status write applied twice leaves the same row', async () => {
      const order = newOrder();
      await db.orders.create(order);
      const change = {
        orderId: order.id,
        status: 'processed' as const,
        version: 2,
        paymentReference: 'PAY-1',
      };
      assert.equal(await db.orders.applyStatus(change), 'applied');
      const first = await db.orders.get(order.id);
      assert.equal(await db.orders.applyStatus(change), 'stale');
      const second = await db.orders.get(order.id);
      assert.equal(second?.status, 'processed');
      assert.equal(second?.paymentReference, 'PAY-1');
      assert.equal(second?.updatedAt, first?.updatedAt);
    });

    void test('a late write with an older version never moves an order backwards', async () => {
      const order = newOrder();
      await db.orders.create(order);
      await db.orders.applyStatus({
        orderId: order.id,
        status: 'failed',
        version: 3,
        failureReason: 'rejected',
      });
      assert.equal(
        await db.orders.applyStatus({ orderId: order.id, status: 'processing', version: 1 }),
        'stale',
      );
      const read = await db.orders.get(order.id);
      assert.equal(read?.status, 'failed');
      assert.equal(read?.failureReason, 'rejected');
    });

    void test('a status write for a missing order says so', async () => {
      assert.equal(
        await db.orders.applyStatus({ orderId: 'missing', status: 'processing', version: 1 }),
        'missing',
      );
    });

    void test('payment attempts are counted one by one', async () => {
      const order = newOrder();
      await db.orders.create(order);
      await db.orders.recordPaymentAttempt(order.id);
      await db.orders.recordPaymentAttempt(order.id);
      assert.equal((await db.orders.get(order.id))?.attempts, 2);
    });

    void test('counts by status include every status, zero when none', async () => {
      const before = await db.orders.countByStatus();
      const order = newOrder();
      await db.orders.create(order);
      await db.orders.applyStatus({ orderId: order.id, status: 'cancelled', version: 1 });
      const counts = await db.orders.countByStatus();
      assert.deepEqual(Object.keys(counts).sort(), [
        'cancelled',
        'failed',
        'processed',
        'processing',
        'queued',
        'rejected',
      ]);
      assert.equal(counts.cancelled, before.cancelled + 1);
      assert.equal(counts.queued, before.queued);
    });

    void test('migrations are idempotent: opening the same database again, twice at once, works', async () => {
      const [a, b] = await Promise.all([openDatabase(url), openDatabase(url)]);
      const order = newOrder();
      await a.orders.create(order);
      assert.equal((await b.orders.get(order.id))?.id, order.id);
      await Promise.all([a.close(), b.close()]);
    });
  });
}
