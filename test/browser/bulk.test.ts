/**
 * Recovering from an outage from the dashboard, in Chromium: 50 orders fail while the finance
 * package is down; once it is back, one bulk retry from the filtered list processes every one,
 * each charged exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { OrderListResponse, OrderResponse } from '../../api/schemas';
import { orderBody } from '../api/harness';
import { waitFor } from '../support/wait';
import {
  DESKTOP,
  screenshot,
  signIn,
  startDashboardSystem,
  type DashboardSystem,
  type WatchedContext,
} from './support';

const ORDERS = 50;

void describe('bulk retry from the dashboard in Chromium', () => {
  let d: DashboardSystem;
  let operator: WatchedContext;

  before(async () => {
    d = await startDashboardSystem();
    operator = await d.newContext(DESKTOP);
  });
  after(async () => {
    await d?.stop();
  });

  /** Every order of the customer, through the API's own paging. */
  async function ordersOf(customerId: string): Promise<OrderResponse[]> {
    const answer = await d.api.call('GET', `/api/orders?customerId=${customerId}&limit=200`);
    assert.equal(answer.status, 200, answer.text);
    return (answer.body as OrderListResponse).orders;
  }

  void test('50 orders failed in an outage are retried with one bulk action: all processed, each charged once', async () => {
    const customerId = `outage-${randomUUID().slice(0, 8)}`;
    await d.system.finance.setMode({ mode: 'down' });
    for (let i = 0; i < ORDERS; i += 1) {
      const placed = await d.api.call('POST', '/api/orders', { json: orderBody({ customerId }) });
      assert.equal(placed.status, 201, placed.text);
    }
    await waitFor(
      `all ${ORDERS} orders to fail`,
      () => ordersOf(customerId),
      (orders) => orders.length === ORDERS && orders.every((o) => o.status === 'failed'),
      { timeoutMs: 180_000, everyMs: 500 },
    );
    await d.system.finance.setMode({ mode: 'normal' });

    const { page, errors } = operator;
    // The filtered view as a shared link would open it.
    await page.goto(`${d.api.url}/?status=failed&customerId=${customerId}`);
    await signIn(page, d.api.credentials.operator);
    await page.locator('#signed-in').waitFor();
    await page.locator('#tiles .tile').first().waitFor();
    assert.equal(await page.inputValue('#customer-filter'), customerId);
    assert.equal(await page.inputValue('#status-filter'), 'failed');
    await page.locator('#orders tr.failed').first().waitFor();

    await page.selectOption('#bulk-action', 'retry');
    await page.fill('#bulk-rate', '25');
    await page.click('#bulk-preview');
    await page.locator('#bulk-message', { hasText: `${ORDERS} orders match` }).waitFor();
    await page.locator('#bulk-confirm:visible').waitFor();
    await screenshot(page, 'bulk-01-preview');
    await page.click('#bulk-confirm');
    await page.locator('#bulk-progress:visible').waitFor();
    await page
      .locator('#bulk-summary', {
        hasText: `completed: ${ORDERS} of ${ORDERS} done · ${ORDERS} applied · 0 refused · 0 failed`,
      })
      .waitFor({ timeout: 120_000 });
    assert.equal(
      await page
        .locator('#bulk-bar')
        .evaluate((bar) => (bar as unknown as { value: number }).value),
      ORDERS,
    );
    await page.click('#bulk-outcomes');
    await page
      .locator('#bulk-items tr')
      .nth(ORDERS - 1)
      .waitFor();
    assert.equal(await page.locator('#bulk-items tr[data-outcome="applied"]').count(), ORDERS);
    await screenshot(page, 'bulk-02-completed');

    const orders = await waitFor(
      `all ${ORDERS} orders to be processed`,
      () => ordersOf(customerId),
      (all) => all.every((o) => o.status === 'processed'),
      { timeoutMs: 120_000, everyMs: 500 },
    );
    for (const order of orders) {
      const record = await d.system.finance.charges(paymentIdempotencyKey(order.id));
      assert.equal(record.charges, 1, `order ${order.id} charged once`);
    }
    const batches = await d.api.call('GET', '/api/bulk-actions');
    const [latest] = (batches.body as { bulkActions: { startedBy: string; matched: number }[] })
      .bulkActions;
    assert.deepEqual(
      { startedBy: latest?.startedBy, matched: latest?.matched },
      { startedBy: d.api.credentials.operator.label, matched: ORDERS },
    );
    assert.deepEqual(errors, []);
  });
});
