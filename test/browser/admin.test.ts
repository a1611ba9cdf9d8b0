/**
 * The admin page in a real browser: an admin flips NEW_VERIFICATION on the page, the audit
 * table names them as signed in, and the very next orders are verified differently (the test system's worker
 * reads toggles with no cache, `ttlMs: 0`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { OrderResponse } from '../../api/schemas';
import { JSON_TYPE, orderBody } from '../api/harness';
import { SESSION_COOKIE } from '../../api/auth';
import { credentialFor, sessionHeaders, type TestCredential } from '../support/credentials';
import { waitFor } from '../support/wait';
import {
  DESKTOP,
  screenshot,
  signIn,
  signOut,
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
  let admin: TestCredential;

  before(async () => {
    d = await startDashboardSystem();
    admin = d.api.credentials.admin;
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
        headers: { ...JSON_TYPE, ...d.api.credentials.client.headers },
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
        const response = await fetch(`${d.api.url}/api/orders/${id}`, {
          headers: d.api.credentials.viewer.headers,
        });
        return (await response.json()) as OrderResponse;
      },
      (order) => FINAL.has(order.status),
      { timeoutMs: 60_000, everyMs: 250 },
    );

  void test('signed out, the admin page asks to sign in and shows no toggle; a viewer is told toggles need an admin', async () => {
    await page.goto(`${d.api.url}/admin.html`);
    await page.locator('#sign-in').waitFor();
    assert.equal(await page.isVisible('#admin-sign-in-hint'), true);
    assert.equal(await toggle().count(), 0, 'no toggles without a session');
    await signIn(page, d.api.credentials.viewer);
    await page.locator('#admin-message', { hasText: 'toggles need an admin' }).waitFor();
    assert.equal(await toggle().count(), 0, 'no toggles for a viewer');
    await signOut(page);
  });

  void test('an admin signs in on the dashboard, follows its link, and flipping NEW_VERIFICATION on records them in the audit table', async () => {
    await page.goto(d.api.url);
    assert.equal(await page.isVisible('#admin-link'), false, 'no link before signing in');
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Feature toggles' }).click();
    await page.waitForURL('**/admin.html');
    await toggle().waitFor();
    assert.equal(await toggle().getAttribute('aria-checked'), 'false');
    assert.match(
      await page.locator('#features tr[data-feature="NEW_VERIFICATION"]').innerText(),
      /Never \(default\)/,
    );
    assert.equal(await page.locator('#changes-empty').isVisible(), true);

    await toggle().click();
    await page.locator('button[role="switch"][aria-checked="true"]').waitFor();
    await page.locator('#admin-message', { hasText: 'NEW_VERIFICATION is now on' }).waitFor();
    const first = page.locator('#changes tr').first();
    assert.equal(await first.locator('.changed-by').innerText(), admin.username);
    assert.match(await first.innerText(), /NEW_VERIFICATION\s+On/);
    assert.match(
      await page.locator('#features tr[data-feature="NEW_VERIFICATION"]').innerText(),
      new RegExp(`by ${admin.username ?? ''}`),
    );
  });

  void test("with NEW_VERIFICATION on, a customer's 7th order within a minute is rejected", async () => {
    const customerId = `cust-burst-on-${randomUUID().slice(0, 6)}`;
    const order = await finalOrder(await placeBurst(customerId));
    assert.equal(order.status, 'rejected', JSON.stringify(order));
    assert.match(order.failureReason ?? '', /orders within a minute \(limit 5\)/);
  });

  void test('another admin flips it off from the keyboard; the next burst is processed', async () => {
    const other = await credentialFor(d.system.db, 'admin');
    await signOut(page);
    await signIn(page, other);
    await toggle().waitFor();
    await toggle().focus();
    await page.keyboard.press('Space');
    await page.locator('button[role="switch"][aria-checked="false"]').waitFor();
    const rows = page.locator('#changes tr');
    await rows.nth(1).waitFor();
    assert.equal(
      await rows.first().locator('.changed-by').innerText(),
      other.username,
      'newest first',
    );
    assert.equal(await rows.nth(1).locator('.changed-by').innerText(), admin.username);
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

  void test('signing out ends the session on the server: a copy of the cookie reads nothing', async () => {
    const cookie = (await operator.context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie, 'the session cookie is set');
    await signOut(page);
    const response = await fetch(`${d.api.url}/api/admin/features`, {
      headers: sessionHeaders(cookie.value),
    });
    assert.equal(response.status, 401, await response.text());
  });

  void test('no console errors', () => {
    assert.deepEqual(operator.errors, []);
  });
});
