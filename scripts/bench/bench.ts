/**
 * `npm run bench`: the whole system as separate processes on this machine, measured side by side
 * with a bare-Temporal baseline in one run. Prints a table and writes the figures as JSON.
 *
 *   npm run bench -- [--quick] [--orders N] [--concurrency C] [--seed-rows R]
 *                    [--rates 50,100,200] [--rate-seconds S] [--workers W]
 *                    [--database sqlite|postgres] [--cluster] [--dir DIR] [--json FILE] [--profile]
 *                    [--intake] (only the intake and stats section: scripts/bench/intake.ts)
 *
 * 1. throughput: N orders posted by a closed-loop client with C requests in flight, from the first
 *    POST to the last order `processed`; create→processed latency from the orders' own timestamps;
 * 2. baseline: N workflows with the same activity calls, all no-ops, started with the client, on
 *    the same server with the same worker settings; the headline is ours ÷ baseline;
 * 3. the throughput run again with R rows seeded into the orders table;
 * 4. GET /api/orders and GET /api/stats at R rows, then POST latency at fixed rates (open loop);
 * 5. the worker's resident memory before and after the throughput runs.
 *
 * `--cluster` runs every part on the project's Temporal cluster (scripts/lib/cluster.ts) instead
 * of the dev server: one cluster for the whole run, so the baseline and ours share it.
 *
 * A benchmark, not a test: it asserts nothing about timings. `--quick` runs a small version that
 * the test command uses to prove the benchmark still works.
 */
import { cpus, freemem, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { openDatabase, type Database } from '../../db';
import { closedLoop, orderBody, percentile, postOrder } from '../lib/load';
import { createPostgresCluster, type PostgresCluster } from '../lib/postgres';
import { Service, tsxArgs } from '../lib/processes';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { startTemporalCluster, type TemporalCluster } from '../lib/cluster';
import { startScaledStack, startStack, type RunningSystem as System } from '../lib/stack';
import { seed } from '../seed-orders';
import { baselineOrder } from './baseline-workflow';
import { printIntake, runIntakeBench } from './intake';
import { cpuSecondsOf, getLatency, postAtRate, waitForFinalOrders } from './measure';

const ROOT = resolve(__dirname, '../..');

interface Settings {
  quick: boolean;
  orders: number;
  concurrency: number;
  seedRows: number;
  rates: number[];
  rateSeconds: number;
  getRequests: number;
  workers: number;
  database: 'sqlite' | 'postgres';
  /** On the project's Temporal cluster instead of the dev server. */
  cluster: boolean;
  json: string;
  dir: string;
  /** CPU profiles of the Node services into <dir>/profiles (open them in Chrome DevTools). */
  profile: boolean;
  /** Only the intake and stats section (`scripts/bench/intake.ts`). */
  intake: boolean;
}

function settingsFromArgs(): Settings {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      orders: { type: 'string' },
      concurrency: { type: 'string' },
      'seed-rows': { type: 'string' },
      rates: { type: 'string' },
      'rate-seconds': { type: 'string' },
      workers: { type: 'string', default: '1' },
      database: { type: 'string', default: 'sqlite' },
      cluster: { type: 'boolean', default: false },
      json: { type: 'string' },
      dir: { type: 'string' },
      profile: { type: 'boolean', default: false },
      intake: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const number = (name: string, text: string | undefined, fallback: number, min: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`--${name} must be a number ≥ ${min}`);
    return value;
  };
  const database = values.database;
  if (database !== 'sqlite' && database !== 'postgres')
    throw new Error('--database must be sqlite or postgres');
  const dir =
    values.dir ?? join(ROOT, '.data/bench', new Date().toISOString().replace(/[:.]/g, '-'));
  return {
    quick,
    orders: number('orders', values.orders, quick ? 200 : 2000, 1),
    concurrency: number('concurrency', values.concurrency, 20, 1),
    seedRows: number('seed-rows', values['seed-rows'], quick ? 20_000 : 1_000_000, 0),
    rates: (values.rates ?? '50,100,200').split(',').map((rate) => number('rates', rate, 0, 0.1)),
    rateSeconds: number('rate-seconds', values['rate-seconds'], quick ? 1 : 30, 1),
    getRequests: quick ? 30 : 300,
    workers: number('workers', values.workers, 1, 1),
    database,
    cluster: values.cluster ?? false,
    json: values.json ?? join(dir, 'bench.json'),
    profile: values.profile ?? false,
    intake: values.intake ?? false,
    dir,
  };
}

