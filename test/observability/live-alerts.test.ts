/**
 * The alert policy, live: the system as separate processes (Temporal dev server, PostgreSQL, the
 * finance simulator, the worker, the API), scraped by a real Prometheus with the project's own
 * prometheus.yml and alerts.yml, routed by a real Alertmanager with the project's own
 * alertmanager.yml to the project's alert receiver. Each scenario causes a problem, waits for the
 * page at the receiver, removes the cause and waits for the resolved notification.
 *
 * Time is compressed: scrapes and rule evaluations every INTERVAL, and every window, offset and
 * `for:` of alerts.yml (and Alertmanager's waits) divided by TIME_DIVISOR in the generated copy,
 * each `for:` at least MIN_FOR. Thresholds are as committed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NotificationRecord } from '../../observability/receiver/receiver';
import { Client } from 'pg';
import { orderBody, placeOrderReliably, postOrder, type PostAnswer } from '../../scripts/lib/load';
import { startMonitoring, type Monitoring } from '../../scripts/lib/monitoring';
import { startStack, type Stack } from '../../scripts/lib/stack';
import { freshPostgresUrl } from '../support/database';
import { allPanels, metricNamesIn, readDashboard, readRules } from './support';

/** 1 minute of the policy is 2 s here: 10m windows are 20 s, `for: 5m` is 10 s. */
const TIME_DIVISOR = 30;
/** A process restart takes several seconds here, as in production: that is not an outage. */
const MIN_FOR = '10s';
/** Scrapes and evaluations; a scrape may take this long on a busy machine before it counts as down. */
const INTERVAL = '2s';
/** Far below the size of a fresh orders database: the storage alert fires from the start. */
const SMALL_QUOTA_BYTES = 1_000_000;
const RESULTS = resolve(__dirname, '../../test-results/live-alerts');

/**
 * Rules no scenario here makes fire, and why. A rule of alerts.yml that is neither exercised nor
 * listed here fails the coverage test.
 */
const NOT_EXERCISED_LIVE: Record<string, string> = {
  TemporalWorkerNotPolling:
    'needs a worker whose /metrics answers while its Temporal worker does not poll; worker/run.ts ' +
    'serves /metrics only once its Temporal workers exist and exits when they fail, so no outside ' +
    'cause produces it (alerts.test.yml covers the rule)',
  OrderLaunchBacklog:
    'needs Temporal unreachable for over a minute while the API accepts orders (its threshold is ' +
    "an age in seconds, which this run's time scaling leaves unchanged); the live run keeps one " +
    'Temporal up for every other scenario. alerts.test.yml covers the rule, and ' +
    'test/api/outages.test.ts shows accepted orders waiting in the outbox while Temporal is down',
};

/**
 * Series the dashboard queries that only exist after an event no scenario here causes, and why.
 * Every other name a dashboard query uses must be among the live scrapes.
 */
const ABSENT_LIVE: Record<string, string> = {
  temporal_workflow_failed:
    'the Temporal SDK exports it once a workflow run fails; an order whose payment failed ' +
    'closes its run as completed (workflows/processOrder.ts), so no run fails here',
};

let dir: string;
let databaseUrl: string;
let stack: Stack;
let monitoring: Monitoring;
let startedAt: number;
/** Alert name → how this run proved it fires and resolves. */
const exercised = new Map<string, string>();
let outageFailuresResolved: Promise<NotificationRecord> | undefined;

const since = (ms: number) => `+${Math.round((ms - startedAt) / 1000)} s`;

/** What the test did, when: the receiver's record is read against these lines. */
function step(what: string): void {
  console.log(`[live-alerts] ${new Date().toISOString()} (${since(Date.now())}) ${what}`);
}

function hostPort(url: string): string {
  return new URL(url).host;
}

interface Match {
  alertname: string;
  labels?: Record<string, string>;
  status: 'firing' | 'resolved';
  /** Only alerts that started at or after this time (ms since epoch). */
  startedAfter?: number;
  /** Only notifications received at or after this time: a resolution after the cause was removed. */
  receivedAfter?: number;
}

function matches(record: NotificationRecord, match: Match): boolean {
  if (match.receivedAfter !== undefined && Date.parse(record.receivedAt) < match.receivedAfter) {
    return false;
  }
  return record.alerts.some(
    (alert) =>
      alert.status === match.status &&
      alert.labels.alertname === match.alertname &&
      Object.entries(match.labels ?? {}).every(([k, v]) => alert.labels[k] === v) &&
      (match.startedAfter === undefined || Date.parse(alert.startsAt) >= match.startedAfter - 1000),
  );
}

