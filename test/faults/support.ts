/**
 * What every fault profile shares — the dev server's (faults.test.ts) and the cluster's
 * (cluster-faults.test.ts): the finance simulator's control calls, the steady load of careful
 * orders, operators cancelling orders at random moments (some while the finance package is
 * charging after the caller gave up), and the checks afterwards (every accepted order final; SQL,
 * the workflow and the `OrderStatus` search attribute agree; one charge kept per processed order
 * and none for any other, charges minus refunds; every refund of a charge; no secret in a log).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { openDatabase, type Database } from '../../db';
import type { KeyActivity } from '../../domain/finance';
import { FINAL_STATUSES, type OrderStatus, type OrderWorkflowState } from '../../domain/order';
import { orderStatusKey, QUERIES, workflowIdForOrder } from '../../domain/temporal';
import {
  closedLoop,
  orderBody,
  placeOrderReliably,
  type PlacedOrder,
  type PostAnswer,
} from '../../scripts/lib/load';
import { createPostgresCluster, type PostgresCluster } from '../../scripts/lib/postgres';
import { startStack, type Stack } from '../../scripts/lib/stack';

export const BROKEN_DATE = '3000-01-01T00:00:00.000Z';

/** What happened during the run, in order, for the summary and the recovery times. */
export interface FaultEvent {
  what: string;
  at: number;
  /** The payment call that was hanging when the worker was killed. */
  hungKey?: string | null;
  /** How long the part took to answer again after it was started. */
  restartMs?: number;
}

/** Calls the finance simulator's control API; throws on an error answer. */
/** A dev-server fault profile's system, filled in by the file's `before` hook. */
export interface FaultSystem {
  cluster: PostgresCluster;
  stack: Stack;
  /** The test's own handle on the orders database. */
  db: Database;
  /** The orders database's password: a secret no log may contain. */
  dbPassword: string;
  /** Where the run's logs are kept (test-results/<name>). */
  dir: string;
  finance: ReturnType<typeof financeControl>;
}

/**
 * The whole system as separate processes on a throwaway PostgreSQL cluster, started before the
 * file's tests and stopped after them. Every part's log and the Temporal database are kept in
 * test-results/`name` (git-ignored) to dig into after a run.
 */
export function faultSystemForFile(name: string, env: Record<string, string>): FaultSystem {
  const system = {
    dbPassword: `pw-${randomBytes(12).toString('hex')}`,
    dir: join(resolve(__dirname, '../../test-results'), name),
  } as FaultSystem;
  before(
    async () => {
      system.cluster = await createPostgresCluster({ password: system.dbPassword });
      rmSync(system.dir, { recursive: true, force: true });
      system.stack = await startStack({ dir: system.dir, databaseUrl: system.cluster.url, env });
      system.finance = financeControl(system.stack.financeUrl);
      system.db = await openDatabase(system.cluster.url);
    },
    { timeout: 180_000 },
  );
  after(async () => {
    await system.db?.close();
    await system.stack?.stop();
    await system.cluster?.destroy();
  });
  return system;
}

