/**
 * The kept counts by status and the launch outbox (migration 006): both follow every write to
 * `orders`, from two connections writing at once, and equal a full count afterwards.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { ORDER_STATUSES, type OrderStatus } from '../../domain/order';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';

/** The status paths the workflow writes, each step a new version. */
const PATHS: OrderStatus[][] = [
  ['processing', 'processed'],
  ['processing', 'failed', 'processing', 'processed'],
  ['processing', 'failed', 'cancelled'],
  ['processing', 'rejected'],
  ['cancelled'],
  ['processing'],
  [],
];

for (const target of DATABASES) {
  void describe(`status counts and launch outbox in ${target.name}`, () => {
    let url: string;
    let db: Database;
    let second: Database;

    before(async () => {
      url = await target.url();
      db = await openDatabase(url);
      second = await openDatabase(url);
    });
    after(async () => {
      await second?.close();
      await db?.close();
    });

    void test('concurrent inserts, status changes, replays and imports keep the counts exact', async () => {
      const writers = [db, second];
      await Promise.all(
        Array.from({ length: 60 }, async (_, index) => {
          const writer = writers[index % 2] as Database;
          const other = writers[(index + 1) % 2] as Database;
          const order = await writer.orders.create(newOrder());
          const path = PATHS[index % PATHS.length] ?? [];
          for (const [step, status] of path.entries()) {
            const change = { orderId: order.id, status, version: step + 1 };
            await writer.orders.applyStatus(change);
            // A repeated activity from the other process: stale, counted once.
            await other.orders.applyStatus(change);
          }
          await writer.orders.recordPaymentAttempt(order.id);
        }),
      );
      await db.orders.importOrders(
        ORDER_STATUSES.map((status) => ({
          ...newOrder(),
          id: randomUUID(),
          status,
          createdAt: new Date(),
        })),
      );
      const kept = await db.orders.countByStatus();
      assert.deepEqual(kept, await db.orders.countByStatusScan());
      assert.equal(
        Object.values(kept).reduce((sum, n) => sum + n, 0),
        60 + ORDER_STATUSES.length,
      );
    });

    void test('an order waits in the outbox until its start is recorded', async () => {
      const order = await db.orders.create(newOrder());
      const now = new Date(Date.now() + 1000);
      const claimed = await db.launches.claim(now, new Date(now.getTime() + 30_000), 1000);
      const mine = claimed.find((c) => c.orderId === order.id);
      assert.ok(mine, 'a new order is due at once');
      assert.equal(mine.attempts, 1);
      assert.equal(mine.acceptedAt.toISOString(), order.createdAt);
      assert.equal((await db.launches.claim(now, now, 1000)).length, 0, 'held by its lease');
      await db.orders.markWorkflowStarted(order.id);
      const later = new Date(now.getTime() + 60_000);
      const again = await db.launches.claim(later, later, 1000);
      assert.ok(!again.some((c) => c.orderId === order.id), 'recorded: gone from the outbox');
    });

    void test('two launchers claiming at once never get the same entry', async () => {
      const far = new Date(Date.now() + 3_600_000);
      const earlier = await db.launches.claim(far, far, 10_000);
      await db.orders.markWorkflowsStarted(earlier.map((c) => c.orderId));
      const orders = await Promise.all(
        Array.from({ length: 40 }, () => db.orders.create(newOrder())),
      );
      const now = new Date(Date.now() + 1000);
      const lease = new Date(now.getTime() + 30_000);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          (index % 2 ? second : db).launches.claim(now, lease, 7),
        ),
      );
      const ids = claims.flat().map((c) => c.orderId);
      assert.equal(new Set(ids).size, ids.length, 'no entry claimed twice');
      for (const order of orders) assert.ok(ids.includes(order.id), `${order.id} claimed`);
      await db.orders.markWorkflowsStarted(orders.map((o) => o.id));
      assert.equal((await db.launches.backlog()).waiting, 0);
    });
  });
}
