/**
 * `npm run bench -- --intake`: order intake and the stats read at a large table, on one fresh
 * system (dev server, finance, worker, API) over the database `--database` names:
 *
 * 1. R rows seeded (`--seed-rows`, 1,000,000 by default);
 * 2. `GET /api/stats`, one request at a time;
 * 3. `POST /api/orders` at each rate of `--rates` for `--rate-seconds`, open loop, while the
 *    worker works through the backlog those orders build (the machine processes far fewer orders
 *    a second than 100); each rate starts once the previous one's orders are all final.
 *
 * Launch latency (accepted → workflow recorded as started) comes from the rows themselves, so the
 * same module measures a tree that starts workflows inside the POST as well. It asserts nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../db';
import { closedLoop, orderBody, postOrder } from '../lib/load';
import { createPostgresCluster } from '../lib/postgres';
import { startStack } from '../lib/stack';
import { seed } from '../seed-orders';
import {
  cpuSecondsOf,
  getLatency,
  postAtRate,
  profileArgs,
  heapUsedMbOf,
  rssMbOf,
  waitForFinalOrders,
  type PostAtRate,
} from './measure';

/** What the intake run measures, and where. */
export interface IntakeSettings {
  database: 'sqlite' | 'postgres';
  dir: string;
  seedRows: number;
  rates: number[];
  rateSeconds: number;
  statsRequests: number;
  /** How long each rate may wait for its orders to be final before the next rate starts. */
  drainSeconds: number;
  /** CPU profiles of the Node services into <dir>/system/profiles (`--profile`). */
  profile?: boolean;
}

interface Percentiles {
  p50: number;
  p99: number;
}

/** The worker's resident memory and V8 heap in use, in MB. */
interface WorkerMemory {
  workerRssMb: number;
  workerHeapUsedMb: number;
}

/** The figures `printIntake` shows. */
export interface IntakeReport {
  settings: IntakeSettings;
  startedAt: string;
  stats: Percentiles & { requests: number; errors: number };
  /**
   * With each rate, the API's CPU milliseconds per accepted order (intake and launch) and the
   * worker's resident memory once that rate's orders were final.
   */
  posts: (PostAtRate & { apiCpuMsPerOrder: number } & WorkerMemory)[];
  /** The worker's memory after the warm-up. */
  workerMemory: WorkerMemory;
}

const say = (line: string) => console.log(`[bench:intake] ${line}`);
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** Runs the intake measurements on a fresh system and writes `intake.json` into `dir`. */
export async function runIntakeBench(settings: IntakeSettings): Promise<IntakeReport> {
  mkdirSync(settings.dir, { recursive: true });
  const startedAt = new Date().toISOString();
  const cluster = settings.database === 'postgres' ? await createPostgresCluster() : null;
  const databaseUrl = cluster?.url ?? `sqlite:${join(settings.dir, 'orders.sqlite')}`;
  const db = await openDatabase(databaseUrl);
  try {
    say(`seeding ${settings.seedRows} rows (${settings.database})`);
    await seed(db, settings.seedRows, 7 * 86_400_000);
    const dir = join(settings.dir, 'system');
    const stack = await startStack({
      dir,
      databaseUrl,
      env: { LOG_LEVEL: 'warn' },
      ...profileArgs(dir, settings.profile),
    });
    try {
      say('warming up');
      const warm = await closedLoop(20, 5, () =>
        postOrder(stack.apiUrl, stack.clientToken, orderBody()),
      );
      await waitForFinalOrders(
        db,
        warm.flatMap((a) => (a.orderId ? [a.orderId] : [])),
        120_000,
      );
      say(`GET /api/stats × ${settings.statsRequests}`);
      const stats = await getLatency(
        `${stack.apiUrl}/api/stats`,
        stack.viewerToken,
        settings.statsRequests,
      );
      const workerMemoryNow = async (): Promise<WorkerMemory> => ({
        workerRssMb: rssMbOf(stack.parts.worker?.pid),
        workerHeapUsedMb: await heapUsedMbOf(stack.workerMetricsUrl, stack.metricsToken),
      });
      const workerMemory = await workerMemoryNow();
      const posts: IntakeReport['posts'] = [];
      const apiCpu = () => cpuSecondsOf(stack.parts.api.pid);
      for (const rate of settings.rates) {
        say(`POST at ${rate}/s for ${settings.rateSeconds} s, then the backlog drains`);
        const before = apiCpu();
        const figures = await postAtRate(
          stack.apiUrl,
          stack.clientToken,
          db,
          rate,
          settings.rateSeconds,
          settings.drainSeconds * 1000,
        );
        const accepted = figures.requests - figures.errors;
        posts.push({
          ...figures,
          apiCpuMsPerOrder: ((apiCpu() - before) * 1000) / accepted,
          ...(await workerMemoryNow()),
        });
      }
      const report: IntakeReport = { settings, startedAt, stats, posts, workerMemory };
      writeFileSync(join(settings.dir, 'intake.json'), `${JSON.stringify(report, null, 2)}\n`);
      return report;
    } finally {
      await stack.stop();
    }
  } finally {
    await db.close();
    await cluster?.destroy();
  }
}

/** The intake figures as a table. */
export function printIntake(report: IntakeReport): void {
  const { settings, stats, posts, workerMemory } = report;
  const memory = [workerMemory, ...posts];
  const rows = settings.seedRows.toLocaleString('en');
  console.log(`
Intake and stats on ${settings.database}, ${rows} rows (ms; launch = accepted → workflow started)
  request                               requests      p50      p99  errors  launch p50  launch p99  drain s  API CPU ms/order
  ${'GET /api/stats (one at a time)'.padEnd(36)}${String(stats.requests).padStart(10)}${fixed(stats.p50).padStart(9)}${fixed(stats.p99).padStart(9)}${String(stats.errors).padStart(8)}
${posts
  .map(
    (p) =>
      `  ${`POST /api/orders ${p.rate}/s × ${settings.rateSeconds} s`.padEnd(36)}${String(p.requests).padStart(10)}${fixed(p.p50).padStart(9)}${fixed(p.p99).padStart(9)}${String(p.errors).padStart(8)}${fixed(p.launch.p50, 0).padStart(12)}${fixed(p.launch.p99, 0).padStart(12)}${fixed(p.drainSeconds, 0).padStart(9)}${fixed(p.apiCpuMsPerOrder).padStart(18)}${p.unfinished ? `  (${p.unfinished} not final, ${p.unlaunched} not started)` : ''}`,
  )
  .join('\n')}
  worker RSS: ${memory.map((m) => fixed(m.workerRssMb, 0)).join(' → ')} MB, V8 heap in use: ${memory.map((m) => fixed(m.workerHeapUsedMb, 0)).join(' → ')} MB (warmed up, then after each rate's orders were final)
  targets: POST p99 ≤ 50 ms at 50/s and ≤ 100 ms at 200/s; GET /api/stats p99 ≤ 20 ms
`);
}