interface Throughput {
  /** CPU seconds each process spent during the run: where the time goes. */
  cpuSeconds: Record<string, number>;
  orders: number;
  completed: number;
  /** Orders that were refused, or did not end as expected within the wait. */
  problems: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
}

interface Latency {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
}

/** Runs `measure` and adds the CPU seconds each process spent meanwhile. */
async function withCpu(
  processes: Service[],
  measure: () => Promise<Omit<Throughput, 'cpuSeconds'>>,
): Promise<Throughput> {
  const before = processes.map((service) => cpuSecondsOf(service.pid));
  const self = process.cpuUsage();
  const result = await measure();
  const cpuSeconds: Record<string, number> = {};
  processes.forEach((service, index) => {
    cpuSeconds[service.name] = cpuSecondsOf(service.pid) - (before[index] ?? 0);
  });
  const { user, system } = process.cpuUsage(self);
  cpuSeconds.bench = (user + system) / 1e6;
  return { ...result, cpuSeconds };
}

const say = (message: string) => console.log(`[bench] ${message}`);

function summarise(values: number[]): { p50: number; p95: number; p99: number } {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) };
}

/** Orders per second from the first request to the last completion, and each one's latency. */
function throughputOf(
  orders: number,
  started: number,
  completed: { start: number; end: number }[],
): Omit<Throughput, 'cpuSeconds'> {
  const seconds = (Math.max(...completed.map(({ end }) => end)) - started) / 1000;
  return {
    orders,
    completed: completed.length,
    problems: orders - completed.length,
    seconds,
    perSecond: completed.length / seconds,
    latencyMs: summarise(completed.map(({ start, end }) => end - start)),
  };
}

async function ourThroughput(
  stack: System<string>,
  db: Database,
  settings: Settings,
): Promise<Omit<Throughput, 'cpuSeconds'>> {
  const { orders, concurrency } = settings;
  const started = Date.now();
  const answers = await closedLoop(orders, concurrency, () =>
    postOrder(stack.apiUrl, stack.clientToken, orderBody()),
  );
  const ids = answers.flatMap((answer) => (answer.orderId ? [answer.orderId] : []));
  const rows = await waitForFinalOrders(db, ids, Math.max(180_000, orders * 200));
  const processed = rows.flatMap((row) =>
    row.status === 'processed' && row.processedAt
      ? [{ start: Date.parse(row.createdAt), end: Date.parse(row.processedAt) }]
      : [],
  );
  return throughputOf(orders, started, processed);
}

async function baselineThroughput(
  client: Client,
  taskQueue: string,
  settings: Settings,
  runName: string,
): Promise<Omit<Throughput, 'cpuSeconds'>> {
  const { orders, concurrency } = settings;
  const since = new Date(Date.now() - 1000).toISOString();
  const query = `WorkflowType = "baselineOrder" AND TaskQueue = "${taskQueue}" AND StartTime >= "${since}"`;
  const started = Date.now();
  await closedLoop(orders, concurrency, (index) =>
    client.workflow.start(baselineOrder, { taskQueue, workflowId: `${runName}-${index}` }),
  );
  const completedQuery = `${query} AND ExecutionStatus = "Completed"`;
  const deadline = Date.now() + Math.max(180_000, orders * 200);
  while ((await client.workflow.count(completedQuery)).count < orders && Date.now() < deadline)
    await sleep(500);
  const completed: { start: number; end: number }[] = [];
  for await (const workflow of client.workflow.list({ query: completedQuery })) {
    if (workflow.closeTime)
      completed.push({ start: workflow.startTime.getTime(), end: workflow.closeTime.getTime() });
  }
  return throughputOf(orders, started, completed);
}

