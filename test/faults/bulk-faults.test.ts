/**
 * Fault suite, bulk phase: the whole system as separate processes (Temporal dev server,
 * PostgreSQL, finance simulator, worker, API). Orders fail while the finance package is down;
 * once it is back, one bulk retry runs while the worker is SIGKILLed and restarted, twice. After:
 * every matching order got the retry exactly once (one accepted Update in its history, one charge
 * at the package, the batch's outcome `applied`), and the batch completed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { BulkActionResponse } from '../../api/schemas';
import type { ChargeRecord } from '../../domain/finance';
import { workflowIdForOrder } from '../../domain/temporal';
import { waitFor } from '../support/wait';
import { faultSystemForFile } from './support';

const ORDERS = 24;

const fault = faultSystemForFile('faults-bulk', {
  LOG_LEVEL: 'info',
  PAYMENT_MAX_ATTEMPTS: '2',
  FINANCE_TIMEOUT: '5s',
});
const finance = (path: string, method?: string, body?: unknown) =>
  fault.finance(path, method, body);

async function call(method: string, path: string, json?: unknown): Promise<Response> {
  return fetch(`${fault.stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${fault.stack.operatorToken}`,
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
      () => fault.db.orders.getMany(ids),
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
      await fault.stack.parts.worker.kill();
      await fault.stack.restart('worker');
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
      () => fault.db.orders.getMany(ids),
      (all) => all.every((o) => o.status === 'processed'),
      { timeoutMs: 180_000, everyMs: 500 },
    );
    assert.equal(orders.length, ORDERS);
    for (const orderId of ids) {
      const record = (await finance(
        `/charges/${encodeURIComponent(paymentIdempotencyKey(orderId))}`,
      )) as ChargeRecord;
      assert.equal(record.charges, 1, `order ${orderId} charged once`);
      const history = await fault.stack.client.workflow
        .getHandle(workflowIdForOrder(orderId))
        .fetchHistory();
      const accepted = (history.events ?? []).filter(
        (event) => event.workflowExecutionUpdateAcceptedEventAttributes,
      );
      assert.equal(accepted.length, 1, `order ${orderId}: one retry accepted`);
    }
    assert.deepEqual(fault.stack.unexpectedExits, []);
  },
);
