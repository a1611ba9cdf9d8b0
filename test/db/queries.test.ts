/**
 * The API's reads and writes on the order table, and proof from the query planner that the
 * dashboard's reads use the indexes (so they stay fast at a million rows; see
 * `scripts/seed-orders.ts` for measured times).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { QueryTypes, Sequelize, UniqueConstraintError } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { openDatabase, type Database } from '../../db';
import { migrations } from '../../db/migrations';
import type { ImportedOrder } from '../../db/orders';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';

const MINUTE = 60_000;
const HISTORY = 5_000;

/** Two hours of orders, one every 1.5 s: mostly processed, some failed, queued, unstarted. */
function history(now: number): ImportedOrder[] {
  return Array.from({ length: HISTORY }, (_, i) => {
    const createdAt = new Date(now - i * 1_500);
    const status = (['failed', 'queued', 'processing'] as const)[i % 10] ?? 'processed';
    return {
      ...newOrder({ customerId: `hist-${i % 50}` }),
      status,
      createdAt,
      processedAt: status === 'processed' ? new Date(createdAt.getTime() + 2_000) : null,
      workflowStartedAt: i % 500 === 0 ? null : createdAt,
    };
  });
}

for (const target of DATABASES) {
  void describe(`order queries in ${target.name}`, () => {
    let db: Database;
    let seededAt: number;
    const statements: string[] = [];

    before(async () => {
      db = await openDatabase(await target.url(), { logging: (sql) => statements.push(sql) });
      seededAt = Date.now();
      const rows = history(seededAt);
      for (let i = 0; i < rows.length; i += 1000)
        await db.orders.importOrders(rows.slice(i, i + 1000));
      await db.sequelize.query(db.dialect === 'sqlite' ? 'ANALYZE' : 'ANALYZE orders');
    });
    after(() => db.close());

    /** The SQL of the last SELECT that `run` sent, values inlined as Sequelize sends them. */
    async function selectOf(run: () => Promise<unknown>): Promise<string> {
      statements.length = 0;
      await run();
      const sql = [...statements].reverse().find((s) => /\bSELECT\b/.test(s));
      assert.ok(sql, 'a SELECT was sent');
      return sql.replace(/^Executing \([^)]*\): /, '');
    }

    /**
     * The planner's plan as text. On a table this small PostgreSQL may prefer to scan it all, or
     * to fetch a customer's hundred rows by bitmap and sort them; switching those off asks what
     * it does at scale, where they cost far more than walking the index in order.
     */
    async function planOf(sql: string): Promise<string> {
      if (db.dialect === 'sqlite') {
        const rows = await db.sequelize.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, {
          type: QueryTypes.SELECT,
        });
        return rows.map((row) => row.detail).join('\n');
      }
      return db.sequelize.transaction(async (transaction) => {
        for (const plan of ['enable_seqscan', 'enable_bitmapscan']) {
          await db.sequelize.query(`SET LOCAL ${plan} = off`, { transaction });
        }
        const rows = await db.sequelize.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, {
          type: QueryTypes.SELECT,
          transaction,
        });
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
    }

    /** The plan reads `index` and never sorts the rows itself. */
    function assertIndexed(plan: string, index: string, { sorted = true } = {}): void {
      const uses =
        db.dialect === 'sqlite'
          ? new RegExp(`USING (COVERING )?INDEX ${index}\\b`)
          : new RegExp(`Index (Only )?Scan( Backward)? using ${index}\\b`);
      assert.match(plan, uses, plan);
      if (sorted) assert.doesNotMatch(plan, /TEMP B-TREE FOR ORDER BY|\bSort\b/, plan);
    }

    void test('the newest-first listing reads orders_created in order, without sorting', async () => {
      const sql = await selectOf(() => db.orders.list({ limit: 51 }));
      assertIndexed(await planOf(sql), 'orders_created');
    });

    void test('a status listing, first page and next, reads orders_status_created without sorting', async () => {
      const [first] = await db.orders.list({ status: 'failed', limit: 1 });
      assert.ok(first);
      for (const after of [undefined, first]) {
        const sql = await selectOf(() =>
          db.orders.list({ status: 'failed', limit: 51, ...(after ? { after } : {}) }),
        );
        assertIndexed(await planOf(sql), 'orders_status_created');
      }
    });

    void test("a customer's listing reads orders_customer_created without sorting", async () => {
      const sql = await selectOf(() => db.orders.list({ customerId: 'hist-7', limit: 51 }));
      assertIndexed(await planOf(sql), 'orders_customer_created');
    });

    void test('the search filters read their own index without sorting: product, failure kind, time range', async () => {
      const product = await selectOf(() => db.orders.list({ product: 'Gadget', limit: 51 }));
      assertIndexed(await planOf(product), 'orders_product_created');
      const kind = await selectOf(() => db.orders.list({ failureKinds: ['rejected'], limit: 51 }));
      assertIndexed(await planOf(kind), 'orders_failure_kind_created');
      const range = await selectOf(() =>
        db.orders.list({
          placedFrom: new Date(seededAt - 60 * MINUTE).toISOString(),
          placedTo: new Date(seededAt - 30 * MINUTE).toISOString(),
          limit: 51,
        }),
      );
      assertIndexed(await planOf(range), 'orders_created');
    });

    void test('several statuses are one index walk per status, merged newest first', async () => {
      const both = await db.orders.list({ statuses: ['failed', 'queued'], limit: 30 });
      const all = await db.orders.list({ limit: 300 });
      assert.deepEqual(
        both.map((o) => o.id),
        all
          .filter((o) => o.status === 'failed' || o.status === 'queued')
          .slice(0, 30)
          .map((o) => o.id),
      );
      const last = both.at(-1);
      assert.ok(last);
      const next = await db.orders.list({ statuses: ['failed', 'queued'], limit: 5, after: last });
      assert.deepEqual(
        next.map((o) => o.id),
        all
          .filter((o) => o.status === 'failed' || o.status === 'queued')
          .slice(30, 35)
          .map((o) => o.id),
      );
      const sql = await selectOf(() =>
        db.orders.list({ statuses: ['failed', 'queued'], limit: 51 }),
      );
      assertIndexed(await planOf(sql), 'orders_status_created');
    });

    void test('per-minute counts are index range counts on orders_created and orders_processed_at', async () => {
      const since = new Date(Date.now() - 60 * MINUTE);
      for (const [column, index] of [
        ['created_at', 'orders_created'],
        ['processed_at', 'orders_processed_at'],
      ] as const) {
        const plan = await planOf(
          await selectOf(() => db.orders.countPerMinute(column, since, 60)),
        );
        // One range per minute, each within the index: never a scan of the table.
        const ranges =
          db.dialect === 'sqlite'
            ? new RegExp(
                `SEARCH orders USING COVERING INDEX ${index} \\(${column}>\\? AND ${column}<\\?\\)`,
                'g',
              )
            : new RegExp(`Index (Only )?Scan using ${index}\\b`, 'g');
        assert.equal(plan.match(ranges)?.length, 60, plan);
        assert.doesNotMatch(plan, /Seq Scan|SCAN orders(?! USING)|TEMP B-TREE/, plan);
      }
    });

    void test("the reconciler's query reads the small orders_unstarted index", async () => {
      const sql = await selectOf(() => db.orders.listUnstarted(new Date(), 100));
      assertIndexed(await planOf(sql), 'orders_unstarted');
    });

    void test('per-minute counts count each UTC minute, oldest first', async () => {
      // Ten whole minutes before the history was written: one order every 1.5 s, 40 a minute.
      const from = new Date(Math.floor(seededAt / MINUTE) * MINUTE - 10 * MINUTE);
      const buckets = await db.orders.countPerMinute('created_at', from, 10);
      assert.deepEqual(
        buckets.map((b) => b.minute),
        Array.from({ length: 10 }, (_, i) => new Date(from.getTime() + i * MINUTE).toISOString()),
      );
      for (const { count } of buckets) assert.ok(count >= 39 && count <= 41, String(count));
    });

    void test('pages split rows with the same created_at by id, without gaps or repeats', async () => {
      const createdAt = new Date(Date.now() - 3 * 3600_000);
      const customerId = `tie-${randomUUID()}`;
      const ties = Array.from({ length: 5 }, () => ({
        ...newOrder({ customerId }),
        status: 'queued' as const,
        createdAt,
      }));
      await db.orders.importOrders(ties);
      const seen: string[] = [];
      let after: { createdAt: string; id: string } | undefined;
      for (let page = 0; page < 3; page += 1) {
        const rows = await db.orders.list({ customerId, limit: 2, ...(after ? { after } : {}) });
        seen.push(...rows.map((row) => row.id));
        after = rows.at(-1);
      }
      assert.deepEqual(
        seen,
        ties
          .map((t) => t.id)
          .sort()
          .reverse(),
      );
    });

    void test('processed_at is set when an order becomes processed, and only then', async () => {
      const order = await db.orders.create(newOrder());
      await db.orders.applyStatus({ orderId: order.id, status: 'processing', version: 1 });
      assert.equal((await db.orders.get(order.id))?.processedAt, null);
      const before = Date.now();
      await db.orders.applyStatus({ orderId: order.id, status: 'processed', version: 2 });
      const processedAt = Date.parse((await db.orders.get(order.id))?.processedAt ?? '');
      assert.ok(processedAt >= before - 1000 && processedAt <= Date.now() + 1000);
    });

    void test('an Idempotency-Key belongs to one order', async () => {
      const key = randomUUID();
      const first = await db.orders.create({
        ...newOrder(),
        idempotencyKey: key,
        requestHash: 'a',
      });
      await assert.rejects(
        db.orders.create({ ...newOrder(), idempotencyKey: key, requestHash: 'b' }),
        UniqueConstraintError,
      );
      const found = await db.orders.findByIdempotencyKey(key);
      assert.equal(found?.order.id, first.id);
      assert.equal(found?.requestHash, 'a');
      // Orders without a key never collide with each other.
      await db.orders.create(newOrder());
      await db.orders.create(newOrder());
    });

    void test('orders without a recorded workflow are found oldest first, then marked once', async () => {
      const order = await db.orders.create(newOrder());
      const pending = await db.orders.listUnstarted(new Date(Date.now() + 1000), 10_000);
      assert.ok(pending.some((o) => o.id === order.id));
      const times = pending.map((o) => Date.parse(o.createdAt));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
      );
      const at = new Date('2026-01-01T00:00:00Z');
      await db.orders.markWorkflowStarted(order.id, at);
      await db.orders.markWorkflowStarted(order.id, new Date());
      assert.equal((await db.orders.get(order.id))?.workflowStartedAt, at.toISOString());
    });
  });

  void describe(`migration 002 on an existing ${target.name} database`, () => {
    void test('orders written before the API are marked as having their workflow, not re-run', async () => {
      const url = await target.url();
      const sequelize = url.startsWith('sqlite:')
        ? new Sequelize({ dialect: 'sqlite', storage: url.slice('sqlite:'.length), logging: false })
        : new Sequelize(url, { logging: false });
      // The database as the previous release left it: migration 001 only, one processed order.
      await new Umzug({
        migrations: migrations.slice(0, 1),
        context: sequelize.getQueryInterface(),
        storage: new SequelizeStorage({ sequelize }),
        logger: undefined,
      }).up();
      const old = newOrder();
      const at = new Date('2026-05-01T12:00:00Z');
      await sequelize.getQueryInterface().bulkInsert('orders', [
        {
          id: old.id,
          customer_id: old.customerId,
          product: old.product,
          quantity: old.quantity,
          amount: old.amount,
          currency: old.currency,
          date_placed: new Date(old.datePlaced),
          status: 'processed',
          status_version: 3,
          attempts: 1,
          created_at: at,
          updated_at: new Date(at.getTime() + 5000),
        },
      ]);
      await sequelize.close();

      const db = await openDatabase(url);
      try {
        const read = await db.orders.get(old.id);
        assert.equal(read?.workflowStartedAt, at.toISOString());
        assert.equal(read?.processedAt, new Date(at.getTime() + 5000).toISOString());
        assert.equal(read?.unitPrice, null);
        assert.deepEqual(await db.orders.listUnstarted(new Date(), 10), []);
      } finally {
        await db.close();
      }
    });
  });
}
