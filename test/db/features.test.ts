import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { FeatureToggleService } from '../../db/features';
import { FEATURE_TOGGLE_CHANGES_TABLE } from '../../db/models';
import { FEATURES, type FeatureToggle } from '../../domain/features';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';

const TTL_MS = 2_000;

/** The database's toggle repository, with its reads counted. */
function countingReads(db: Database) {
  const reader = {
    reads: 0,
    list: (): Promise<FeatureToggle[]> => {
      reader.reads += 1;
      return db.features.list();
    },
  };
  return reader;
}

for (const target of DATABASES) {
  void describe(`feature toggles in ${target.name}`, () => {
    /** A fresh database per test: toggles are global, so tests must not see each other's flips. */
    async function freshDatabase(t: TestContext): Promise<Database> {
      const db = await openDatabase(await target.url());
      t.after(() => db.close());
      return db;
    }

    void test('every toggle has its default until it is changed, and reading writes nothing', async (t) => {
      const db = await freshDatabase(t);
      const expected = Object.entries(FEATURES).map(([name, feature]) => ({
        name,
        description: feature.description,
        enabled: feature.defaultEnabled,
        updatedBy: null,
        updatedAt: null,
      }));
      assert.deepEqual(await db.features.list(), expected);
      assert.deepEqual(await db.features.get('NEW_VERIFICATION'), expected[0]);
      assert.deepEqual(await db.features.changes({ limit: 50 }), []);
    });

    void test('a change writes the toggle and one audit row with who and when', async (t) => {
      const db = await freshDatabase(t);
      const before = Date.now();
      const written = await db.features.set('NEW_VERIFICATION', true, 'alice');
      assert.equal(written.enabled, true);
      assert.equal(written.previous, false);
      assert.equal(written.updatedBy, 'alice');
      assert.ok(Date.parse(written.updatedAt ?? '') >= before - 1_000);

      const stored = await db.features.get('NEW_VERIFICATION');
      assert.deepEqual(stored, {
        name: 'NEW_VERIFICATION',
        description: FEATURES.NEW_VERIFICATION.description,
        enabled: true,
        updatedBy: 'alice',
        updatedAt: written.updatedAt,
      });
      assert.deepEqual(await db.features.list(), [stored]);
      assert.deepEqual(await db.features.changes({ limit: 50 }), [
        {
          name: 'NEW_VERIFICATION',
          enabled: true,
          changedBy: 'alice',
          changedAt: written.updatedAt,
        },
      ]);
    });

    void test('two changes leave two audit rows, newest first, each knowing the value it replaced', async (t) => {
      const db = await freshDatabase(t);
      const on = await db.features.set('NEW_VERIFICATION', true, 'alice');
      const off = await db.features.set('NEW_VERIFICATION', false, 'bob');
      assert.equal(on.previous, false);
      assert.equal(off.previous, true);
      assert.equal((await db.features.get('NEW_VERIFICATION')).enabled, false);
      assert.deepEqual(
        (await db.features.changes({ limit: 50 })).map((c) => [c.changedBy, c.enabled]),
        [
          ['bob', false],
          ['alice', true],
        ],
      );
      const latest = await db.features.changes({ name: 'NEW_VERIFICATION', limit: 1 });
      assert.deepEqual(
        latest.map((c) => c.changedBy),
        ['bob'],
      );
    });

    void test('changes made at the same moment from several processes are all recorded, one after another', async (t) => {
      // Separate handles, as the API processes of a deployment would have: only the database's
      // locks keep their transactions apart. The first change of a toggle inserts its row, so the
      // first changes race for it.
      const url = await target.url();
      const db = await openDatabase(url);
      const handles = [db, await openDatabase(url), await openDatabase(url)];
      t.after(() => Promise.all(handles.map((handle) => handle.close())));
      const results = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) =>
          (handles[i % handles.length] ?? db).features.set(
            'NEW_VERIFICATION',
            i % 2 === 0,
            `op-${i}`,
          ),
        ),
      );
      const oldestFirst = (await db.features.changes({ limit: 50 })).reverse();
      assert.equal(oldestFirst.length, 6);
      // Serialised: each change replaced exactly the value the one before it wrote.
      let expectedPrevious: boolean = FEATURES.NEW_VERIFICATION.defaultEnabled;
      for (const change of oldestFirst) {
        const result = results.find((r) => r.updatedBy === change.changedBy);
        assert.ok(result, change.changedBy);
        assert.equal(result.previous, expectedPrevious, `the value ${change.changedBy} replaced`);
        expectedPrevious = change.enabled;
      }
      const toggle = await db.features.get('NEW_VERIFICATION');
      assert.equal(toggle.enabled, oldestFirst.at(-1)?.enabled);
      assert.equal(toggle.updatedBy, oldestFirst.at(-1)?.changedBy);
    });

    void test('when the audit row cannot be written, the toggle keeps its value', async (t) => {
      const db = await freshDatabase(t);
      await db.features.set('NEW_VERIFICATION', true, 'alice');
      const qi = db.sequelize.getQueryInterface();
      const aside = `${FEATURE_TOGGLE_CHANGES_TABLE}_aside`;
      await qi.renameTable(FEATURE_TOGGLE_CHANGES_TABLE, aside);
      try {
        await assert.rejects(db.features.set('NEW_VERIFICATION', false, 'mallory'));
      } finally {
        await qi.renameTable(aside, FEATURE_TOGGLE_CHANGES_TABLE);
      }
      const toggle = await db.features.get('NEW_VERIFICATION');
      assert.equal(toggle.enabled, true);
      assert.equal(toggle.updatedBy, 'alice');
      assert.equal((await db.features.changes({ limit: 50 })).length, 1);
    });

    void test('the toggle service reads once per TTL: a flip is seen only after the TTL', async (t) => {
      const db = await freshDatabase(t);
      let now = 1_000_000;
      const reader = countingReads(db);
      const service = new FeatureToggleService(reader, { ttlMs: TTL_MS, now: () => now });

      assert.equal(await service.isEnabled('NEW_VERIFICATION'), false);
      await db.features.set('NEW_VERIFICATION', true, 'alice');
      now += TTL_MS - 1;
      assert.equal(await service.isEnabled('NEW_VERIFICATION'), false, 'still cached');
      assert.equal(reader.reads, 1);

      now += 1;
      assert.equal(await service.isEnabled('NEW_VERIFICATION'), true, 'read again after the TTL');
      assert.equal(reader.reads, 2);

      await db.features.set('NEW_VERIFICATION', false, 'bob');
      service.invalidate();
      assert.equal(await service.isEnabled('NEW_VERIFICATION'), false, 'read again at once');
      assert.equal(reader.reads, 3);
    });

    void test('concurrent callers of the toggle service share one read', async (t) => {
      const db = await freshDatabase(t);
      await db.features.set('NEW_VERIFICATION', true, 'alice');
      const reader = countingReads(db);
      const service = new FeatureToggleService(reader, { ttlMs: TTL_MS });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => service.isEnabled('NEW_VERIFICATION')),
      );
      assert.deepEqual(new Set(answers), new Set([true]));
      assert.equal(reader.reads, 1);
    });

    void test("counting a customer's orders in a window counts only theirs, both ends included", async (t) => {
      const db = await freshDatabase(t);
      const customer = `cust-${randomUUID()}`;
      const to = new Date('2026-07-01T09:01:00.000Z');
      const from = new Date(to.getTime() - 60_000);
      const at = (offsetMs: number) => new Date(to.getTime() + offsetMs);
      const order = (customerId: string, createdAt: Date) => ({
        ...newOrder({ customerId }),
        status: 'queued' as const,
        createdAt,
      });
      await db.orders.importOrders([
        order(customer, at(-60_001)), // just before the window
        order(customer, at(-60_000)), // its first instant
        order(customer, at(-30_000)),
        order(customer, at(0)), // its last instant
        order(customer, at(1)), // just after
        order(`${customer}-other`, at(-10_000)), // someone else, inside the window
      ]);
      assert.equal(await db.orders.countByCustomerBetween(customer, from, to), 3);
      assert.equal(await db.orders.countByCustomerBetween(`${customer}-other`, from, to), 1);
      assert.equal(await db.orders.countByCustomerBetween('nobody', from, to), 0);
    });
  });
}

