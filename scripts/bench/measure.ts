/** Measurements the benchmark's sections share: waiting for orders to finish, GET latency. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../db';
import type { StoredOrder } from '../../db/orders';
import { FINAL_STATUSES } from '../../domain/order';
import { closedLoop, openLoop, orderBody, percentile, postOrder } from '../lib/load';

/** Node flags that write V8 CPU profiles of every Node service into `<dir>/profiles`. */
export function profileArgs(dir: string, on: boolean | undefined): { nodeArgs?: string[] } {
  return on ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] } : {};
}

/** Resident memory of a process in MB (Linux /proc; 0 elsewhere). */
export function rssMbOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * V8 heap in use of a Node service in MB, from its Prometheus `/metrics` (prom-client's process
 * metrics); NaN when it cannot be read. Beside RSS it tells a heap that grew from one that V8
 * merely has not given back.
 */
export async function heapUsedMbOf(metricsUrl: string, token: string): Promise<number> {
  try {
    const response = await fetch(metricsUrl, { headers: { authorization: `Bearer ${token}` } });
    const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(await response.text());
    return match?.[1] ? Number(match[1]) / 1024 / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere). */
export function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Waits until every order is final (or `timeoutMs` passes); returns the final rows. */
export async function waitForFinalOrders(
  db: Database,
  ids: string[],
  timeoutMs: number,
): Promise<StoredOrder[]> {
  const pending = new Set(ids);
  const done: StoredOrder[] = [];
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    const batch = [...pending].slice(0, 2000);
    for (let from = 0; from < batch.length; from += 500) {
      for (const order of await db.orders.getMany(batch.slice(from, from + 500))) {
        if (FINAL_STATUSES.includes(order.status)) {
          pending.delete(order.id);
          done.push(order);
        }
      }
    }
    if (pending.size > 0) await sleep(500);
  }
  return done;
}

/** p50 and p99 of `requests` GETs of `url` with the bearer `token`, one at a time. */
export async function getLatency(
  url: string,
  token: string,
  requests: number,
): Promise<{ requests: number; errors: number; p50: number; p99: number }> {
  const answers = await closedLoop(requests, 1, async () => {
    const started = performance.now();
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    return { ok: response.ok, ms: performance.now() - started };
  });
  const times = answers.map((answer) => answer.ms);
  return {
    requests,
    errors: answers.filter((answer) => !answer.ok).length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
  };
}

/** POST latency at one fixed rate, and what became of the orders once the backlog drained. */
export interface PostAtRate {
  rate: number;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  /** Accepted → workflow recorded as started (`workflow_started_at − created_at`), in ms. */
  launch: { p50: number; p99: number };
  /** Accepted orders whose workflow was not recorded as started when the wait ended. */
  unlaunched: number;
  /** Seconds after the last POST until every accepted order was final. */
  drainSeconds: number;
  unfinished: number;
}

/**
 * `POST /api/orders` at `rate` a second for `seconds`, open loop, then waits until every accepted
 * order is final (at most `drainTimeoutMs`), so the next measurement starts on an idle system.
 */
export async function postAtRate(
  apiUrl: string,
  clientToken: string,
  db: Database,
  rate: number,
  seconds: number,
  drainTimeoutMs: number,
): Promise<PostAtRate> {
  const answers = await openLoop(rate, seconds * 1000, () =>
    postOrder(apiUrl, clientToken, orderBody()),
  );
  const posted = Date.now();
  const ids = answers.flatMap((answer) => (answer.orderId ? [answer.orderId] : []));
  const rows = await waitForFinalOrders(db, ids, drainTimeoutMs);
  const times = answers.map((answer) => answer.ms);
  const all: StoredOrder[] = [];
  for (let from = 0; from < ids.length; from += 500) {
    all.push(...(await db.orders.getMany(ids.slice(from, from + 500))));
  }
  const launches = all.flatMap((row) =>
    row.workflowStartedAt ? [Date.parse(row.workflowStartedAt) - Date.parse(row.createdAt)] : [],
  );
  return {
    rate,
    requests: answers.length,
    errors: answers.filter((answer) => answer.status !== 201).length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    launch: { p50: percentile(launches, 50), p99: percentile(launches, 99) },
    unlaunched: ids.length - launches.length,
    drainSeconds: (Date.now() - posted) / 1000,
    unfinished: ids.length - rows.length,
  };
}