async function residentMemoryMb(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const match = /^process_resident_memory_bytes ([0-9.e+]+)$/m.exec(text);
  if (!match?.[1]) throw new Error(`no process_resident_memory_bytes at ${metricsUrl}`);
  return Number(match[1]) / 1024 / 1024;
}

interface PostRate extends Latency {
  rate: number;
  /** Seconds after the last POST until every accepted order was final. */
  drainSeconds: number;
  unfinished: number;
}

async function postLatency(
  stack: System<string>,
  db: Database,
  rate: number,
  seconds: number,
): Promise<PostRate> {
  // The next rate starts on an idle system: wait for this one's orders to finish.
  return postAtRate(stack.apiUrl, stack.clientToken, db, rate, seconds, 300_000);
}

/** Runs one small batch through both paths: bundles, JIT, connection pools, caches. */
async function warmUp(stack: System<string>, db: Database, baselineQueue: string): Promise<void> {
  const answers = await closedLoop(20, 5, () =>
    postOrder(stack.apiUrl, stack.clientToken, orderBody()),
  );
  const ids = answers.flatMap((answer) => (answer.orderId ? [answer.orderId] : []));
  if (ids.length !== 20)
    throw new Error(`warm-up: the API refused orders: ${JSON.stringify(answers[0])}`);
  await waitForFinalOrders(db, ids, 120_000);
  await Promise.all(
    Array.from({ length: 20 }, (_, index) =>
      stack.client.workflow.execute(baselineOrder, {
        taskQueue: baselineQueue,
        workflowId: `baseline-warm-up-${Date.now()}-${index}`,
      }),
    ),
  );
}