/** Waits for the receiver to record a notification with the alert in that status. */
async function notified(match: Match, timeoutMs = 60_000): Promise<NotificationRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await monitoring.notifications()).find((record) => matches(record, match));
    if (found) return found;
    if (Date.now() > deadline) {
      const firing = await monitoring.query('ALERTS');
      throw new Error(
        `no ${match.status} ${match.alertname} ${JSON.stringify(match.labels ?? {})} at the ` +
          `receiver within ${timeoutMs / 1000} s; Prometheus alerts: ${JSON.stringify(
            firing.map((s) => s.metric),
          )}`,
      );
    }
    await sleep(500);
  }
}

/** The OrderFailed notification of one failure reason. */
function orderFailed(
  reason: string,
  status: Match['status'],
  when: Pick<Match, 'startedAfter' | 'receivedAfter'>,
): Promise<NotificationRecord> {
  return notified({ alertname: 'OrderFailed', labels: { reason }, status, ...when });
}

/** Records a firing and a resolved notification of the same alert as the proof it was exercised. */
function prove(name: string, firing: NotificationRecord, resolved: NotificationRecord): void {
  exercised.set(
    name,
    `paged at ${since(Date.parse(firing.receivedAt))}, resolved at ${since(Date.parse(resolved.receivedAt))}`,
  );
}

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

async function alertmanagerAlerts(): Promise<AmAlert[]> {
  const response = await fetch(`${monitoring.alertmanagerUrl}/api/v2/alerts`);
  return (await response.json()) as AmAlert[];
}

