/**
 * Fault suite, bulk phase: the whole system as separate processes (Temporal dev server,
 * PostgreSQL, finance simulator, worker, API). Orders fail while the finance package is down;
 * once it is back, one bulk retry runs while the worker is SIGKILLed and restarted, twice. After:
 * every matching order got the retry exactly once (one accepted Update in its history, one charge
 * at the package, the batch's outcome `applied`), and the batch completed.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { BulkActionResponse } from '../../api/schemas';
import { openDatabase, type Database } from '../../db';
import type { ChargeRecord } from '../../domain/finance';
import { workflowIdForOrder } from '../../domain/temporal';
import { createPostgresCluster, type PostgresCluster } from '../../scripts/lib/postgres';
import { startStack, type Stack } from '../../scripts/lib/stack';
import { waitFor } from '../support/wait';
import { financeControl } from './support';

const ORDERS = 24;
const RESULTS = resolve(__dirname, '../../test-results');

let cluster: PostgresCluster;
let stack: Stack;
let db: Database;

before(
  async () => {
    cluster = await createPostgresCluster({ password: `pw-${randomBytes(12).toString('hex')}` });
    const dir = join(RESULTS, 'faults-bulk');
    rmSync(dir, { recursive: true, force: true });
    stack = await startStack({
      dir,
      databaseUrl: cluster.url,
      env: { LOG_LEVEL: 'info', PAYMENT_MAX_ATTEMPTS: '2', FINANCE_TIMEOUT: '5s' },
    });
    db = await openDatabase(cluster.url);
  },
  { timeout: 180_000 },
);

after(async () => {
  await db?.close();
  await stack?.stop();
  await cluster?.destroy();
});

const finance = (path: string, method?: string, body?: unknown) =>
  financeControl(stack.financeUrl)(path, method, body);

async function call(method: string, path: string, json?: unknown): Promise<Response> {
  return fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.operatorToken}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? null : JSON.stringify(json),
    signal: AbortSignal.timeout(30_000),
  });
}

const progress = async (id: string): Promise<BulkActionResponse> => {
  const response = await call('GET', `/api/bulk-actions/${id}`);
  assert.equal(response.status, 200);
  return (await response.json()) as BulkActionResponse;
};

void test(
  'a bulk retry survives two worker kills: every matching order retried exactly once',
  { timeout: 10 * 60_000 },
  async () => {
    const customerId = `outage-${randomUUID().slice(0, 8)}`;
    await finance('/mode', 'PUT', { mode: 'down' });
    const ids: string[] = [];
    for (let i = 0; i < ORDERS; i += 1) {
      const response = await call('POST', '/api/orders', {
        customerId,
        product: 'Widget',
        quantity: 1,
        unitPrice: '10.00',
        currency: 'GBP',
      });
      assert.equal(response.status, 201);
      ids.push(((await response.json()) as { id: string }).id);
    }
    await waitFor(
      `all ${ORDERS} orders to fail`,
      () => db.orders.getMany(ids),
      (orders) => orders.length === ORDERS && orders.every((o) => o.status === 'failed'),
      { timeoutMs: 180_000, everyMs: 500 },
    );
    await finance('/mode', 'PUT', { mode: 'normal' });

    const started = await call('POST', '/api/bulk-actions', {
      action: 'retry',
      filter: { customerId, status: ['failed'] },
      confirm: true,
      ratePerSecond: 2,
    });
    assert.equal(started.status, 201);
    const { id, matched } = (await started.json()) as BulkActionResponse;
    assert.equal(matched, ORDERS);

    for (const atLeast of [4, 12]) {
      await waitFor(
        `${atLeast} orders done`,
        () => progress(id),
        (p) => p.done >= atLeast,
        {
          timeoutMs: 120_000,
          everyMs: 200,
        },
      );
      await stack.parts.worker.kill();
      await stack.restart('worker');
    }
    const done = await waitFor(
      'the batch to finish',
      () => progress(id),
      (p) => !!p.finishedAt,
      {
        timeoutMs: 300_000,
        everyMs: 500,
      },
    );
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.counts, { applied: ORDERS, refused: 0, failed: 0 });

    const orders = await waitFor(
      'every order to be processed',
      () => db.orders.getMany(ids),
      (all) => all.every((o) => o.status === 'processed'),
      { timeoutMs: 180_000, everyMs: 500 },
    );
    assert.equal(orders.length, ORDERS);
    for (const orderId of ids) {
      const record = (await finance(
        `/charges/${encodeURIComponent(paymentIdempotencyKey(orderId))}`,
      )) as ChargeRecord;
      assert.equal(record.charges, 1, `order ${orderId} charged once`);
      const history = await stack.client.workflow
        .getHandle(workflowIdForOrder(orderId))
        .fetchHistory();
      const accepted = (history.events ?? []).filter(
        (event) => event.workflowExecutionUpdateAcceptedEventAttributes,
      );
      assert.equal(accepted.length, 1, `order ${orderId}: one retry accepted`);
    }
    assert.deepEqual(stack.unexpectedExits, []);
  },
);
