/**
 * The whole flow on the real Temporal dev server (the CLI's `server start-dev`), where visibility
 * queries work: what an operator sees in the Temporal UI and what the dashboard counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  ORDER_STATUS_SEARCH_ATTRIBUTE,
  orderStatusKey,
  workflowIdForOrder,
} from '../../domain/temporal';
import type { Order } from '../../domain/order';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

void describe('orders on the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let system: TestSystem;

  before(async () => {
    env = await createDevServerEnv();
    system = await startTestSystem({ env, databaseUrl: freshSqliteUrl() });
  });
  after(async () => {
    await system?.stop();
    await env?.teardown();
  });

  const visibleIds = async (query: string) => {
    const ids: string[] = [];
    for await (const workflow of env.client.workflow.list({ query })) ids.push(workflow.workflowId);
    return ids.sort();
  };

  void test('20 orders with one broken: 19 processed and 1 failed, in SQL and in visibility', async () => {
    const broken = await system.place({
      datePlaced: '3000-01-01T00:00:00.000Z',
      customerId: 'cust-broken',
    });
    const rest = await Promise.all(
      Array.from({ length: 19 }, (_, i) => system.place({ customerId: `cust-${i}` })),
    );
    const orders: Order[] = [broken.order, ...rest.map((r) => r.order)];

    const rows = await waitFor(
      'every order to reach a final status in SQL',
      () => Promise.all(orders.map((o) => system.db.orders.get(o.id))),
      (all) => all.every((r) => r?.status === 'processed' || r?.status === 'failed'),
      { timeoutMs: 60_000, everyMs: 250 },
    );
    const processed = rows.filter((r) => r?.status === 'processed').map((r) => r?.id);
    const failed = rows.filter((r) => r?.status === 'failed');
    assert.equal(processed.length, 19);
    assert.deepEqual(
      failed.map((r) => r?.id),
      [broken.order.id],
    );
    assert.match(failed[0]?.failureReason ?? '', /date_in_future/);

    const ours = `WorkflowId IN (${orders.map((o) => `'${workflowIdForOrder(o.id)}'`).join(', ')})`;
    const failedQuery = `${ORDER_STATUS_SEARCH_ATTRIBUTE} = 'failed' AND ${ours}`;
    const processedQuery = `${ORDER_STATUS_SEARCH_ATTRIBUTE} = 'processed' AND ${ours}`;
    // Visibility is eventually consistent: wait for it to catch up with SQL.
    const failedIds = await waitFor(
      'visibility to list the failed order',
      () => visibleIds(failedQuery),
      (ids) => ids.length >= 1,
    );
    assert.deepEqual(failedIds, [workflowIdForOrder(broken.order.id)]);
    const processedCount = await waitFor(
      'visibility to count 19 processed orders',
      async () => (await env.client.workflow.count(processedQuery)).count,
      (count) => count >= 19,
    );
    assert.equal(processedCount, 19);
  });

  void test("a workflow's summary and search attribute make the UI list readable", async () => {
    const { order, handle } = await system.place({ customerId: 'cust-summary', amount: '12.34' });
    await handle.result();
    const description = await handle.describe();
    assert.equal(await description.staticSummary(), `cust-summary: 12.34 GBP for 2 × Widget`);
    assert.equal(description.typedSearchAttributes.get(orderStatusKey), 'processed');
    assert.equal((await system.db.orders.get(order.id))?.status, 'processed');
  });
});
