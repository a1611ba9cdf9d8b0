/**
 * Fault suite: the whole system as separate processes (Temporal dev server with its database in a
 * file, PostgreSQL, finance simulator, worker, API) under a steady load of orders, while every
 * part is killed, restarted or cut off. Afterwards: every accepted order is final, SQL, the
 * workflow and the `OrderStatus` search attribute agree, each processed order was charged exactly
 * once and no other order at all, and no log holds a secret.
 *
 * Two sizes: `short` (the default, part of `npm test`, about three minutes) and `full`
 * (`npm run test:faults`: 300 orders, a 20 s database outage, finance down for 30 s).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PartName } from '../../scripts/lib/stack';
import {
  faultSystemForFile,
  killMidPayment,
  leaksIn,
  outcomeSummary,
  cancelledOrders,
  recoveriesOf,
  longestRecoveryMs,
  runUnderLoad,
  timeline,
  assertPromisesKept,
  type FaultEvent,
} from './support';
import { waitFor } from '../support/wait';

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

/** The suite runs minutes, not the test command's default per-test ceiling. */
const TIMEOUT_MS = (profileName === 'full' ? 20 : 10) * 60_000;

const fault = faultSystemForFile(`faults-${profileName}`, {
  LOG_LEVEL: 'info',
  // 20% of calls fail in `flaky` mode, and an outage eats about six attempts: fifteen keep
  // the odds of exhausting retries on a good order below one in ten thousand per run.
  PAYMENT_MAX_ATTEMPTS: '15',
  // Launches cut off by an API kill are claimed again within seconds.
  RECONCILE_AFTER: '10s',
  RECONCILE_EVERY: '3s',
  FINANCE_TIMEOUT: '5s',
});
const finance = (path: string, method?: string, body?: unknown) =>
  fault.finance(path, method, body);

const flaky = () => finance('/mode', 'PUT', { mode: 'flaky', failureRate: 0.2 });

async function restartTimed(part: PartName): Promise<number> {
  const started = Date.now();
  await fault.stack.restart(part);
  return Date.now() - started;
}

/** SIGKILLs the worker while a payment call is in flight, and restarts it at once. */
async function killWorkerMidPayment(events: FaultEvent[]): Promise<void> {
  events.push(
    await killMidPayment(
      finance,
      () => fault.stack.parts.worker.kill(),
      () => restartTimed('worker'),
    ),
  );
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
  await fault.stack.parts.temporal.stop();
  events.push({
    what: 'Temporal dev server restart',
    at,
    restartMs: await restartTimed('temporal'),
  });
  await gap();
  await kill();
  await gap();

  at = Date.now();
  await fault.cluster.stop();
  await sleep(profile.databaseOutageMs);
  await fault.cluster.start();
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
  await fault.stack.parts.api.kill();
  events.push({ what: 'API SIGKILL', at, restartMs: await restartTimed('api') });
  await gap();
  while (kills < profile.workerKills) {
    await kill();
    await gap();
  }
}

void test(
  `fault suite (${profileName}): kills, restarts and outages under load lose nothing and charge nothing twice`,
  { timeout: TIMEOUT_MS },
  async () => {
    const events: FaultEvent[] = [];
    const { placed, outcome, loadStarted, loadSeconds } = await runUnderLoad({
      stack: fault.stack,
      profile,
      faults: () => runFaults(events),
      db: fault.db,
      operators: { token: fault.stack.operatorToken, everyMs: profile.cancelEveryMs },
    });
    const recoveries = recoveriesOf(events, outcome.keys, cancelledOrders(outcome));
    const worstRecoveryMs = longestRecoveryMs(recoveries);

    const secrets = [
      fault.stack.operatorToken,
      fault.stack.clientToken,
      fault.stack.metricsToken,
      fault.dbPassword,
    ];
    const leaks = leaksIn(fault.stack.logFiles(), secrets);

    const summary = {
      profile: profileName,
      loadSeconds,
      ...outcomeSummary(placed, outcome),
      workerKills: events.filter((event) => event.what === 'worker SIGKILL').length,
      apiKills: events.filter((event) => event.what === 'API SIGKILL').length,
      temporalRestarts: events.filter((event) => event.what.startsWith('Temporal')).length,
      outages: events.filter((event) => event.what.includes(' down ')).map((event) => event.what),
      worstRecoverySeconds: worstRecoveryMs / 1000,
      recoveries: recoveries.map((recovery) => ({
        attempt: recovery.attempt,
        restartSeconds: (recovery.restartMs ?? 0) / 1000,
        recoverySeconds: recovery.recoveryMs / 1000,
        cancelled: recovery.cancelled,
      })),
      events: timeline(events, loadStarted),
    };
    writeFileSync(join(fault.dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`
Fault suite (${profileName}) — ${summary.loadSeconds.toFixed(0)} s of load
  orders accepted          ${summary.orders} (${summary.processed} processed, ${summary.failed} failed on purpose, ${summary.cancelled} cancelled)
  operator cancels         ${summary.cancelsSent} sent (${summary.cancelsAtLateCharges} at a late-charging payment): ${summary.cancelsAccepted} accepted, ${summary.cancelsRefused} refused, ${summary.cancelsUnanswered} unanswered (by status: ${JSON.stringify(summary.cancelsByStatus)})
  refunds                  ${summary.refunds} (each of a charge of a cancelled order)
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
                           per kill: ${summary.recoveries.map((r) => `${r.cancelled ? 'not retried: the order was cancelled' : `${r.recoverySeconds.toFixed(1)} s`} (attempt ${r.attempt}, restart ${r.restartSeconds.toFixed(1)} s)`).join(', ')}
`);

    assertPromisesKept({ placed, outcome, leaks, unexpectedExits: fault.stack.unexpectedExits });
    assert.equal(summary.workerKills, profile.workerKills);
    assert.equal(
      recoveries.length,
      profile.workerKills,
      'every worker kill caught a payment call in flight',
    );
    assert.ok(
      Number.isFinite(worstRecoveryMs),
      'every hung payment of an order not cancelled was retried after its kill',
    );
    // Every status write of the run, through kills and outages, moved the kept counts with it.
    assert.deepEqual(
      await fault.db.orders.countByStatus(),
      await fault.db.orders.countByStatusScan(),
    );
    // A launch cut off by the API kill between start and record is recorded once its lease ends.
    await waitFor(
      'every launch to be recorded',
      () => fault.db.launches.backlog(),
      (backlog) => backlog.waiting === 0,
      { timeoutMs: 60_000, everyMs: 1_000 },
    );
  },
);
