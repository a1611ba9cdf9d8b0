/**
 * Fault suite: the whole system as separate processes (Temporal dev server with its database in a
 * file, PostgreSQL, finance simulator, worker, API) under a steady load of orders, while every
 * part is killed, restarted or cut off, and operators cancel orders at random moments — some of
 * them while the finance package is charging after the caller gave up. Afterwards: every accepted
 * order is final, SQL, the workflow and the `OrderStatus` search attribute agree, each processed
 * order was charged exactly once, every other order's money (charges minus refunds) is zero,
 * every refund matches a charge, and no log holds a secret.
 *
 * Two sizes: `short` (the default, part of `npm test`, about three minutes) and `full`
 * (`npm run test:faults`: 300 orders, a 20 s database outage, finance down for 30 s).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, type Database } from '../../db';
import type { KeyActivity } from '../../domain/finance';
import { FINAL_STATUSES, type OrderStatus, type OrderWorkflowState } from '../../domain/order';
import { orderStatusKey, QUERIES, workflowIdForOrder } from '../../domain/temporal';
import {
  closedLoop,
  orderBody,
  placeOrderReliably,
  type PlacedOrder,
} from '../../scripts/lib/load';
import { createPostgresCluster, type PostgresCluster } from '../../scripts/lib/postgres';
import { startStack, type PartName, type Stack } from '../../scripts/lib/stack';

interface Profile {
  /** Orders placed at least; the load goes on until the faults are over. */
  minOrders: number;
  ratePerSecond: number;
  workerKills: number;
  databaseOutageMs: number;
  financeOutageMs: number;
  /** Every n-th order has a date the finance package rejects for good: it must end `failed`. */
  brokenEvery: number;
  /** Pause between two faults, so orders are in every stage when the next one hits. */
  gapMs: number;
  /** Pause between two operator cancels; every third one aims at a late-charging payment. */
  cancelEveryMs: number;
}

const PROFILES: Record<'short' | 'full', Profile> = {
  short: {
    minOrders: 60,
    ratePerSecond: 2,
    workerKills: 5,
    databaseOutageMs: 8_000,
    financeOutageMs: 10_000,
    brokenEvery: 20,
    gapMs: 2_000,
    cancelEveryMs: 2_500,
  },
  full: {
    minOrders: 300,
    ratePerSecond: 3,
    workerKills: 5,
    databaseOutageMs: 20_000,
    financeOutageMs: 30_000,
    brokenEvery: 25,
    gapMs: 8_000,
    cancelEveryMs: 3_000,
  },
};

const profileName = process.env.FAULTS_PROFILE === 'full' ? 'full' : 'short';
const profile = PROFILES[profileName];
const BROKEN_DATE = '3000-01-01T00:00:00.000Z';
const RESULTS = resolve(__dirname, '../../test-results');

/** What happened during the run, in order, for the summary and the recovery times. */
interface FaultEvent {
  what: string;
  at: number;
  /** The payment call that was hanging when the worker was killed. */
  hungKey?: string | null;
  /** How long the part took to answer again after it was started. */
  restartMs?: number;
}

let cluster: PostgresCluster;
let stack: Stack;
let db: Database;
const DB_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

/** The suite runs minutes, not the test command's default per-test ceiling. */
const TIMEOUT_MS = (profileName === 'full' ? 20 : 10) * 60_000;