export function financeControl(
  financeUrl: string,
): (path: string, method?: string, body?: unknown) => Promise<unknown> {
  return async (path, method = 'GET', body) => {
    const response = await fetch(`${financeUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`finance ${method} ${path}: ${response.status}`);
    return response.json();
  };
}

/**
 * SIGKILLs a worker while a payment call is in flight: a `hang` fault holds the next payment
 * call open, and the kill comes once it has arrived. Restarted at once, as a supervisor would.
 */
export async function killMidPayment(
  finance: (path: string, method?: string, body?: unknown) => Promise<unknown>,
  kill: () => Promise<void>,
  restartTimed: () => Promise<number>,
  what = 'worker SIGKILL',
): Promise<FaultEvent> {
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
  await kill();
  return { what, at, hungKey, restartMs: await restartTimed() };
}

export interface LoadOptions {
  /** Orders go to these APIs in turn, as the client this API key is for. */
  apiUrls: string[];
  clientToken: string;
  ratePerSecond: number;
  /** Orders placed at least; the load goes on until the faults are over. */
  minOrders: number;
  /** Every n-th order has a date the finance package rejects for good: it must end `failed`. */
  brokenEvery: number;
  faultsDone: () => boolean;
  /** Filled with each order id as it is accepted, for the operators to pick from. */
  accepted?: string[];
}

/** Places orders at the given rate until the faults are over and enough orders were placed. */
export async function runLoad(options: LoadOptions): Promise<PlacedOrder[]> {
  const placing: Promise<PlacedOrder>[] = [];
  const started = Date.now();
  for (let index = 0; !options.faultsDone() || index < options.minOrders; index++) {
    const due = started + (index * 1000) / options.ratePerSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const body = orderBody();
    if (index % options.brokenEvery === options.brokenEvery - 1) {
      body.datePlaced = BROKEN_DATE;
    }
    const apiUrl = options.apiUrls[index % options.apiUrls.length] ?? '';
    // A client that gives up after three minutes: longer than any outage in the suite.
    const placed = placeOrderReliably(apiUrl, options.clientToken, 180_000, body);
    void placed.then((order) => order.orderId && options.accepted?.push(order.orderId));
    placing.push(placed);
  }
  return Promise.all(placing);
}

/** One operator cancel over HTTP, as the dashboard sends it, and what the API answered. */
export interface CancelSent {
  orderId: string;
  /** HTTP status, or 0 when the API did not answer (it may be down). */
  status: number;
  /** Aimed at a payment the finance package was holding to charge late. */
  lateCharge: boolean;
}

async function cancelOrder(
  apiUrl: string,
  token: string,
  orderId: string,
  lateCharge: boolean,
): Promise<CancelSent> {
  try {
    const response = await fetch(`${apiUrl}/api/orders/${orderId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
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

/** Operators at work during a run: how often, and with which credential. */
export interface OperatorOptions {
  token: string;
  /** Pause between two cancels; every third one aims at a late-charging payment. */
  everyMs: number;
}

/**
 * Operators at work during the faults: a cancel of a random recent order every few seconds, and
 * every third time a cancel aimed at a payment the package is holding (a `late-charge` fault:
 * silent until we give up, then it charges), so the refund path is taken for real.
 */
async function runOperators(
  apiUrl: string,
  finance: (path: string, method?: string, body?: unknown) => Promise<unknown>,
  operators: OperatorOptions,
  accepted: readonly string[],
  done: () => boolean,
): Promise<CancelSent[]> {
  const sent: CancelSent[] = [];
  for (let round = 1; !done(); round++) {
    await sleep(operators.everyMs);
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
        sent.push(await cancelOrder(apiUrl, operators.token, target, true));
        continue;
      }
      // Nothing came to pay in time (a part was down): leave no fault queued for later.
      await finance('/faults', 'DELETE');
    }
    const recent = accepted.slice(-20);
    const orderId = recent[Math.floor(Math.random() * recent.length)];
    if (orderId) sent.push(await cancelOrder(apiUrl, operators.token, orderId, false));
  }
  return sent;
}

/**
 * The run itself: finance turns `flaky` (a fifth of its calls fail in every way it knows), the
 * faults run while orders arrive, finance is back to normal, and every order is examined.
 */
export async function runUnderLoad(options: {
  /** The system: where orders go, where finance is, a Temporal client. */
  stack: { apiUrls: string[]; clientToken: string; financeUrl: string; client: Client };
  profile: Pick<LoadOptions, 'ratePerSecond' | 'minOrders' | 'brokenEvery'>;
  faults: () => Promise<void>;
  db: Database;
  operators: OperatorOptions;
}): Promise<{ placed: PlacedOrder[]; outcome: Outcome; loadStarted: number; loadSeconds: number }> {
  const { stack, profile } = options;
  const finance = financeControl(stack.financeUrl);
  const loadStarted = Date.now();
  await finance('/mode', 'PUT', { mode: 'flaky', failureRate: 0.2 });
  let faultsDone = false;
  const faults = options.faults().finally(() => {
    faultsDone = true;
  });
  const accepted: string[] = [];
  const load = {
    apiUrls: stack.apiUrls,
    clientToken: stack.clientToken,
    ratePerSecond: profile.ratePerSecond,
    minOrders: profile.minOrders,
    brokenEvery: profile.brokenEvery,
    faultsDone: () => faultsDone,
    accepted,
  };
  const [placed, cancels] = await Promise.all([
    runLoad(load),
    runOperators(stack.apiUrls[0] ?? '', finance, options.operators, accepted, () => faultsDone),
    faults,
  ]);
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  await finance('/mode', 'PUT', { mode: 'normal' });
  const outcome = await examine({
    db: options.db,
    client: stack.client,
    financeUrl: stack.financeUrl,
    placed,
    brokenEvery: profile.brokenEvery,
    cancels,
  });
  return { placed, outcome, loadStarted, loadSeconds };
}

/** The client's side of a run, for the summary: requests, retries, unanswered, error answers. */
export function requestSummary(placed: PlacedOrder[]) {
  const answers = placed.flatMap((order) => order.answers);
  return {
    requests: answers.length,
    retriedRequests: answers.length - placed.length,
    unansweredRequests: answers.filter((answer) => answer.status === 0).length,
    errorAnswers: answers.filter((answer) => answer.status >= 400).length,
    errorsByStatus: errorsByStatus(answers),
  };
}

/** The order counts and the broken promises of a run, for its summary. */
export function outcomeSummary(placed: PlacedOrder[], outcome: Outcome) {
  const count = (status: OrderStatus) =>
    outcome.checks.filter((check) => check.sql === status).length;
  return {
    orders: outcome.checks.length,
    processed: count('processed'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    ...requestSummary(placed),
    cancelsSent: outcome.cancels.length,
    cancelsAccepted: outcome.cancels.filter((cancel) => cancel.status === 202).length,
    cancelsRefused: outcome.cancels.filter((cancel) => cancel.status === 409).length,
    cancelsUnanswered: outcome.cancels.filter((cancel) => cancel.status === 0).length,
    cancelsAtLateCharges: outcome.cancels.filter((cancel) => cancel.lateCharge).length,
    // 503 workflow_unresponsive: no worker answered in time; the workflow may apply it later.
    cancelsByStatus: Object.fromEntries(
      [...new Set(outcome.cancels.map((cancel) => cancel.status))].map((status) => [
        String(status),
        outcome.cancels.filter((cancel) => cancel.status === status).length,
      ]),
    ),
    refunds: outcome.checks.reduce((sum, check) => sum + check.refunds, 0),
    lost: outcome.lost.length,
    doubleCharges: outcome.doubleCharges.length,
    cancelledButCharged: outcome.cancelledButCharged.length,
    badRefunds: outcome.badRefunds.length,
    disagreements: outcome.disagreements.length,
  };
}

/** The run's faults on the load's clock, with each restart's time. */
export function timeline(events: FaultEvent[], loadStarted: number) {
  return events.map((event) => ({
    what: event.what,
    atSeconds: (event.at - loadStarted) / 1000,
    restartSeconds: event.restartMs === undefined ? null : event.restartMs / 1000,
  }));
}

/**
 * The promises every profile keeps: clear errors, every order accepted and final, SQL = workflow
 * = OrderStatus, money kept for processed orders only (one charge each), every refund of a
 * charge, only the broken orders failed, only asked-for cancels and every accepted one carried
 * out, no secret in a log, no part died on its own.
 */
export function assertPromisesKept(run: {
  placed: PlacedOrder[];
  outcome: Outcome;
  leaks: string[];
  unexpectedExits: string[];
}): void {
  const { outcome } = run;
  assert.deepEqual(outcome.unclear, [], 'every error answer carries the API error code');
  assert.equal(
    run.placed.filter((order) => !order.orderId).length,
    0,
    'every order was accepted in the end',
  );
  assert.deepEqual(outcome.lost, [], 'every accepted order is final in SQL');
  assert.deepEqual(outcome.disagreements, [], 'SQL, the workflow and OrderStatus agree');
  assert.deepEqual(
    outcome.wrongCharges,
    [],
    'one charge per processed order, none kept for any other',
  );
  assert.deepEqual(outcome.cancelledButCharged, [], 'no cancelled order keeps money taken');
  assert.deepEqual(outcome.badRefunds, [], 'every refund gives back a charge of its own key');
  assert.deepEqual(outcome.wrongOutcome, [], 'only the broken orders failed, and all of them did');
  assert.deepEqual(outcome.cancelledUnasked, [], 'only orders an operator cancelled are cancelled');
  assert.deepEqual(
    outcome.acceptedButNotCancelled,
    [],
    'every cancel the API accepted (202) ended the order cancelled',
  );
  assert.ok(
    outcome.cancels.some((cancel) => cancel.lateCharge && cancel.status === 202),
    'at least one cancel met a payment that the package charged after we gave up',
  );
  assert.deepEqual(run.leaks, [], 'no log holds the operator token or the database password');
  assert.deepEqual(run.unexpectedExits, [], 'no part died other than when the suite killed it');
}

export interface Check {
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
  client: Client,
  orderId: string,
): Promise<{ workflow: OrderStatus | null; searchAttribute: string | null }> {
  const handle = client.workflow.getHandle(workflowIdForOrder(orderId));
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

/** The outcome of a run, order by order, and the orders that break each promise. */
export interface Outcome {
  answers: PostAnswer[];
  /** Error answers without the API's error code. */
  unclear: PostAnswer[];
  checks: Check[];
  keys: KeyActivity[];
  lost: Check[];
  disagreements: Check[];
  wrongCharges: Check[];
  doubleCharges: Check[];
  wrongOutcome: Check[];
  cancels: CancelSent[];
  cancelledButCharged: Check[];
  badRefunds: Check[];
  cancelledUnasked: Check[];
  acceptedButNotCancelled: CancelSent[];
}

/**
 * Waits (bounded: backoffs top out at a minute) until every accepted order is final, then checks
 * each against its workflow, its search attribute and the finance package's charges.
 */
export async function examine(options: {
  db: Database;
  client: Client;
  financeUrl: string;
  placed: PlacedOrder[];
  brokenEvery: number;
  cancels: CancelSent[];
}): Promise<Outcome> {
  const { db, placed, brokenEvery, cancels } = options;
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
      .filter(({ index }) => index % brokenEvery === brokenEvery - 1)
      .map(({ orderId }) => orderId),
  );
  const ids = accepted.map(({ orderId }) => orderId);

  const deadline = Date.now() + 240_000;
  let rows = await db.orders.getMany(ids);
  while (rows.filter((row) => isFinal(row.status)).length < ids.length && Date.now() < deadline) {
    await sleep(1000);
    rows = await db.orders.getMany(ids);
  }
  const sqlStatus = new Map(rows.map((row) => [row.id, row.status]));

  const { keys } = (await financeControl(options.financeUrl)('/charges')) as {
    keys: KeyActivity[];
  };
  const checks: Check[] = await closedLoop(ids.length, 8, async (index) => {
    const orderId = ids[index] ?? '';
    const mine = keys.filter((key) => key.orderId === orderId);
    return {
      orderId,
      broken: brokenIds.has(orderId),
      sql: sqlStatus.get(orderId) ?? null,
      ...(await workflowFacts(options.client, orderId)),
      charges: mine.reduce((sum, key) => sum + key.charges, 0),
      refunds: mine.reduce((sum, key) => sum + key.refunds, 0),
      strayRefunds: mine.filter(
        (key) =>
          key.refund !== null && key.refund.paymentReference !== key.receipt?.paymentReference,
      ).length,
      keys: mine.length,
    };
  });
  const cancelled = new Set(cancels.map((cancel) => cancel.orderId));
  return {
    answers,
    unclear,
    checks,
    keys,
    lost: checks.filter((check) => !isFinal(check.sql)),
    disagreements: checks.filter(
      (check) => check.sql !== check.workflow || check.sql !== check.searchAttribute,
    ),
    // Money taken and kept: one charge for a processed order, nothing net for any other.
    wrongCharges: checks.filter(
      (check) =>
        check.charges - check.refunds !== (check.sql === 'processed' ? 1 : 0) ||
        check.charges > 1 ||
        check.keys > 1,
    ),
    doubleCharges: checks.filter((check) => check.charges > 1),
    // Broken orders fail unless an operator cancelled them first; nothing else fails.
    wrongOutcome: checks.filter((check) =>
      check.broken ? check.sql !== 'failed' && check.sql !== 'cancelled' : check.sql === 'failed',
    ),
    cancels,
    cancelledButCharged: checks.filter(
      (check) => check.sql === 'cancelled' && check.charges - check.refunds !== 0,
    ),
    badRefunds: checks.filter((check) => check.refunds > check.charges || check.strayRefunds > 0),
    cancelledUnasked: checks.filter(
      (check) => check.sql === 'cancelled' && !cancelled.has(check.orderId),
    ),
    acceptedButNotCancelled: cancels.filter(
      (cancel) => cancel.status === 202 && sqlStatus.get(cancel.orderId) !== 'cancelled',
    ),
  };
}

/**
 * For each worker kill that caught a payment call: how long until that call was retried. An
 * operator may cancel that very order meanwhile (the operators pick recent orders at random);
 * its payment is then rightly never retried, and the kill is marked `cancelled`.
 */
export function recoveriesOf(
  events: FaultEvent[],
  keys: KeyActivity[],
  cancelledOrders: ReadonlySet<string> = new Set(),
) {
  return events.flatMap((event) => {
    if (!event.hungKey) return [];
    const times = (keys.find((key) => key.idempotencyKey === event.hungKey)?.requestedAt ?? []).map(
      (at) => Date.parse(at),
    );
    const next = times.find((at) => at > event.at);
    const orderId = orderOfPaymentKey(event.hungKey);
    return [
      {
        ...event,
        // The hung call was this attempt: the retry waits out the heartbeat timeout, then the
        // retry policy's backoff for it (1 s after the first attempt, doubling, up to 1 min).
        attempt: times.filter((at) => at <= event.at).length,
        recoveryMs: next === undefined ? Number.POSITIVE_INFINITY : next - event.at,
        cancelled: next === undefined && orderId !== null && cancelledOrders.has(orderId),
      },
    ];
  });
}

/** The longest recovery of the kills whose order was still wanted (0 when there is none). */
export function longestRecoveryMs(recoveries: ReturnType<typeof recoveriesOf>): number {
  return Math.max(0, ...recoveries.flatMap((r) => (r.cancelled ? [] : [r.recoveryMs])));
}

/** The orders that ended cancelled, for `recoveriesOf`. */
export function cancelledOrders(outcome: Outcome): Set<string> {
  return new Set(
    outcome.checks.filter((check) => check.sql === 'cancelled').map((check) => check.orderId),
  );
}

/** Error answers counted by status, labelled with the first error code seen for it. */
export function errorsByStatus(answers: PostAnswer[]): Record<string, number> {
  return Object.fromEntries(
    [...new Set(answers.map((answer) => answer.status))]
      .filter((status) => status >= 400)
      .map((status) => [
        `${status} ${answers.find((answer) => answer.status === status)?.error ?? ''}`,
        answers.filter((answer) => answer.status === status).length,
      ]),
  );
}

/** The log files that contain any of the secrets. */
export function leaksIn(files: string[], secrets: string[]): string[] {
  return files.flatMap((file) =>
    secrets.filter((secret) => readFileSync(file, 'utf8').includes(secret)).map(() => file),
  );
}
