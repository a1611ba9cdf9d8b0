/**
 * `npm run bench`: the whole system as separate processes on this machine, measured side by side
 * with two bare-Temporal baselines in one run. Prints a table and writes the figures as JSON.
 *
 *   npm run bench -- [--quick] [--orders N] [--concurrency C] [--rounds K] [--seed-rows R]
 *                    [--rates 50,100,200] [--rate-seconds S] [--workers W]
 *                    [--database sqlite|postgres] [--cluster] [--dir DIR] [--json FILE] [--profile]
 *                    [--intake] (only the intake and stats section: scripts/bench/intake.ts)
 *
 * 1. throughput, K rounds, each on a fresh system, the kinds of run alternating from round to
 *    round: the plain baseline (four no-op activities on one task queue: the engine's limit), the
 *    same-shape baseline (our activity calls as no-ops) and ours (N orders posted by a closed-loop
 *    client with C requests in flight, from the first POST to the last order `processed`);
 *    every figure is the median of its K runs with their spread, and the ratios are taken in
 *    the same run;
 * 2. R rows seeded into the orders table, then K rounds of ours and the plain baseline again;
 * 3. GET /api/orders and GET /api/stats at R rows, then POST latency at fixed rates (open loop);
 * 4. CPU seconds of every process per run, and the worker's resident memory after each run.
 *
 * `--cluster` runs every part on the project's Temporal cluster (scripts/lib/cluster.ts) instead
 * of the dev server: one cluster for the whole run, so the baselines and ours share it.
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
import { printIntake, runIntakeBench } from './intake';
import {
  cpuSecondsOf,
  getLatency,
  postAtRate,
  profileArgs,
  rssMbOf,
  waitForFinalOrders,
  type PostAtRate,
} from './measure';
import {
  formatSpread,
  kindFigures,
  printThroughput,
  ratios,
  type KindFigures,
  type Ratios,
  type Run,
  type RunKind,
  type Throughput,
} from './summary';

const ROOT = resolve(__dirname, '../..');

interface Settings {
  quick: boolean;
  orders: number;
  concurrency: number;
  /** Runs of each kind, alternating, each round on a fresh system. */
  rounds: number;
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
      rounds: { type: 'string' },
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
    orders: number('orders', values.orders, quick ? 200 : 600, 1),
    concurrency: number('concurrency', values.concurrency, 32, 1),
    rounds: number('rounds', values.rounds, quick ? 1 : 3, 1),
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

/** The workflow type and task queue of each baseline. */
interface Baseline {
  workflowType: 'baselineOrder' | 'plainOrder';
  taskQueue: string;
}

