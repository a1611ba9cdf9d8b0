/**
 * Fault suite, cluster profile: the system scaled out on the project's Temporal cluster
 * (frontend, history, matching and worker services as separate processes on PostgreSQL; two
 * workers, two APIs, orders in PostgreSQL) under a steady load of orders through both APIs, while
 * the history, matching and frontend services are SIGKILLed in turn (each down for a moment, then
 * restarted), a worker is SIGKILLed mid-payment and an API is SIGKILLed. Afterwards the same
 * promises as the dev-server profile (faults.test.ts): every accepted order is final; SQL, the
 * workflow, its `OrderStatus` and SQL visibility agree; each processed order was charged exactly
 * once and no other order at all; every error answer was the API's JSON error; no log holds a
 * secret.
 *
 * Two sizes: `short` (the default, part of `npm test`) and `full` (`npm run test:faults`: every
 * kill twice, more orders, longer outages).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterService } from '../../scripts/lib/cluster';
import type { ScaledPartName } from '../../scripts/lib/stack';
import {
  startClusterSystem,
  visibilityDisagreements,
  type ClusterSystem,
} from '../support/cluster';
import {
  financeControl,
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

interface Profile {
  minOrders: number;
  ratePerSecond: number;
  /** How often the whole kill sequence runs. */
  rounds: number;
  /** How long a killed Temporal service stays down before it is started again. */
  downMs: number;
  brokenEvery: number;
  gapMs: number;
  /** Pause between two operator cancels; every third one aims at a late-charging payment. */
  cancelEveryMs: number;
}

const PROFILES: Record<'short' | 'full', Profile> = {
  short: {
    minOrders: 60,
    ratePerSecond: 2,
    rounds: 1,
    downMs: 3_000,
    brokenEvery: 20,
    gapMs: 3_000,
    cancelEveryMs: 3_000,
  },
  full: {
    minOrders: 300,
    ratePerSecond: 3,
    rounds: 2,
    downMs: 10_000,
    brokenEvery: 25,
    gapMs: 8_000,
    cancelEveryMs: 3_000,
  },
};

const profileName = process.env.FAULTS_PROFILE === 'full' ? 'full' : 'short';
const profile = PROFILES[profileName];
const TIMEOUT_MS = (profileName === 'full' ? 20 : 10) * 60_000;
const DB_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

let system: ClusterSystem;

before(
  async () => {
    system = await startClusterSystem({
      name: `cluster-faults-${profileName}`,
      ordersPassword: DB_PASSWORD,
      env: {
        // As in the dev-server profile: fifteen attempts keep a good order from failing in `flaky`.
        PAYMENT_MAX_ATTEMPTS: '15',
        RECONCILE_AFTER: '10s',
        RECONCILE_EVERY: '3s',
        FINANCE_TIMEOUT: '5s',
      },
    });
  },
  { timeout: 240_000 },
);

after(async () => {
  await system?.stop();
});

const finance = (path: string, method?: string, body?: unknown) =>
  financeControl(system.stack.financeUrl)(path, method, body);

async function timed(start: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await start();
  return Date.now() - started;
}

/** SIGKILLs a Temporal service, keeps it down for a moment, then starts it again. */
async function killService(events: FaultEvent[], service: ClusterService): Promise<void> {
  const at = Date.now();
  await system.cluster.services[service].kill();
  await sleep(profile.downMs);
  const restartMs = await timed(() => system.cluster.restart(service));
  events.push({ what: `${service} SIGKILL`, at, restartMs });
}

async function killPart(events: FaultEvent[], part: ScaledPartName): Promise<void> {
  const at = Date.now();
  await system.stack.part(part).kill();
  events.push({
    what: `${part} SIGKILL`,
    at,
    restartMs: await timed(() => system.stack.restart(part)),
  });
}

async function runFaults(events: FaultEvent[]): Promise<void> {
  const gap = () => sleep(profile.gapMs);
  for (let round = 0; round < profile.rounds; round++) {
    await gap();
    await killService(events, 'history');
    await gap();
    events.push(
      await killMidPayment(
        finance,
        () => system.stack.part('worker-1').kill(),
        () => timed(() => system.stack.restart('worker-1')),
        'worker-1 SIGKILL mid-payment',
      ),
    );
    await gap();
    await killService(events, 'matching');
    await gap();
    await killService(events, 'frontend');
    await gap();
    await killPart(events, 'api-1');
    await gap();
  }
}

