/**
 * The whole system for the dashboard's browser tests, in-process on loopback ports: the Temporal
 * dev server WITH its Web UI (the links must open something), real workers, the finance
 * simulator, SQLite, the API, and Debian's headless Chromium driven by playwright-core.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { orderStatusKey } from '../../domain/temporal';
import { startApi, type RunningApi } from '../api/harness';
import type { TestCredential } from '../support/credentials';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { orderWorkflowBundle, TEMPORAL_CLI } from '../support/temporal';
import { waitFor } from '../support/wait';
import { testDataConverter } from '../support/codec';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(__dirname, '../..');
export const ARTIFACTS = join(ROOT, 'test-results', 'browser');
export const DOCS_SCREENSHOT = join(ROOT, 'docs', 'dashboard.png');
/** Orders fail after this many payment attempts: seconds instead of minutes with finance down. */
export const PAYMENT_MAX_ATTEMPTS = 2;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A loopback port nothing listens on right now (the dev server's UI needs one up front). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface DashboardSystem {
  env: TestWorkflowEnvironment;
  system: TestSystem;
  api: RunningApi;
  uiUrl: string;
  browser: Browser;
  /** A fresh browser context (own cookies), tracking console errors of all its pages. */
  newContext(viewport?: { width: number; height: number }): Promise<WatchedContext>;
  stop(): Promise<void>;
}

export interface WatchedContext {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen on any page of the context. */
  errors: string[];
}

export async function startDashboardSystem(): Promise<DashboardSystem> {
  // Bundling first installs the quiet SDK runtime, which must precede the dev server's.
  await orderWorkflowBundle();
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: TEMPORAL_CLI },
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      searchAttributes: [orderStatusKey],
      extraArgs: ['--log-level', 'error'],
    },
    client: { dataConverter: testDataConverter() },
  });
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  const system = await startTestSystem({
    env,
    databaseUrl: freshSqliteUrl(),
    settings: { maxPaymentAttempts: PAYMENT_MAX_ATTEMPTS },
  });
  const api = await startApi({
    db: system.db,
    temporal: env.client,
    env: {
      TEMPORAL_TASK_QUEUE: system.taskQueue,
      FINANCE_URL: system.finance.url,
      TEMPORAL_UI_URL: uiUrl,
      PAYMENT_MAX_ATTEMPTS: String(PAYMENT_MAX_ATTEMPTS),
      // Small and short, so the load scenarios stay cheap on a 2-core machine.
      LOAD_RATE_PER_SECOND: '1',
      LOAD_DURATION: '1m',
      LOAD_MAX_RATE_PER_SECOND: '4',
    },
  });
  await waitFor(
    'the Temporal Web UI to answer',
    () =>
      fetch(uiUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      ),
    Boolean,
    { timeoutMs: 30_000, everyMs: 250 },
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 30_000,
  });
  mkdirSync(ARTIFACTS, { recursive: true });

  return {
    env,
    system,
    api,
    uiUrl,
    browser,
    async newContext(viewport = DESKTOP) {
      const context = await browser.newContext({ viewport });
      context.setDefaultTimeout(15_000);
      const errors: string[] = [];
      context.on('page', (page) => watch(page, errors));
      const page = await context.newPage();
      return { context, page, errors };
    },
    async stop() {
      await browser.close();
      await api.close();
      await system.stop();
      await env.teardown();
    },
  };
}

function watch(page: Page, errors: string[]): void {
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
}

/** Signs in on the page's form as a staff user, as a person would, and waits to be signed in. */
export async function signIn(page: Page, user: TestCredential): Promise<void> {
  await page.fill('#username', user.username ?? '');
  await page.fill('#password', user.password ?? '');
  await page.click('#sign-in button[type="submit"]');
  await page.locator('#signed-in', { hasText: user.username ?? '' }).waitFor();
}

/** Signs out with the page's button and waits for the sign-in form. */
export async function signOut(page: Page): Promise<void> {
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
