/**
 * The admin page in a real browser: an operator flips NEW_VERIFICATION on the page, the audit
 * table names them, and the very next orders are verified differently (the test system's worker
 * reads toggles with no cache, `ttlMs: 0`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { OrderResponse } from '../../api/schemas';
import { JSON_TYPE, orderBody } from '../api/harness';
import { waitFor } from '../support/wait';
import {
  DESKTOP,
  OPERATOR_TOKEN,
  screenshot,
  startDashboardSystem,
  type DashboardSystem,
  type WatchedContext,
} from './support';

/** One more than NEW_VERIFICATION's limit of 5 a minute, and one to spare. */
const BURST = 7;
const FINAL = new Set(['processed', 'failed', 'cancelled', 'rejected']);

void describe('feature toggles admin page in Chromium', () => {
  let d: DashboardSystem;
  let operator: WatchedContext;
  let page: Page;

  before(async () => {
    d = await startDashboardSystem();
    operator = await d.newContext(DESKTOP);
    page = operator.page;
  });
  after(async () => {
    await d?.stop();
  });

  const toggle = () => page.locator('button[role="switch"][data-feature="NEW_VERIFICATION"]');

  /** Places BURST orders for one customer back to back; answers the last one's id. */
  async function placeBurst(customerId: string): Promise<string> {
    let last = '';
    for (let i = 0; i < BURST; i += 1) {
      const response = await fetch(`${d.api.url}/api/orders`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify(orderBody({ customerId })),
      });
      assert.equal(response.status, 201, await response.clone().text());
      last = ((await response.json()) as OrderResponse).id;
    }
    return last;
  }

  const finalOrder = (id: string) =>
    waitFor(
      `order ${id} to end`,
      async () => {
        const response = await fetch(`${d.api.url}/api/orders/${id}`);
        return (await response.json()) as OrderResponse;
      },
      (order) => FINAL.has(order.status),
      { timeoutMs: 60_000, everyMs: 250 },
    );

  void test('the dashboard links to the admin page, which asks an operator to sign in', async () => {
    await page.goto(d.api.url);
    await page.getByRole('link', { name: 'Feature toggles' }).click();
    await page.waitForURL('**/admin.html');
    await page.locator('#sign-in').waitFor();
    assert.equal(await page.isVisible('#admin-sign-in-hint'), true);
    assert.equal(await toggle().count(), 0, 'no toggles without the operator session');
    assert.equal(await page.isDisabled('#operator-name'), true);
  });

  void test('signed in, flipping NEW_VERIFICATION on records the name in the audit table', async () => {
    await page.fill('#operator-token', OPERATOR_TOKEN);
    await page.click('#sign-in button[type="submit"]');
    await page.locator('#signed-in').waitFor();
    await toggle().waitFor();
    assert.equal(await toggle().getAttribute('aria-checked'), 'false');
    assert.match(
      await page.locator('#features tr[data-feature="NEW_VERIFICATION"]').innerText(),
      /Never \(default\)/,
    );
    assert.equal(await page.locator('#changes-empty').isVisible(), true);

    await page.fill('#operator-name', 'alice-e2e');
    await toggle().click();
    await page.locator('button[role="switch"][aria-checked="true"]').waitFor();
    await page.locator('#admin-message', { hasText: 'NEW_VERIFICATION is now on' }).waitFor();
    const first = page.locator('#changes tr').first();
    assert.equal(await first.locator('.changed-by').innerText(), 'alice-e2e');
    assert.match(await first.innerText(), /NEW_VERIFICATION\s+On/);
    assert.match(
      await page.locator('#features tr[data-feature="NEW_VERIFICATION"]').innerText(),
      /by alice-e2e/,
    );
  });

  void test("with NEW_VERIFICATION on, a customer's 7th order within a minute is rejected", async () => {
    const customerId = `cust-burst-on-${randomUUID().slice(0, 6)}`;
    const order = await finalOrder(await placeBurst(customerId));
    assert.equal(order.status, 'rejected', JSON.stringify(order));
    assert.match(order.failureReason ?? '', /orders within a minute \(limit 5\)/);
  });

  void test('flipped off from the keyboard, the next burst is processed', async () => {
    await page.fill('#operator-name', 'bob-e2e');
    await toggle().focus();
    await page.keyboard.press('Space');
    await page.locator('button[role="switch"][aria-checked="false"]').waitFor();
    const rows = page.locator('#changes tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.first().locator('.changed-by').innerText(), 'bob-e2e', 'newest first');
    assert.equal(await rows.nth(1).locator('.changed-by').innerText(), 'alice-e2e');
    assert.equal(
      await page.evaluate('document.activeElement?.getAttribute("data-feature")'),
      'NEW_VERIFICATION',
      'focus stays on the switch after the redraw',
    );

    const customerId = `cust-burst-off-${randomUUID().slice(0, 6)}`;
    const order = await finalOrder(await placeBurst(customerId));
    assert.equal(order.status, 'processed', JSON.stringify(order));
    await screenshot(page, 'admin');
  });

  void test('a bad name is refused with its reason in the live region', async () => {
    await page.fill('#operator-name', 'é'.repeat(3));
    await toggle().click();
    await page.locator('#admin-message.error', { hasText: /X-Operator/ }).waitFor();
    assert.equal(await page.getAttribute('#admin-message', 'aria-live'), 'polite');
    assert.equal(await toggle().getAttribute('aria-checked'), 'false', 'nothing changed');
    assert.equal(await toggle().isEnabled(), true);
  });

  void test('no console errors', () => {
    assert.deepEqual(
      operator.errors.filter((e) => !e.includes('400 (Bad Request)')),
      [],
    );
  });
});