void test(
  `cluster fault suite (${profileName}): history, matching, frontend, a worker and an API killed under load lose nothing and charge nothing twice`,
  { timeout: TIMEOUT_MS },
  async () => {
    const { stack, cluster, db } = system;
    const events: FaultEvent[] = [];
    const { placed, outcome, loadStarted, loadSeconds } = await runUnderLoad({
      stack,
      profile,
      faults: () => runFaults(events),
      db,
      operators: { token: stack.operatorToken, everyMs: profile.cancelEveryMs },
    });
    const { checks } = outcome;
    const invisible = await visibilityDisagreements(
      stack.client,
      stack.taskQueue,
      new Map(checks.map((check) => [check.orderId, check.sql])),
    );
    const rows = await db.orders.getMany(checks.map((check) => check.orderId));
    // A Temporal service's recovery: from its kill until an order placed after it was processed.
    const serviceRecoveries = events
      .filter((event) => !event.hungKey && /^(history|matching|frontend|api-)/.test(event.what))
      .map((event) => {
        const processed = rows.flatMap((row) =>
          row.processedAt && Date.parse(row.createdAt) >= event.at
            ? [Date.parse(row.processedAt)]
            : [],
        );
        return { what: event.what, recoveryMs: Math.min(...processed) - event.at };
      });
    const paymentRecoveries = recoveriesOf(events, outcome.keys, cancelledOrders(outcome));
    const worstServiceMs = Math.max(...serviceRecoveries.map((recovery) => recovery.recoveryMs));
    const worstPaymentMs = longestRecoveryMs(paymentRecoveries);
    const leaks = leaksIn(
      [...stack.logFiles(), ...cluster.logFiles()],
      [stack.operatorToken, stack.clientToken, stack.metricsToken, DB_PASSWORD],
    );

    const summary = {
      profile: profileName,
      loadSeconds,
      ...outcomeSummary(placed, outcome),
      kills: events.map((event) => event.what),
      visibilityDisagreements: invisible.length,
      worstServiceRecoverySeconds: worstServiceMs / 1000,
      worstPaymentRecoverySeconds: worstPaymentMs / 1000,
      recoveries: [
        ...serviceRecoveries.map((recovery) => ({
          what: recovery.what,
          recoverySeconds: recovery.recoveryMs / 1000,
        })),
        ...paymentRecoveries.map((recovery) => ({
          what: `${recovery.what} (attempt ${recovery.attempt})`,
          recoverySeconds: recovery.recoveryMs / 1000,
        })),
      ],
      events: timeline(events, loadStarted),
    };
    writeFileSync(join(system.dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`
Cluster fault suite (${profileName}) — ${summary.loadSeconds.toFixed(0)} s of load through ${stack.apiUrls.length} APIs, ${stack.workers.length} workers
  orders accepted          ${summary.orders} (${summary.processed} processed, ${summary.failed} failed on purpose, ${summary.cancelled} cancelled)
  operator cancels         ${summary.cancelsSent} sent (${summary.cancelsAtLateCharges} at a late-charging payment): ${summary.cancelsAccepted} accepted, ${summary.cancelsRefused} refused, ${summary.cancelsUnanswered} unanswered (by status: ${JSON.stringify(summary.cancelsByStatus)})
  refunds                  ${summary.refunds} (each of a charge of a cancelled order)
  cancelled but charged    ${summary.cancelledButCharged} (charges minus refunds)
  refunds without charge   ${summary.badRefunds}
  client requests          ${summary.requests} (${summary.retriedRequests} retries; ${summary.unansweredRequests} unanswered while a part was down, ${summary.errorAnswers} clear errors: ${JSON.stringify(summary.errorsByStatus)})
  kills                    ${summary.kills.join(', ')}
  lost                     ${summary.lost}
  double charges           ${summary.doubleCharges}
  disagreements            ${summary.disagreements} (workflow, OrderStatus), ${summary.visibilityDisagreements} (SQL visibility)
  worst recovery           ${summary.worstServiceRecoverySeconds.toFixed(1)} s from a kill to the next order processed; ${summary.worstPaymentRecoverySeconds.toFixed(1)} s from a worker kill to its hung payment retried
                           ${summary.recoveries.map((r) => `${r.what} ${r.recoverySeconds.toFixed(1)} s`).join(', ')}
                           restarts: ${summary.events.map((e) => `${e.what} ${e.restartSeconds?.toFixed(1) ?? '–'} s`).join(', ')}
`);

    assertPromisesKept({
      placed,
      outcome,
      leaks,
      unexpectedExits: [...stack.unexpectedExits, ...cluster.unexpectedExits],
    });
    assert.deepEqual(invisible, [], 'SQL visibility agrees with SQL');
    assert.equal(
      paymentRecoveries.length,
      profile.rounds,
      'every worker kill caught a payment call in flight',
    );
    assert.ok(
      Number.isFinite(worstPaymentMs),
      'every hung payment of an order not cancelled was retried after its kill',
    );
    assert.ok(Number.isFinite(worstServiceMs), 'orders were processed again after every kill');
  },
);
