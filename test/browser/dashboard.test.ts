/**
 * The operations dashboard in a real browser (Debian's headless Chromium): an operator's flows
 * end to end against the dev server with its Web UI, real workers, the finance simulator and the
 * API, plus keyboard reach, phone width, the outage banner and console errors.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { OrderResponse } from '../../api/schemas';
import { orderBody, startApi, unreachableTemporal } from '../api/harness';
import { SESSION_COOKIE } from '../../api/auth';
import { waitFor } from '../support/wait';
import {
  DESKTOP,
  DOCS_SCREENSHOT,
  PHONE,
  screenshot,
  signIn,
  signOut,
  startDashboardSystem,
  type DashboardSystem,
  type WatchedContext,
} from './support';

/**
 * Runs a JavaScript expression in the page. A string, not a function: this project's TypeScript
 * has Node's globals only, and the page's code is type-checked on its own (api/public).
 */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression);

/** A payment failing for good, or after its retries with the finance package down. */
const FAIL_TIMEOUT_MS = 60_000;

void describe('operations dashboard in Chromium', () => {
  let d: DashboardSystem;
  let operator: WatchedContext;
  let page: Page;
  /** An order placed from the form, processed: its Temporal UI link is followed later. */
  let processedId = '';

  before(async () => {
    d = await startDashboardSystem();
    operator = await d.newContext(DESKTOP);
    page = operator.page;
    await page.goto(d.api.url);
    await page.locator('#sign-in').waitFor();
  });
  after(async () => {
    await d?.stop();
  });

  const row = (id: string) => page.locator(`tr[data-order-id="${id}"]`);
  const untilStatus = (id: string, status: string, timeout = 30_000) =>
    row(id).locator(`.badge-${status}`).waitFor({ timeout });
  const fact = (key: string) => page.locator(`[data-fact="${key}"] dd`);

  async function runScenario(name: string): Promise<Record<string, unknown>> {
    await page.selectOption('#scenario', name);
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/scenarios/${name}`)),
      page.click('#run-scenario'),
    ]);
    assert.equal(answer.status(), 200, await answer.text());
    return (await answer.json()) as Record<string, unknown>;
  }

  async function placeFromForm(customerId: string): Promise<string> {
    await page.fill('#place-customer', customerId);
    const [answer] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith('/api/orders') && r.request().method() === 'POST',
      ),
      page.click('#place-submit'),
    ]);
    assert.equal(answer.status(), 201, await answer.text());
    return ((await answer.json()) as OrderResponse).id;
  }

  async function openDetail(id: string): Promise<void> {
    await row(id).locator(`a[href="#/orders/${id}"]`).click();
    await page.locator('#detail-heading', { hasText: id.slice(0, 8) }).waitFor();
  }

  void test('signed out, the page asks to sign in and shows no order data', async () => {
    assert.equal(await page.isVisible('#signed-out'), true);
    assert.equal(await page.isVisible('#main'), false);
    assert.equal(await page.locator('#tiles .tile').count(), 0);
    assert.equal(await page.locator('#orders tr').count(), 0);
    await screenshot(page, '00-signed-out');
  });

  void test('a viewer sees the numbers, the user and role, and no action at all', async () => {
    await signIn(page, d.api.credentials.viewer);
    assert.equal(await page.locator('#role').innerText(), 'Viewer');
    await page.locator('#tiles .tile').first().waitFor();
    // One tile per status from /api/stats, plus Temporal's running workflows.
    assert.ok((await page.locator('#tiles .tile').count()) >= 6);
    await page.locator('#tiles [data-status="running"]').waitFor();
    await page.locator('#chart canvas').first().waitFor();
    await page.locator('#queues tr[data-queue="payments"]').waitFor();
    for (const control of ['#run-scenario', '#place-submit', '#scenario', '#admin-link']) {
      assert.equal(await page.isVisible(control), false, `${control} is not shown`);
    }
    // An order a client placed: the viewer reads it, with no cancel or retry to press.
    const placed = await d.api.call('POST', '/api/orders', { json: orderBody() });
    assert.equal(placed.status, 201, placed.text);
    const { id } = placed.body as OrderResponse;
    await row(id).waitFor();
    await openDetail(id);
    assert.equal(await page.isVisible('#cancel-order'), false, 'no cancel for a viewer');
    assert.equal(await page.isVisible('#retry-order'), false, 'no retry for a viewer');
    await screenshot(page, '01-read-only');
    await page.click('#close-detail');
    await signOut(page);
  });

  void test('an operator signs in once; the session is an HttpOnly SameSite=Strict cookie the page cannot read', async () => {
    const user = d.api.credentials.operator;
    await signIn(page, user);
    assert.equal(await page.locator('#role').innerText(), 'Operator');
    const cookie = (await operator.context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie, 'the session cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/api');
    assert.ok(!cookie.value.includes(user.password ?? ''), 'an opaque id, not the password');
    const visible = await inPage<string>(page, 'document.cookie');
    assert.ok(!visible.includes(SESSION_COOKIE), "the page's scripts cannot read the session");
    await page.reload();
    await page.locator('#signed-in', { hasText: user.username ?? '' }).waitFor();
    assert.equal(await page.isDisabled('#run-scenario'), false);
    assert.equal(await page.isVisible('#admin-link'), false, 'the toggles are for admins');
  });

  void test('an order placed from the form reaches processed', async () => {
    processedId = await placeFromForm(`cust-form-${randomUUID().slice(0, 6)}`);
    await untilStatus(processedId, 'processed');
    await screenshot(page, '02-placed-order-processed');
  });

  void test('"Add broken order" shows a red row with the reason; cancelling it makes it cancelled', async () => {
    const answer = await runScenario('broken-order');
    const id = (answer.order as OrderResponse).id;
    await untilStatus(id, 'failed', FAIL_TIMEOUT_MS);
    assert.match((await row(id).getAttribute('class')) ?? '', /\bfailed\b/);
    assert.match(await row(id).locator('.reason').innerText(), /in the future/);
    const red = await inPage<string>(
      page,
      `getComputedStyle(document.querySelector('tr[data-order-id="${id}"] td')).backgroundColor`,
    );
    assert.equal(red, 'rgb(253, 232, 232)', 'the failed row is tinted red');
    await screenshot(page, '03-broken-order');

    await openDetail(id);
    await page.locator('#cancel-order:enabled').waitFor();
    await page.fill('#cancel-reason', 'broken on purpose');
    await page.click('#cancel-order');
    await untilStatus(id, 'cancelled');
    await page.locator('#detail[data-status="cancelled"]').waitFor();
    assert.equal(await page.isDisabled('#cancel-order'), true, 'nothing left to cancel');
    assert.equal(await page.isDisabled('#retry-order'), true);
    // The operator's reason is kept with the order and shown on its page.
    await page.locator('#detail dd', { hasText: 'broken on purpose' }).waitFor();
    await screenshot(page, '04-broken-order-cancelled');
  });

  void test('with finance down an order fails after its retries; back to normal, retry processes it', async () => {
    await d.system.finance.setMode({ mode: 'down' });
    const id = await placeFromForm(`cust-down-${randomUUID().slice(0, 6)}`);
    await untilStatus(id, 'failed', FAIL_TIMEOUT_MS);
    assert.match(await row(id).locator('.reason').innerText(), /unavailable/);
    await openDetail(id);
    await page.locator('#retry-order:enabled').waitFor();
    await screenshot(page, '05-finance-down-failed');

    const reset = await runScenario('reset');
    assert.equal((reset.finance as { mode: string }).mode, 'normal');
    await page.click('#retry-order');
    await untilStatus(id, 'processed');
    await page.locator('#detail[data-status="processed"]').waitFor();
    assert.equal(await page.isDisabled('#retry-order'), true);
    await screenshot(page, '06-retried-processed');
  });

  void test('the load scenarios run and show on the page, and "Reset" undoes every scenario', async () => {
    await runScenario('queue-reliability');
    await fact('finance').filter({ hasText: 'flaky' }).waitFor();
    await screenshot(page, '07-queue-reliability');

    await page.selectOption('#scenario', 'monitoring-load');
    await page.fill('#load-rate', '2');
    await page.fill('#load-minutes', '1');
    const started = await runScenario('monitoring-load');
    assert.equal((started.load as { running: boolean }).running, true);
    await page.locator('#stop-load:enabled').waitFor();
    await waitFor(
      'the load generator to place orders',
      () => fact('load').innerText(),
      (text) => Number(/placed (\d+)/.exec(text)?.[1] ?? 0) >= 4,
      { timeoutMs: 20_000, everyMs: 500 },
    );
    // Retried payments show as attempt counts above one (flaky finance, half the calls fail).
    await page
      .locator('#orders td[data-label="Attempts"]', { hasText: /^[2-9]$/ })
      .first()
      .waitFor();
    await screenshot(page, '08-monitoring-load');

    await runScenario('system-monitoring');
    await fact('load')
      .filter({ hasText: /\/s until/ })
      .waitFor();
    await fact('database')
      .filter({ hasText: /KiB|MiB/ })
      .waitFor();
    assert.equal(
      await page.locator('#queues tr').count(),
      3,
      'workflow, status and payment queues',
    );
    await screenshot(page, '09-system-monitoring');

    // Safe twice: a second reset finds nothing to undo and answers the same.
    await runScenario('reset');
    await runScenario('reset');
    await fact('finance')
      .filter({ hasText: /^normal$/ })
      .waitFor();
    await fact('load')
      .filter({ hasText: /^stopped/ })
      .waitFor();
    assert.equal(await page.isDisabled('#stop-load'), true);
  });

  void test("a row's Temporal UI link opens the workflow's history in the Temporal Web UI", async () => {
    // Any processed order on the first page: the load may have pushed the form's order further.
    await page.selectOption('#status-filter', 'processed');
    await page.locator('#orders tr').first().waitFor();
    processedId = (await page.locator('#orders tr').first().getAttribute('data-order-id')) ?? '';
    const link = row(processedId).locator('a', { hasText: 'Temporal UI' });
    const [ui] = await Promise.all([operator.context.waitForEvent('page'), link.click()]);
    await ui.waitForURL(`**/namespaces/default/workflows/order-${processedId}**`, {
      timeout: 30_000,
    });
    await ui.getByText(`order-${processedId}`).first().waitFor({ timeout: 30_000 });
    await ui
      .getByText(/Workflow ?Execution ?Started/i)
      .first()
      .waitFor({ timeout: 30_000 });
    await screenshot(ui, '10-temporal-ui');
    await ui.close();
    await page.selectOption('#status-filter', '');
  });

  void test('keyboard focus reaches every control', async () => {
    // A failed order opened beside the list, so cancel and retry are live controls too.
    const broken = await d.api.call('POST', '/api/scenarios/broken-order');
    const id = (broken.body as { order: OrderResponse }).order.id;
    await untilStatus(id, 'failed', FAIL_TIMEOUT_MS);
    await openDetail(id);
    await page.locator('#retry-order:enabled').waitFor();
    await page.selectOption('#scenario', 'monitoring-load');

    // The focused element's id, or its row link's key, or its address and text.
    const focused = `(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      return el.id || el.dataset.focusKey || el.getAttribute('href') + '|' + el.textContent;
    })()`;
    const expected = await inPage<string[]>(
      page,
      `[...document.querySelectorAll('a[href], button, input, select')]
        .filter((el) => !el.disabled && el.getClientRects().length > 0 && el.id !== '')
        .map((el) => el.id)`,
    );
    assert.ok(expected.includes('retry-order') && expected.includes('place-submit'));
    await inPage(page, 'document.activeElement?.blur(), window.scrollTo(0, 0)');
    const reached = new Set<string>();
    const rowLink = () => [...reached].some((key) => key.startsWith('detail-'));
    // Date-time inputs hold several stops each; the bound keeps a focus trap from hanging the test.
    for (
      let press = 0;
      press < expected.length * 4 && (expected.some((e) => !reached.has(e)) || !rowLink());
      press++
    ) {
      await page.keyboard.press('Tab');
      const key = await inPage<string | null>(page, focused);
      if (key) reached.add(key);
    }
    assert.deepEqual(
      expected.filter((e) => !reached.has(e)),
      [],
      'every enabled control takes focus',
    );
    assert.ok(rowLink(), `row links take focus; reached ${[...reached].join(', ')}`);
    await page.focus('#retry-order');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const outline = await inPage<string>(
      page,
      'getComputedStyle(document.activeElement).outlineStyle',
    );
    assert.equal(outline, 'solid', 'the focused control shows a focus ring');
  });

  void test('usable at 1280×800 and at phone width: no horizontal scrolling', async () => {
    for (const [name, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(300);
      const overflow = await inPage<number>(
        page,
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the screen`);
      await screenshot(page, `11-${name}`);
    }
    await page.setViewportSize(DESKTOP);
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      await page.click('#close-detail');
      await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
    }
  });

  void test('a banner says so when Temporal, then the API, is unreachable', async () => {
    const cut = await startApi({
      db: d.system.db,
      temporal: unreachableTemporal(),
      env: { FINANCE_URL: d.system.finance.url },
    });
    const watcher = await d.newContext(DESKTOP);
    try {
      await watcher.page.goto(cut.url);
      await signIn(watcher.page, cut.credentials.viewer);
      const banner = watcher.page.locator('#banner');
      await banner.filter({ hasText: 'Temporal is unreachable' }).waitFor({ timeout: 30_000 });
      // The SQL numbers still show beside the banner.
      await watcher.page.locator('#tiles .tile').first().waitFor();
      await screenshot(watcher.page, '12-temporal-unreachable');
      await cut.close();
      await banner.filter({ hasText: 'The API is unreachable' }).waitFor({ timeout: 30_000 });
      await screenshot(watcher.page, '13-api-unreachable');
    } finally {
      await watcher.context.close();
      await cut.close();
    }
  });

  void test('with the demo tools off: no scenarios panel, "no simulator", and no banner for it', async () => {
    const plain = await startApi({
      db: d.system.db,
      temporal: d.env.client,
      env: {
        DEMO_SCENARIOS: 'off',
        TEMPORAL_TASK_QUEUE: d.system.taskQueue,
        FINANCE_URL: d.system.finance.url,
      },
    });
    const viewer = await d.newContext(DESKTOP);
    try {
      await viewer.page.goto(plain.url);
      // An operator would see the scenarios if there were any.
      await signIn(viewer.page, plain.credentials.operator);
      const finance = viewer.page.locator('[data-fact="finance"] dd');
      await finance.filter({ hasText: 'no simulator' }).waitFor({ timeout: 30_000 });
      await viewer.page.locator('[data-fact="load"] dd', { hasText: 'off' }).waitFor();
      assert.equal(await viewer.page.locator('#scenarios-panel').isHidden(), true);
      assert.equal(await viewer.page.locator('#banner').isHidden(), true);
      await screenshot(viewer.page, '14-demo-tools-off');
      assert.deepEqual(viewer.errors, []);
    } finally {
      await viewer.context.close();
      await plain.close();
    }
  });

  void test('the dashboard logged no console errors', () => {
    const ours = operator.errors.filter((error) => error.startsWith(d.api.url));
    assert.deepEqual(ours, []);
  });
});