async function baselineThroughput(
  client: Client,
  { workflowType, taskQueue }: Baseline,
  settings: Settings,
  runName: string,
): Promise<Omit<Throughput, 'cpuSeconds'>> {
  const { orders, concurrency } = settings;
  const since = new Date(Date.now() - 1000).toISOString();
  const query = `WorkflowType = "${workflowType}" AND TaskQueue = "${taskQueue}" AND StartTime >= "${since}"`;
  const started = Date.now();
  await closedLoop(orders, concurrency, (index) =>
    client.workflow.start(workflowType, { taskQueue, workflowId: `${runName}-${index}` }),
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

/** POST latency at `rate`; the next rate starts on an idle system, so this waits for its orders. */
function postLatency(
  stack: System<string>,
  db: Database,
  rate: number,
  seconds: number,
): Promise<PostAtRate> {
  return postAtRate(stack.apiUrl, stack.clientToken, db, rate, seconds, 300_000);
}

/** Runs one small batch through every path: bundles, JIT, connection pools, caches. */
async function warmUp(stack: System<string>, db: Database, baselines: Baseline[]): Promise<void> {
  const answers = await closedLoop(20, 5, () =>
    postOrder(stack.apiUrl, stack.clientToken, orderBody()),
  );
  const ids = answers.flatMap((answer) => (answer.orderId ? [answer.orderId] : []));
  if (ids.length !== 20)
    throw new Error(`warm-up: the API refused orders: ${JSON.stringify(answers[0])}`);
  await waitForFinalOrders(db, ids, 120_000);
  await Promise.all(
    baselines.flatMap(({ workflowType, taskQueue }) =>
      Array.from({ length: 20 }, (_, index) =>
        stack.client.workflow.execute(workflowType, {
          taskQueue,
          workflowId: `${workflowType}-warm-up-${Date.now()}-${index}`,
        }),
      ),
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
  console.log(`
Throughput: ${settings.orders} orders per run, ${settings.concurrency} in flight, ${settings.rounds} round(s) with the kinds of run alternating, each round on a fresh system; ${settings.workers} worker process(es), ${settings.database}, ${settings.cluster ? 'Temporal cluster' : 'Temporal dev server'}`);
  printThroughput(report.figures, settings.seedRows);
  const problems = report.runs.reduce((sum, run) => sum + run.problems, 0);
  const rss = report.runs.map((run) => fixed(run.rssMb.worker ?? 0, 0)).join(' → ');
  const rows = settings.seedRows.toLocaleString('en');
  const seededLines = report.runs.some((run) => run.table === 'seeded')
    ? `  ${`${rows} rows ÷ empty (ours)`.padEnd(40)} ${formatSpread(report.ratios.growth, 2)}   (target within ±10%)
  ${`${rows} rows: ours ÷ plain beside it`.padEnd(40)} ${formatSpread(report.ratios.seededPlain, 2)}\n`
    : '';
  console.log(`
  ours ÷ plain baseline (table empty)      ${formatSpread(report.ratios.plain, 2)}   (target ≥ 0.90)
  ours ÷ plain, by CPU per order          ${formatSpread(report.ratios.plainCpu, 2)}   (plain's CPU ms per order ÷ ours, all services)
  ours ÷ same-shape baseline (table empty) ${formatSpread(report.ratios.shape, 2)}
${seededLines}  orders not done as expected              ${problems}
  worker RSS after each run                ${rss} MB
  worker RSS, last system                  ${fixed(report.workerRssMb.before, 0)} MB warmed up → ${fixed(report.workerRssMb.afterThroughput, 0)} MB after its runs → ${fixed(report.workerRssMb.afterLatency, 0)} MB after the latency runs

API latency at ${settings.seedRows.toLocaleString('en')} rows
  ${'request'.padEnd(34)}${'requests'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}${'drain s'.padStart(9)}${'launch p50/p99 ms'.padStart(20)}`);
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
      `  ${`POST /api/orders at ${post.rate}/s for ${settings.rateSeconds} s`.padEnd(34)}${String(post.requests).padStart(9)}${fixed(post.p50).padStart(9)}${fixed(post.p99).padStart(9)}${String(post.errors).padStart(8)}${fixed(post.drainSeconds, 0).padStart(9)}${`${fixed(post.launch.p50, 0)}/${fixed(post.launch.p99, 0)}`.padStart(20)}`,
    );
  }
  console.log(`\nFigures: ${settings.json}`);
}

interface Report {
  settings: Settings;
  machine: { cpus: number; cpuModel: string; memoryGb: number; freeMemoryGb: number; node: string };
  startedAt: string;
  /** Every throughput run, in the order it ran. */
  runs: Run[];
  /** Each kind of run on each table: medians and spreads. */
  figures: KindFigures[];
  ratios: Ratios;
  /** The worker of the last system: warmed up, after its throughput runs, after the latency runs. */
  workerRssMb: { before: number; afterThroughput: number; afterLatency: number };
  getOrders: Latency;
  getStats: Latency;
  posts: PostAtRate[];
}

interface RunningSystem {
  stack: System<string>;
  /** Baseline workers, and with `--workers` more order workers. */
  extra: Service[];
  baselines: Record<Exclude<RunKind, 'ours'>, Baseline>;
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
    ...profileArgs(dir, settings.profile),
  };
  // On the cluster, each run still gets its own worker, API, finance and task queues.
  const stack: System<string> = cluster
    ? await startScaledStack({ ...common, temporalEnv: cluster.clientEnv, workers: 1, apis: 1 })
    : await startStack(common);
  const workerEnv = (stack.parts.worker ?? stack.parts['worker-1'])?.spec.env ?? {};
  const baselines = {
    shape: { workflowType: 'baselineOrder', taskQueue: `baseline-${stack.taskQueue}` },
    plain: { workflowType: 'plainOrder', taskQueue: `plain-${stack.taskQueue}` },
  } satisfies RunningSystem['baselines'];
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
    const baselineEnv = {
      ...workerEnv,
      TEMPORAL_TASK_QUEUE: baselines.shape.taskQueue,
      PLAIN_TASK_QUEUE: baselines.plain.taskQueue,
    };
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
    await warmUp(stack, db, Object.values(baselines));
    const temporal = cluster ? Object.values(cluster.services) : [];
    const processes = [...temporal, ...Object.values(stack.parts), ...extra];
    return await measure({ stack, extra, baselines, processes });
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
  const workerRss = (system: RunningSystem) =>
    rssMbOf((system.stack.parts.worker ?? system.stack.parts['worker-1'])?.pid);
  /** One throughput run of `kind` on `system`, with the CPU each process spent meanwhile. */
  const measure = async (
    kind: RunKind,
    table: Run['table'],
    round: number,
    { stack, baselines, processes }: RunningSystem,
  ): Promise<Run> => {
    say(`${table} round ${round}: ${kind}, ${settings.orders} orders`);
    const throughput = await withCpu(processes, () =>
      kind === 'ours'
        ? ourThroughput(stack, db, settings)
        : baselineThroughput(stack.client, baselines[kind], settings, `${kind}-${Date.now()}`),
    );
    const rssMb = Object.fromEntries(
      processes
        .flatMap((part) => (part.spec.command === process.execPath ? [part] : []))
        .map((part) => [part.name === 'worker-1' ? 'worker' : part.name, rssMbOf(part.pid)]),
    );
    return { ...throughput, kind, table, round, rssMb };
  };
  /**
   * `rounds` rounds of the given kinds, each round on a fresh system, each starting with the
   * next kind, so no kind always runs first (on the freshest server) or last. `last` runs on the
   * last round's system after its throughput runs.
   */
  const rounds = async <T>(
    table: Run['table'],
    kinds: RunKind[],
    last: (system: RunningSystem, warmedUpRssMb: number) => Promise<T>,
  ): Promise<{ runs: Run[]; last: T }> => {
    const runs: Run[] = [];
    let result: T | undefined;
    for (let round = 1; round <= settings.rounds; round++) {
      await fresh(`${table}-${round}`, async (system) => {
        const warmedUp = workerRss(system);
        for (let index = 0; index < kinds.length; index++) {
          const kind = kinds[(index + round - 1) % kinds.length] ?? 'ours';
          runs.push(await measure(kind, table, round, system));
        }
        if (round === settings.rounds) result = await last(system, warmedUp);
      });
    }
    return { runs, last: result as T };
  };
  /** The API's latency runs, on the last system after its throughput runs. */
  const latencyRuns = async (system: RunningSystem, before: number) => {
    const afterThroughput = workerRss(system);
    say('GET latency');
    const { viewerToken } = system.stack;
    const getOrders = await getLatency(
      `${system.stack.apiUrl}/api/orders?limit=50`,
      viewerToken,
      settings.getRequests,
    );
    const getStats = await getLatency(
      `${system.stack.apiUrl}/api/stats`,
      viewerToken,
      settings.getRequests,
    );
    const posts: PostAtRate[] = [];
    for (const rate of settings.rates) {
      say(`POST at ${rate}/s for ${settings.rateSeconds} s`);
      posts.push(await postLatency(system.stack, db, rate, settings.rateSeconds));
    }
    const afterLatency = workerRss(system);
    return { getOrders, getStats, posts, workerRssMb: { before, afterThroughput, afterLatency } };
  };
  try {
    const kinds: RunKind[] = ['plain', 'shape', 'ours'];
    let runs: Run[];
    let latency: Awaited<ReturnType<typeof latencyRuns>>;
    if (settings.seedRows > 0) {
      const empty = await rounds('empty', kinds, () => Promise.resolve());
      say(`seeding ${settings.seedRows} rows`);
      await seed(db, settings.seedRows, 7 * 86_400_000);
      const seeded = await rounds('seeded', ['ours', 'plain'], latencyRuns);
      runs = [...empty.runs, ...seeded.runs];
      latency = seeded.last;
    } else {
      // Nothing to seed: no seeded rounds, the latency runs follow the last empty round.
      const empty = await rounds('empty', kinds, latencyRuns);
      runs = empty.runs;
      latency = empty.last;
    }
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
      runs,
      figures: [
        kindFigures(runs, 'plain', 'empty'),
        kindFigures(runs, 'shape', 'empty'),
        kindFigures(runs, 'ours', 'empty'),
        kindFigures(runs, 'plain', 'seeded'),
        kindFigures(runs, 'ours', 'seeded'),
      ].filter((figure) => figure.runs > 0),
      ratios: ratios(runs),
      ...latency,
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