function databaseFor(
  settings: Settings,
): Promise<{ url: string; cluster: PostgresCluster | null }> {
  if (settings.database === 'sqlite')
    return Promise.resolve({ url: `sqlite:${join(settings.dir, 'orders.sqlite')}`, cluster: null });
  return createPostgresCluster().then((cluster) => ({ url: cluster.url, cluster }));
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function printReport(report: Report): void {
  const { settings } = report;
  const rows: [string, Throughput][] = [
    ['baseline (bare Temporal, no-op activities)', report.baseline],
    ['orders via the API, table empty', report.empty],
    [`orders via the API, ${settings.seedRows.toLocaleString('en')} rows`, report.seeded],
  ];
  console.log(`
Throughput: ${settings.orders} orders, ${settings.concurrency} requests in flight, ${settings.workers} worker process(es), ${settings.database}, ${settings.cluster ? 'Temporal cluster' : 'Temporal dev server'}
  ${'run'.padEnd(48)}${'orders/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'done'.padStart(7)}${'problems'.padStart(9)}`);
  for (const [name, run] of rows) {
    console.log(
      `  ${name.padEnd(48)}${fixed(run.perSecond).padStart(9)}${fixed(run.latencyMs.p50, 0).padStart(9)}${fixed(run.latencyMs.p95, 0).padStart(9)}${fixed(run.latencyMs.p99, 0).padStart(9)}${String(run.completed).padStart(7)}${String(run.problems).padStart(9)}`,
    );
  }
  const names = Object.keys(report.baseline.cpuSeconds);
  console.log(
    `\nCPU seconds per process during each run\n  ${'run'.padEnd(48)}${names.map((name) => name.padStart(18)).join('')}`,
  );
  for (const [name, run] of rows) {
    console.log(
      `  ${name.padEnd(48)}${names.map((process) => fixed(run.cpuSeconds[process] ?? 0).padStart(18)).join('')}`,
    );
  }
  console.log(`
  ours ÷ baseline (table empty)   ${fixed(report.ratio, 2)}   (target ≥ 0.80)
  seeded ÷ empty                  ${fixed(report.growth, 2)}   (target within ±10%)
  worker RSS                      ${fixed(report.workerRssMb.before, 0)} MB warmed up → ${fixed(report.workerRssMb.afterThroughput, 0)} MB after ${settings.orders} orders → ${fixed(report.workerRssMb.afterLatency, 0)} MB after the latency runs

API latency at ${settings.seedRows.toLocaleString('en')} rows
  ${'request'.padEnd(34)}${'requests'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}${'drain s'.padStart(9)}`);
  for (const [name, latency] of [
    ['GET /api/orders (first page)', report.getOrders],
    ['GET /api/stats', report.getStats],
  ] as const) {
    console.log(
      `  ${name.padEnd(34)}${String(latency.requests).padStart(9)}${fixed(latency.p50).padStart(9)}${fixed(latency.p99).padStart(9)}${String(latency.errors).padStart(8)}`,
    );
  }
  for (const post of report.posts) {
    console.log(
      `  ${`POST /api/orders at ${post.rate}/s for ${settings.rateSeconds} s`.padEnd(34)}${String(post.requests).padStart(9)}${fixed(post.p50).padStart(9)}${fixed(post.p99).padStart(9)}${String(post.errors).padStart(8)}${fixed(post.drainSeconds, 0).padStart(9)}`,
    );
  }
  console.log(`\nFigures: ${settings.json}`);
}

interface Report {
  settings: Settings;
  machine: { cpus: number; cpuModel: string; memoryGb: number; freeMemoryGb: number; node: string };
  startedAt: string;
  baseline: Throughput;
  empty: Throughput;
  seeded: Throughput;
  ratio: number;
  growth: number;
  /** The worker of the last system: warmed up, after its throughput run, after the latency runs. */
  workerRssMb: { before: number; afterThroughput: number; afterLatency: number };
  getOrders: Latency;
  getStats: Latency;
  posts: PostRate[];
}

interface RunningSystem {
  stack: System<string>;
  /** Baseline workers, and with `--workers` more order workers. */
  extra: Service[];
  baselineQueue: string;
  processes: Service[];
}

/**
 * Runs `measure` on a system of its own: a fresh Temporal dev server (so no run works on another
 * run's history), worker, API, finance, and the baseline workers, all warmed up first. The
 * orders database is the one thing the runs share — and with `--cluster` the cluster, where each
 * run gets new task queues instead.
 */
async function onFreshSystem<T>(
  name: string,
  settings: Settings,
  databaseUrl: string,
  db: Database,
  cluster: TemporalCluster | null,
  measure: (system: RunningSystem) => Promise<T>,
): Promise<T> {
  const dir = join(settings.dir, name);
  const common = {
    dir,
    databaseUrl,
    env: { LOG_LEVEL: 'info' },
    ...(settings.profile
      ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] }
      : {}),
  };
  // On the cluster, each run still gets its own worker, API, finance and task queues.
  const stack: System<string> = cluster
    ? await startScaledStack({ ...common, temporalEnv: cluster.clientEnv, workers: 1, apis: 1 })
    : await startStack(common);
  const workerEnv = (stack.parts.worker ?? stack.parts['worker-1'])?.spec.env ?? {};
  const baselineQueue = `baseline-${stack.taskQueue}`;
  const extra: Service[] = [];
  const service = (service: string, env: NodeJS.ProcessEnv, file: string) =>
    new Service({
      name: service,
      command: process.execPath,
      args: tsxArgs(file),
      env,
      cwd: ROOT,
      logFile: join(dir, `${service}.log`),
    });
  try {
    const baselineEnv = { ...workerEnv, TEMPORAL_TASK_QUEUE: baselineQueue };
    for (let index = 0; index < settings.workers; index++) {
      extra.push(
        service(`baseline-worker-${index + 1}`, baselineEnv, 'scripts/bench/baseline-worker.ts'),
      );
      if (index > 0) {
        const port = String(await freeLoopbackPort());
        extra.push(
          service(
            `worker-${index + 1}`,
            { ...workerEnv, WORKER_METRICS_PORT: port },
            'worker/main.ts',
          ),
        );
      }
    }
    for (const part of extra) part.start();
    say(`${name}: warming up`);
    await warmUp(stack, db, baselineQueue);
    const temporal = cluster ? Object.values(cluster.services) : [];
    const processes = [...temporal, ...Object.values(stack.parts), ...extra];
    return await measure({ stack, extra, baselineQueue, processes });
  } finally {
    for (const part of extra) await part.stop();
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const settings = settingsFromArgs();
  if (settings.intake) {
    printIntake(
      await runIntakeBench({ ...settings, statsRequests: settings.getRequests, drainSeconds: 600 }),
    );
    return;
  }
  mkdirSync(settings.dir, { recursive: true });
  const startedAt = new Date().toISOString();
  const database = await databaseFor(settings);
  say(`logs and figures in ${settings.dir}`);
  const db = await openDatabase(database.url);
  const cluster = settings.cluster
    ? await startTemporalCluster({ dir: join(settings.dir, 'temporal-cluster') })
    : null;
  const fresh = <T>(name: string, measure: (system: RunningSystem) => Promise<T>) =>
    onFreshSystem(name, settings, database.url, db, cluster, measure);
  try {
    const baseline = await fresh('baseline', ({ stack, baselineQueue, processes }) => {
      say(`baseline: ${settings.orders} workflows`);
      return withCpu(processes, () =>
        baselineThroughput(stack.client, baselineQueue, settings, `baseline-${Date.now()}`),
      );
    });
    const empty = await fresh('empty', ({ stack, processes }) => {
      say(`ours, table empty: ${settings.orders} orders`);
      return withCpu(processes, () => ourThroughput(stack, db, settings));
    });
    say(`seeding ${settings.seedRows} rows`);
    await seed(db, settings.seedRows, 7 * 86_400_000);
    const seededRun = await fresh('seeded', async ({ stack, processes }) => {
      const before = await residentMemoryMb(stack.workerMetricsUrl);
      say(`ours, ${settings.seedRows} rows: ${settings.orders} orders`);
      const seeded = await withCpu(processes, () => ourThroughput(stack, db, settings));
      const afterThroughput = await residentMemoryMb(stack.workerMetricsUrl);
      say('GET latency');
      const getOrders = await getLatency(
        `${stack.apiUrl}/api/orders?limit=50`,
        stack.viewerToken,
        settings.getRequests,
      );
      const getStats = await getLatency(
        `${stack.apiUrl}/api/stats`,
        stack.viewerToken,
        settings.getRequests,
      );
      const posts: PostRate[] = [];
      for (const rate of settings.rates) {
        say(`POST at ${rate}/s for ${settings.rateSeconds} s`);
        posts.push(await postLatency(stack, db, rate, settings.rateSeconds));
      }
      const afterLatency = await residentMemoryMb(stack.workerMetricsUrl);
      return {
        seeded,
        getOrders,
        getStats,
        posts,
        workerRssMb: { before, afterThroughput, afterLatency },
      };
    });

    const report: Report = {
      settings,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGb: Math.round(totalmem() / 2 ** 30),
        freeMemoryGb: Math.round(freemem() / 2 ** 30),
        node: process.version,
      },
      startedAt,
      baseline,
      empty,
      ...seededRun,
      ratio: empty.perSecond / baseline.perSecond,
      growth: seededRun.seeded.perSecond / empty.perSecond,
    };
    writeFileSync(settings.json, `${JSON.stringify(report, null, 2)}\n`);
    printReport(report);
  } finally {
    await db.close();
    await cluster?.stop();
    await database.cluster?.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(
    `[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exit(1);
});