void describe('the toggle service without a database', () => {
  void test('a failed read is not kept: its callers get the error, the next call reads again', async () => {
    let reads = 0;
    const service = new FeatureToggleService(
      {
        list: () => {
          reads += 1;
          if (reads === 1) return Promise.reject(new Error('database unavailable'));
          return Promise.resolve([{ ...toggle(), enabled: true }]);
        },
      },
      { ttlMs: TTL_MS },
    );
    await assert.rejects(service.isEnabled('NEW_VERIFICATION'), /database unavailable/);
    assert.equal(await service.isEnabled('NEW_VERIFICATION'), true);
    assert.equal(reads, 2);
  });

  void test('a read that started before an invalidation does not refill the cache', async () => {
    let value = false;
    let finishFirst: (() => void) | null = null;
    let reads = 0;
    const service = new FeatureToggleService(
      {
        list: async () => {
          reads += 1;
          const seen = value;
          if (reads === 1) await new Promise<void>((resolve) => (finishFirst = resolve));
          return [{ ...toggle(), enabled: seen }];
        },
      },
      { ttlMs: 60_000 },
    );
    const early = service.isEnabled('NEW_VERIFICATION');
    value = true; // the flip commits while the first read is still out
    service.invalidate();
    assert.equal(await service.isEnabled('NEW_VERIFICATION'), true);
    (finishFirst as (() => void) | null)?.();
    assert.equal(await early, false);
    assert.equal(await service.isEnabled('NEW_VERIFICATION'), true, 'the stale read was dropped');
    assert.equal(reads, 2);
  });
});

function toggle(): FeatureToggle {
  return {
    name: 'NEW_VERIFICATION',
    description: FEATURES.NEW_VERIFICATION.description,
    enabled: false,
    updatedBy: null,
    updatedAt: null,
  };
}