before(
  async () => {
    cluster = await createPostgresCluster({ password: DB_PASSWORD });
    // Kept after the run (git-ignored): every part's log and the Temporal database, to dig into.
    const dir = join(RESULTS, `faults-${profileName}`);
    rmSync(dir, { recursive: true, force: true });
    stack = await startStack({
      dir,
      databaseUrl: cluster.url,
      env: {
        LOG_LEVEL: 'info',
        // 20% of calls fail in `flaky` mode, and an outage eats about six attempts: fifteen keep
        // the odds of exhausting retries on a good order below one in ten thousand per run.
        PAYMENT_MAX_ATTEMPTS: '15',
        // Orders whose workflow start was cut off by an API kill get one within seconds.
        RECONCILE_AFTER: '10s',
        RECONCILE_EVERY: '3s',
        FINANCE_TIMEOUT: '5s',
      },
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

async function finance(path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const response = await fetch(`${stack.financeUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`finance ${method} ${path}: ${response.status}`);
  return response.json();
}

const flaky = () => finance('/mode', 'PUT', { mode: 'flaky', failureRate: 0.2 });

async function restartTimed(part: PartName): Promise<number> {
  const started = Date.now();
  await stack.restart(part);
  return Date.now() - started;
}

/**
 * SIGKILLs the worker while a payment call is in flight: a `hang` fault holds the next payment
 * call open, and the kill comes once it has arrived. Restarted at once, as a supervisor would.
 */
async function killWorkerMidPayment(events: FaultEvent[]): Promise<void> {
  const { hung: before } = (await finance('/faults')) as { hung: unknown[] };
  await finance('/faults', 'POST', { faults: ['hang'] });
  // After a database outage, status writes back off for up to 30 s before payments flow again.
  const deadline = Date.now() + 45_000;
  let hung: { idempotencyKey: string | null }[] = [];
  while (Date.now() < deadline) {
    ({ hung } = (await finance('/faults')) as { hung: { idempotencyKey: string | null }[] });
    if (hung.length > before.length) break;
    await sleep(100);
  }
  const hungKey = hung.length > before.length ? (hung.at(-1)?.idempotencyKey ?? null) : null;
  await finance('/faults', 'DELETE');
  const at = Date.now();
  await stack.parts.worker.kill();
  events.push({ what: 'worker SIGKILL', at, hungKey, restartMs: await restartTimed('worker') });
}

async function runFaults(events: FaultEvent[]): Promise<void> {
  const gap = () => sleep(profile.gapMs);
  let kills = 0;
  const kill = async () => {
    kills += 1;
    await killWorkerMidPayment(events);
  };
  await gap();
  await kill();
  await gap();

  let at = Date.now();
  await stack.parts.temporal.stop();
  events.push({
    what: 'Temporal dev server restart',
    at,
    restartMs: await restartTimed('temporal'),
  });
  await gap();
  await kill();
  await gap();

  at = Date.now();
  await cluster.stop();
  await sleep(profile.databaseOutageMs);
  await cluster.start();
  events.push({ what: `PostgreSQL down ${profile.databaseOutageMs / 1000} s`, at });
  await gap();
  await kill();
  await gap();

  at = Date.now();
  await finance('/mode', 'PUT', { mode: 'down' });
  await sleep(profile.financeOutageMs);
  await flaky();
  events.push({ what: `finance down ${profile.financeOutageMs / 1000} s`, at });
  await gap();

  at = Date.now();
  await stack.parts.api.kill();
  events.push({ what: 'API SIGKILL', at, restartMs: await restartTimed('api') });
  await gap();
  while (kills < profile.workerKills) {
    await kill();
    await gap();
  }
}

/** One operator cancel over HTTP, as the dashboard sends it; what the API answered. */
interface CancelSent {
  orderId: string;
  /** HTTP status, or 0 when the API did not answer (it may be down). */
  status: number;
  /** Aimed at a payment the finance package was holding to charge late. */
  lateCharge: boolean;
}

async function cancelOrder(orderId: string, lateCharge: boolean): Promise<CancelSent> {
  try {
    const response = await fetch(`${stack.apiUrl}/api/orders/${orderId}/cancel`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.operatorToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ reason: 'fault suite operator' }),
      signal: AbortSignal.timeout(15_000),
    });
    await response.body?.cancel();
    return { orderId, status: response.status, lateCharge };
  } catch {
    return { orderId, status: 0, lateCharge };
  }
}

const orderOfPaymentKey = (key: string) => /^order-(.+)-payment$/.exec(key)?.[1] ?? null;

/**
 * Operators at work during the faults: a cancel of a random recent order every few seconds, and
 * every third time a cancel aimed at a payment the package is holding (a `late-charge` fault:
 * silent until we give up, then it charges), so the refund path is taken for real.
 */
async function runOperators(
  accepted: readonly string[],
  done: () => boolean,
): Promise<CancelSent[]> {
  const sent: CancelSent[] = [];
  for (let round = 1; !done(); round++) {
    await sleep(profile.cancelEveryMs);
    if (round % 3 === 0) {
      const { pending: before } = (await finance('/faults')) as { pending: string[] };
      await finance('/faults', 'POST', { faults: ['late-charge'] });
      const deadline = Date.now() + 10_000;
      let target: string | null = null;
      while (!target && Date.now() < deadline && !done()) {
        const { pending } = (await finance('/faults')) as { pending: string[] };
        const fresh = pending.find((key) => !before.includes(key));
        target = fresh ? orderOfPaymentKey(fresh) : null;
        if (!target) await sleep(50);
      }
      if (target) {
        sent.push(await cancelOrder(target, true));
        continue;
      }
      // Nothing came to pay within the time (a part was down): don't leave the fault queued.
      await finance('/faults', 'DELETE');
    }
    const recent = accepted.slice(-20);
    const orderId = recent[Math.floor(Math.random() * recent.length)];
    if (orderId) sent.push(await cancelOrder(orderId, false));
  }
  return sent;
}

/** Places orders at the profile's rate until the faults are over and enough orders were placed. */
async function runLoad(faultsDone: () => boolean, acceptedSoFar: string[]): Promise<PlacedOrder[]> {
  const placing: Promise<PlacedOrder>[] = [];
  const started = Date.now();
  for (let index = 0; !faultsDone() || index < profile.minOrders; index++) {
    const due = started + (index * 1000) / profile.ratePerSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const body = orderBody();
    if (index % profile.brokenEvery === profile.brokenEvery - 1) {
      body.datePlaced = BROKEN_DATE;
    }
    // A client that gives up after three minutes: longer than any outage in the suite.
    const placed = placeOrderReliably(stack.apiUrl, 180_000, body);
    void placed.then((order) => order.orderId && acceptedSoFar.push(order.orderId));
    placing.push(placed);
  }
  return Promise.all(placing);
}

interface Check {
  orderId: string;
  broken: boolean;
  sql: OrderStatus | null;
  workflow: OrderStatus | null;
  searchAttribute: string | null;
  charges: number;
  refunds: number;
  /** Refunds whose payment reference is not the charge of their key. */
  strayRefunds: number;
  keys: number;
}

async function workflowFacts(
  orderId: string,
): Promise<{ workflow: OrderStatus | null; searchAttribute: string | null }> {
  const handle = stack.client.workflow.getHandle(workflowIdForOrder(orderId));
  const [state, description] = await Promise.all([
    handle.query<OrderWorkflowState>(QUERIES.status),
    handle.describe(),
  ]);
  return {
    workflow: state.status,
    searchAttribute: description.typedSearchAttributes.get(orderStatusKey) ?? null,
  };
}

function isFinal(status: OrderStatus | null | undefined): boolean {
  return status !== null && status !== undefined && FINAL_STATUSES.includes(status);
}

void test(
  `fault suite (${profileName}): kills, restarts and outages under load lose nothing and charge nothing twice`,
  { timeout: TIMEOUT_MS },
  async () => {
    const events: FaultEvent[] = [];
    const loadStarted = Date.now();
    await flaky();
    let faultsDone = false;
    const faults = runFaults(events).finally(() => {
      faultsDone = true;
    });
    const acceptedSoFar: string[] = [];
    const [placed, cancels] = await Promise.all([
      runLoad(() => faultsDone, acceptedSoFar),
      runOperators(acceptedSoFar, () => faultsDone),
      faults,
    ]);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    await finance('/mode', 'PUT', { mode: 'normal' });

    // Every request ended in an order or a clear error.
    const answers = placed.flatMap((order) => order.answers);
    const unclear = answers.filter(
      (answer) => answer.status >= 400 && !/^[a-z_]+$/.test(answer.error ?? ''),
    );
    const accepted = placed.flatMap((order, index) =>
      order.orderId ? [{ orderId: order.orderId, index }] : [],
    );
    const brokenIds = new Set(
      accepted
        .filter(({ index }) => index % profile.brokenEvery === profile.brokenEvery - 1)
        .map(({ orderId }) => orderId),
    );
    const ids = accepted.map(({ orderId }) => orderId);

    // Every accepted order reaches a final state (bounded: backoffs top out at a minute).
    const deadline = Date.now() + 240_000;
    let rows = await db.orders.getMany(ids);
    while (rows.filter((row) => isFinal(row.status)).length < ids.length && Date.now() < deadline) {
      await sleep(1000);
      rows = await db.orders.getMany(ids);
    }
    const sqlStatus = new Map(rows.map((row) => [row.id, row.status]));

    const { keys } = (await finance('/charges')) as { keys: KeyActivity[] };
    const checks: Check[] = await closedLoop(ids.length, 8, async (index) => {
      const orderId = ids[index] ?? '';
      const mine = keys.filter((key) => key.orderId === orderId);
      return {
        orderId,
        broken: brokenIds.has(orderId),
        sql: sqlStatus.get(orderId) ?? null,
        ...(await workflowFacts(orderId)),
        charges: mine.reduce((sum, key) => sum + key.charges, 0),
        refunds: mine.reduce((sum, key) => sum + key.refunds, 0),
        strayRefunds: mine.filter(
          (key) =>
            key.refund !== null && key.refund.paymentReference !== key.receipt?.paymentReference,
        ).length,
        keys: mine.length,
      };
    });

    const lost = checks.filter((check) => !isFinal(check.sql));
    const disagreements = checks.filter(
      (check) => check.sql !== check.workflow || check.sql !== check.searchAttribute,
    );
    // Money taken and kept: one charge for a processed order, nothing net for any other.
    const wrongCharges = checks.filter(
      (check) =>
        check.charges - check.refunds !== (check.sql === 'processed' ? 1 : 0) ||
        check.charges > 1 ||
        check.keys > 1,
    );
    const doubleCharges = checks.filter((check) => check.charges > 1);
    const cancelledButCharged = checks.filter(
      (check) => check.sql === 'cancelled' && check.charges - check.refunds !== 0,
    );
    const badRefunds = checks.filter(
      (check) => check.refunds > check.charges || check.strayRefunds > 0,
    );
    // Broken orders fail unless an operator cancelled them first; nothing else fails.
    const wrongOutcome = checks.filter((check) =>
      check.broken ? check.sql !== 'failed' && check.sql !== 'cancelled' : check.sql === 'failed',
    );
    const cancelledIds = new Set(cancels.map((cancel) => cancel.orderId));
    const cancelledUnasked = checks.filter(
      (check) => check.sql === 'cancelled' && !cancelledIds.has(check.orderId),
    );
    const acceptedCancels = cancels.filter((cancel) => cancel.status === 202);
    const acceptedButNotCancelled = acceptedCancels.filter(
      (cancel) => sqlStatus.get(cancel.orderId) !== 'cancelled',
    );
    const recoveries = events.flatMap((event) => {
      if (!event.hungKey) return [];
      const times = (
        keys.find((key) => key.idempotencyKey === event.hungKey)?.requestedAt ?? []
      ).map((at) => Date.parse(at));
      const next = times.find((at) => at > event.at);
      return [
        {
          ...event,
          // The hung call was this attempt: the retry waits out the heartbeat timeout, then the
          // retry policy's backoff for it (1 s after the first attempt, doubling, up to 1 min).
          attempt: times.filter((at) => at <= event.at).length,
          recoveryMs: next === undefined ? Number.POSITIVE_INFINITY : next - event.at,
        },
      ];
    });
    const worstRecoveryMs = Math.max(...recoveries.map((recovery) => recovery.recoveryMs));

    const secrets = [stack.operatorToken, DB_PASSWORD];
    const leaks = stack
      .logFiles()
      .flatMap((file) =>
        secrets.filter((secret) => readFileSync(file, 'utf8').includes(secret)).map(() => file),
      );

    const count = (status: OrderStatus) => checks.filter((check) => check.sql === status).length;
    const summary = {
      profile: profileName,
      loadSeconds,
      orders: ids.length,
      processed: count('processed'),
      failed: count('failed'),
      cancelled: count('cancelled'),
      cancelsSent: cancels.length,
      cancelsAccepted: acceptedCancels.length,
      cancelsRefused: cancels.filter((cancel) => cancel.status === 409).length,
      cancelsUnanswered: cancels.filter((cancel) => cancel.status === 0).length,
      cancelsAtLateCharges: cancels.filter((cancel) => cancel.lateCharge).length,
      refunds: checks.reduce((sum, check) => sum + check.refunds, 0),
      cancelledButCharged: cancelledButCharged.length,
      badRefunds: badRefunds.length,
      requests: answers.length,
      retriedRequests: answers.length - placed.length,
      unansweredRequests: answers.filter((answer) => answer.status === 0).length,
      errorAnswers: answers.filter((answer) => answer.status >= 400).length,
      errorsByStatus: Object.fromEntries(
        [...new Set(answers.map((answer) => answer.status))]
          .filter((status) => status >= 400)
          .map((status) => [
            `${status} ${answers.find((answer) => answer.status === status)?.error ?? ''}`,
            answers.filter((answer) => answer.status === status).length,
          ]),
      ),
      workerKills: events.filter((event) => event.what === 'worker SIGKILL').length,
      apiKills: events.filter((event) => event.what === 'API SIGKILL').length,
      temporalRestarts: events.filter((event) => event.what.startsWith('Temporal')).length,
      outages: events.filter((event) => event.what.includes(' down ')).map((event) => event.what),
      lost: lost.length,
      doubleCharges: doubleCharges.length,
      disagreements: disagreements.length,
      worstRecoverySeconds: worstRecoveryMs / 1000,
      recoveries: recoveries.map((recovery) => ({
        attempt: recovery.attempt,
        restartSeconds: (recovery.restartMs ?? 0) / 1000,
        recoverySeconds: recovery.recoveryMs / 1000,
      })),
      events: events.map((event) => ({
        what: event.what,
        atSeconds: (event.at - loadStarted) / 1000,
        restartSeconds: event.restartMs === undefined ? null : event.restartMs / 1000,
      })),
    };
    writeFileSync(
      join(RESULTS, `faults-${profileName}`, 'summary.json'),
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    console.log(`
Fault suite (${profileName}) — ${summary.loadSeconds.toFixed(0)} s of load
  orders accepted          ${summary.orders} (${summary.processed} processed, ${summary.failed} failed on purpose, ${summary.cancelled} cancelled)
  operator cancels         ${summary.cancelsSent} sent (${summary.cancelsAtLateCharges} at a late-charging payment): ${summary.cancelsAccepted} accepted, ${summary.cancelsRefused} refused, ${summary.cancelsUnanswered} unanswered
  refunds                  ${summary.refunds} (every one of a charge of a cancelled order)
  cancelled but charged    ${summary.cancelledButCharged} (charges minus refunds)
  refunds without charge   ${summary.badRefunds}
  client requests          ${summary.requests} (${summary.retriedRequests} retries; ${summary.unansweredRequests} unanswered while a part was down, ${summary.errorAnswers} clear errors: ${JSON.stringify(summary.errorsByStatus)})
  worker SIGKILLs          ${summary.workerKills} (each with a payment call in flight)
  API SIGKILLs             ${summary.apiKills}
  Temporal restarts        ${summary.temporalRestarts}
  outages                  ${summary.outages.join(', ')}
  lost                     ${summary.lost}
  double charges           ${summary.doubleCharges}
  disagreements            ${summary.disagreements}
  worst recovery           ${summary.worstRecoverySeconds.toFixed(1)} s from a worker kill to its hung payment retried 
                           per kill: ${summary.recoveries.map((r) => `${r.recoverySeconds.toFixed(1)} s (attempt ${r.attempt}, restart ${r.restartSeconds.toFixed(1)} s)`).join(', ')}
`);

    assert.deepEqual(unclear, [], 'every error answer carries the API error code');
    assert.equal(
      placed.filter((order) => !order.orderId).length,
      0,
      'every order was accepted in the end',
    );
    assert.deepEqual(lost, [], 'every accepted order is final in SQL');
    assert.deepEqual(disagreements, [], 'SQL, the workflow and OrderStatus agree');
    assert.deepEqual(wrongCharges, [], 'one charge per processed order, none kept for any other');
    assert.deepEqual(cancelledButCharged, [], 'no cancelled order keeps money taken');
    assert.deepEqual(badRefunds, [], 'every refund gives back a charge of its own key');
    assert.deepEqual(wrongOutcome, [], 'only the broken orders failed, and all of them did');
    assert.deepEqual(cancelledUnasked, [], 'only orders an operator cancelled are cancelled');
    assert.deepEqual(
      acceptedButNotCancelled,
      [],
      'every cancel the API accepted (202) ended the order cancelled',
    );
    assert.ok(
      cancels.some((cancel) => cancel.lateCharge && cancel.status === 202),
      'at least one cancel met a payment that the package charged after we gave up',
    );
    assert.equal(summary.workerKills, profile.workerKills);
    assert.equal(
      recoveries.length,
      profile.workerKills,
      'every worker kill caught a payment call in flight',
    );
    assert.ok(Number.isFinite(worstRecoveryMs), 'every hung payment was retried after its kill');
    assert.deepEqual(leaks, [], 'no log holds the operator token or the database password');
    assert.deepEqual(stack.unexpectedExits, [], 'no part died other than when the suite killed it');
  },
);