/** Waits until Alertmanager holds the alert back because another one inhibits it. */
async function suppressed(alertname: string, labels: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const alerts = await alertmanagerAlerts();
    const mine = alerts.filter(
      (a) =>
        a.labels.alertname === alertname &&
        Object.entries(labels).every(([k, v]) => a.labels[k] === v),
    );
    if (mine.some((a) => a.status.state === 'suppressed' && a.status.inhibitedBy.length > 0)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${alertname} was never inhibited; Alertmanager: ${JSON.stringify(mine)}`);
    }
    await sleep(500);
  }
}

async function firingInPrometheus(alertname: string): Promise<boolean> {
  const series = await monitoring.query(`ALERTS{alertname="${alertname}",alertstate="firing"}`);
  return series.length > 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

async function scalar(promql: string): Promise<number> {
  const [sample] = await monitoring.query(promql);
  return sample?.value ?? 0;
}

async function setFinance(settings: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.financeUrl}/mode`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Posts orders at a fixed rate, without waiting for answers, until stopped; then their ids. */
function startLoad(ratePerSecond: number): { stop(): Promise<string[]> } {
  const calls: Promise<PostAnswer>[] = [];
  const timer = setInterval(() => {
    calls.push(postOrder(stack.apiUrl, stack.clientToken, orderBody()));
  }, 1000 / ratePerSecond);
  let stopped: Promise<string[]> | undefined;
  return {
    stop() {
      clearInterval(timer);
      stopped ??= Promise.all(calls).then((answers) =>
        answers.flatMap((answer) => (answer.orderId ? [answer.orderId] : [])),
      );
      return stopped;
    },
  };
}

/** The ids of every failed order (the test makes far fewer than a page of them). */
async function failedOrderIds(): Promise<Set<string>> {
  const response = await fetch(`${stack.apiUrl}/api/orders?status=failed&limit=200`, {
    headers: { authorization: `Bearer ${stack.viewerToken}` },
  });
  const body = (await response.json()) as { orders: { id: string }[] };
  return new Set(body.orders.map((order) => order.id));
}

/** Restarts the API with another DATABASE_QUOTA_BYTES (a raised or lowered storage quota). */
async function restartApiWithQuota(bytes: number): Promise<void> {
  await stack.parts.api.stop();
  // The stack's parts share one environment; only the API reads the quota.
  stack.parts.api.spec.env.DATABASE_QUOTA_BYTES = String(bytes);
  await stack.restart('api');
}

before(async () => {
  startedAt = Date.now();
  dir = mkdtempSync(join(tmpdir(), 'live-alerts-'));
  databaseUrl = await freshPostgresUrl();
  stack = await startStack({
    dir,
    databaseUrl,
    temporalMetrics: true,
    env: {
      // Retries are not compressed: six attempts (0, 1, 3, 7, 15, 31 s) outlast the outage
      // alert's detection, as ten attempts over four minutes do in production.
      PAYMENT_MAX_ATTEMPTS: '6',
      FINANCE_TIMEOUT: '2s',
      // The payments' rate cap is what makes the queue grow under load.
      PAYMENT_RATE_PER_SECOND: '3',
      DATABASE_QUOTA_BYTES: String(SMALL_QUOTA_BYTES),
      LOG_LEVEL: 'warn',
    },
  });
  const temporal = stack.temporalMetricsTarget;
  assert.ok(temporal, 'the Temporal server serves no metrics');
  monitoring = await startMonitoring({
    dir: join(dir, 'monitoring'),
    targets: {
      api: hostPort(stack.apiUrl),
      worker: hostPort(stack.workerMetricsUrl),
      temporal,
    },
    apiMetricsToken: stack.metricsToken,
    interval: INTERVAL,
    timeDivisor: TIME_DIVISOR,
    minFor: MIN_FOR,
  });
  // Every target answers before any scenario starts.
  await until('every scrape target up', async () => {
    const up = await monitoring.query('up');
    return up.length >= 5 && up.every((s) => s.value === 1);
  });
  step('system and monitoring up');
});

after(async () => {
  if (monitoring) {
    mkdirSync(RESULTS, { recursive: true });
    copyFileSync(monitoring.notificationsFile, join(RESULTS, 'alerts.jsonl'));
    await monitoring.stop();
  }
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  step(`done; the receiver's record is in ${RESULTS}/alerts.jsonl`);
});

void test('every payment failing even with retries pages once; the orders it fails wait behind it', async () => {
  const begin = Date.now();
  await setFinance({ mode: 'down' });
  const load = startLoad(0.5);
  step('finance down, an order every two seconds');
  let normalAt = Date.now();
  try {
    const page = await notified(
      { alertname: 'PaymentsAllFailing', status: 'firing', startedAfter: begin },
      90_000,
    );
    assert.equal(page.receiver, 'pager');
    // Orders run out of attempts meanwhile; Alertmanager holds their OrderFailed back.
    await suppressed('OrderFailed', { reason: 'retries_exhausted' });
    step('OrderFailed(retries_exhausted) inhibited in Alertmanager');
    await setFinance({ mode: 'normal' });
    normalAt = Date.now();
    step('finance normal');
    const resolved = await notified({
      alertname: 'PaymentsAllFailing',
      status: 'resolved',
      receivedAfter: normalAt,
    });
    prove('PaymentsAllFailing', page, resolved);
  } finally {
    await setFinance({ mode: 'normal' });
    await load.stop();
  }
  // The failed orders are told as a warning (to retry them), and resolve 10 compressed minutes
  // after the last failure: the next scenario waits for that.
  const failed = await orderFailed('retries_exhausted', 'firing', { startedAfter: begin });
  assert.equal(failed.receiver, 'team-chat');
  outageFailuresResolved = orderFailed('retries_exhausted', 'resolved', {
    receivedAfter: normalAt,
  });
  outageFailuresResolved.catch(() => undefined);
});

void test('a broken order pages, occasional retries do not, and orders faster than processed page the queue', async () => {
  const begin = Date.now();
  const transientBefore = await scalar('sum(payment_attempt_failures_total{class="transient"})');
  // A few payment calls fail (5xx, 429, hangs, dropped answers) and are retried.
  await setFinance({ mode: 'flaky', failureRate: 0.05 });
  // Dated in the year 3000: the finance package rejects it for good.
  const broken = await postOrder(stack.apiUrl, stack.clientToken, {
    ...orderBody('cust-broken'),
    datePlaced: '3000-01-01T00:00:00.000Z',
  });
  assert.equal(broken.status, 201, broken.error ?? '');
  // Six orders a second against a payment rate cap of three.
  const load = startLoad(6);
  step('finance flaky at 5%, a broken order, then six orders a second');
  let placed: string[] = [];
  try {
    const orderPage = await orderFailed('rejected', 'firing', { startedAfter: begin });
    assert.equal(orderPage.receiver, 'team-chat');
    const alert = orderPage.alerts.find((a) => a.labels.reason === 'rejected');
    assert.match(alert?.annotations.runbook_url ?? '', /docs\/operations\.md#orderfailed$/);
    const queuePage = await notified(
      { alertname: 'OrdersQueueGrowing', status: 'firing', startedAfter: begin },
      90_000,
    );
    placed = await load.stop();
    const stoppedAt = Date.now();
    step('load stopped');
    const queueResolved = await notified(
      { alertname: 'OrdersQueueGrowing', status: 'resolved', receivedAfter: stoppedAt },
      90_000,
    );
    prove('OrdersQueueGrowing', queuePage, queueResolved);
    const orderResolved = await orderFailed('rejected', 'resolved', { startedAfter: begin });
    prove('OrderFailed', orderPage, orderResolved);
    await outageFailuresResolved;
  } finally {
    placed = await load.stop();
    await setFinance({ mode: 'normal' });
  }
  step(`placed ${placed.length} orders under load; finance normal`);

  // Retries did happen, no order failed for any reason but the broken one, and nothing paged.
  const transient =
    (await scalar('sum(payment_attempt_failures_total{class="transient"})')) - transientBefore;
  assert.ok(transient > 0, 'flaky mode caused no retried attempt');
  const failed = await failedOrderIds();
  assert.ok(broken.orderId && failed.has(broken.orderId), 'the broken order is not failed');
  assert.deepEqual(
    placed.filter((id) => failed.has(id)),
    [],
    'orders of the load failed although their attempts were only occasionally refused',
  );
  const pages = (await monitoring.notifications()).filter((record) =>
    matches(record, { alertname: 'PaymentsAllFailing', status: 'firing', startedAfter: begin }),
  );
  assert.deepEqual(pages, [], 'retries paged as an outage');
});

/**
 * The API started with a quota far below the database's size; it is restarted with a raised one.
 * The old API's ratio stops when it stops, so the resolution comes during or after the restart.
 */
async function raiseTheQuota(): Promise<void> {
  const page = await notified({
    alertname: 'DatabaseStorageAlmostFull',
    status: 'firing',
    startedAfter: startedAt,
  });
  assert.equal(page.receiver, 'team-chat');
  const size = await scalar('max(database_size_bytes)');
  assert.ok(size > SMALL_QUOTA_BYTES, `database of ${size} bytes`);
  const raisedAt = Date.now();
  await restartApiWithQuota(Math.round(size * 100));
  step('API restarted with a raised quota');
  const resolved = await notified({
    alertname: 'DatabaseStorageAlmostFull',
    status: 'resolved',
    receivedAfter: raisedAt,
  });
  await until('the storage ratio below 80%', async () => {
    const ratio = await monitoring.query('orders:database_storage_used:ratio');
    return ratio.length === 1 && (ratio[0]?.value ?? 1) < 0.8;
  });
  prove('DatabaseStorageAlmostFull', page, resolved);
}

void test('the database above its quota pages and resolves when the quota is raised; refused status writes page; waiting activities resolve', async () => {
  // The payments backlog of the load drains meanwhile; the API's restart does not touch it.
  await Promise.all([raiseTheQuota(), statusWritesRefused(), waitingActivitiesResolve()]);
});

/**
 * The database refuses every status change of one customer's orders (a trigger answering with a
 * check violation, which no retry changes), until the trigger is dropped.
 */
async function statusWritesRefused(): Promise<void> {
  const begin = Date.now();
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  try {
    await sql.query(`CREATE FUNCTION refuse_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'status changes refused' USING ERRCODE = '23514'; END $$`);
    await sql.query(`CREATE TRIGGER refuse_status_change BEFORE UPDATE ON orders FOR EACH ROW
      WHEN (NEW.customer_id = 'cust-refused' AND NEW.status IS DISTINCT FROM OLD.status)
      EXECUTE FUNCTION refuse_status_change()`);
    step('status changes of cust-refused refused by the database');
    // The API may be restarting for the quota: the client retries until it answers.
    const placed = await placeOrderReliably(
      stack.apiUrl,
      stack.clientToken,
      60_000,
      orderBody('cust-refused'),
    );
    assert.ok(placed.orderId, JSON.stringify(placed.answers));
    const page = await notified({
      alertname: 'OrderStatusWriteFailing',
      status: 'firing',
      startedAfter: begin,
    });
    assert.equal(page.receiver, 'pager');
    await sql.query('DROP TRIGGER refuse_status_change ON orders');
    const fixedAt = Date.now();
    step('status changes accepted again');
    const resolved = await notified({
      alertname: 'OrderStatusWriteFailing',
      status: 'resolved',
      receivedAfter: fixedAt,
    });
    prove('OrderStatusWriteFailing', page, resolved);
  } finally {
    await sql.query('DROP TRIGGER IF EXISTS refuse_status_change ON orders').catch(() => undefined);
    await sql.end();
  }
}

/** Payments waited behind the rate cap (under load, and when retries piled up in the outage). */
async function waitingActivitiesResolve(): Promise<void> {
  const page = await notified(
    { alertname: 'ActivityScheduleToStartHigh', status: 'firing', startedAfter: startedAt },
    30_000,
  );
  const resolved = await notified(
    {
      alertname: 'ActivityScheduleToStartHigh',
      status: 'resolved',
      receivedAfter: Date.parse(page.receivedAt),
    },
    120_000,
  );
  prove('ActivityScheduleToStartHigh', page, resolved);
}

void test('the worker and the API killed page, the per-worker alert waits behind NoWorkerUp, all resolve on restart', async () => {
  // From a quiet start: nothing of this scenario still firing from an earlier restart.
  for (const name of ['ApiDown', 'NoWorkerUp', 'WorkerDown']) {
    await until(`${name} not firing`, async () => !(await firingInPrometheus(name)));
  }
  const begin = Date.now();
  await Promise.all([stack.parts.worker.kill(), stack.parts.api.kill()]);
  step('worker and API killed');
  const noWorker = await notified({
    alertname: 'NoWorkerUp',
    status: 'firing',
    startedAfter: begin,
  });
  const apiDown = await notified({ alertname: 'ApiDown', status: 'firing', startedAfter: begin });
  assert.equal(noWorker.receiver, 'pager');
  assert.equal(apiDown.receiver, 'pager');
  await until('WorkerDown firing in Prometheus', () => firingInPrometheus('WorkerDown'));
  await suppressed('WorkerDown');
  const workerDownAt = Date.now();
  const restartAt = Date.now();
  await Promise.all([stack.restart('worker'), stack.restart('api')]);
  step('worker and API restarted');
  const noWorkerResolved = await notified({
    alertname: 'NoWorkerUp',
    status: 'resolved',
    receivedAfter: restartAt,
  });
  const apiResolved = await notified({
    alertname: 'ApiDown',
    status: 'resolved',
    receivedAfter: restartAt,
  });
  await until(
    'WorkerDown resolved in Prometheus',
    async () => !(await firingInPrometheus('WorkerDown')),
  );
  prove('NoWorkerUp', noWorker, noWorkerResolved);
  prove('ApiDown', apiDown, apiResolved);
  // Inhibited: it never reaches the receiver while NoWorkerUp fires, which is the point.
  const workerDownPaged = (await monitoring.notifications()).some((r) =>
    matches(r, { alertname: 'WorkerDown', status: 'firing', startedAfter: begin }),
  );
  assert.equal(workerDownPaged, false, 'WorkerDown paged although NoWorkerUp inhibits it');
  exercised.set(
    'WorkerDown',
    `firing in Prometheus and inhibited by NoWorkerUp at ${since(workerDownAt)}, resolved on restart`,
  );
  assert.deepEqual(stack.unexpectedExits, []);
});

void test('the Grafana dashboard queries only metric names that the live scrapes returned', async (t) => {
  const response = await fetch(`${monitoring.prometheusUrl}/api/v1/label/__name__/values`);
  const names = new Set(((await response.json()) as { data: string[] }).data);
  const missing: string[] = [];
  for (const panel of allPanels(readDashboard().panels)) {
    for (const target of panel.targets ?? []) {
      for (const name of metricNamesIn(target.expr ?? '')) {
        if (names.has(name)) continue;
        if (ABSENT_LIVE[name])
          t.diagnostic(`${panel.title}: ${name} not scraped: ${ABSENT_LIVE[name]}`);
        else missing.push(`${panel.title}: ${name}`);
      }
    }
  }
  assert.deepEqual(missing, [], 'the dashboard queries series that no live scrape returned');
  // The Temporal server's own metrics were scraped too.
  assert.ok(
    (await monitoring.query('up{job="temporal"}'))[0]?.value === 1,
    'the Temporal server was not scraped',
  );
});

void test('every alert rule was exercised live, or is listed with the reason it is not', (t) => {
  const alerts = readRules().flatMap((rule) => (rule.alert ? [rule.alert] : []));
  const neither: string[] = [];
  for (const name of alerts) {
    const proof = exercised.get(name);
    if (proof) t.diagnostic(`${name}: exercised live, ${proof}`);
    else if (NOT_EXERCISED_LIVE[name]) {
      t.diagnostic(`${name}: not exercised live: ${NOT_EXERCISED_LIVE[name]}`);
    } else neither.push(name);
  }
  assert.deepEqual(neither, [], 'rules neither exercised live nor listed in NOT_EXERCISED_LIVE');
});
