/**
 * Search figures: each filter of `GET /api/orders` (and a bulk action's preview count and
 * confirm-time item write) timed at R seeded rows on SQLite and PostgreSQL, through the same
 * repository calls the API makes. Prints p50 and p99 per query and dialect.
 *
 *   node --import tsx scripts/bench/search.ts [--rows R] [--runs N] [--database sqlite|postgres|both]
 *
 * A benchmark, not a test: it asserts nothing about timings.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '../../db';
import type { OrderFilter } from '../../domain/bulk';
import { percentile } from '../lib/load';
import { createPostgresCluster } from '../lib/postgres';
import { seed } from '../seed-orders';

const PAGE = 51;
const HOUR_MS = 3_600_000;

/** One timed query: p50 and p99 over `runs` runs after one untimed run. */
async function timed(run: () => Promise<unknown>, runs: number): Promise<[number, number]> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return [percentile(times, 50), percentile(times, 99)];
}

/** The filters an operator would search by, against the seed's data (seed-orders.ts). */
function searches(now: number): [string, OrderFilter][] {
  const hour = { placedFrom: new Date(now - 30 * HOUR_MS).toISOString() };
  const window = { ...hour, placedTo: new Date(now - 29 * HOUR_MS).toISOString() };
  return [
    ['status=failed', { statuses: ['failed'] }],
    ['status=failed,cancelled', { statuses: ['failed', 'cancelled'] }],
    ['failureKind=rejected', { failureKinds: ['rejected'] }],
    ['customerId', { customerId: 'cust-42' }],
    ['product', { product: 'Product 7' }],
    ['placedFrom..placedTo (1 h)', window],
    ['customerId + time range', { customerId: 'cust-42', ...window }],
    ['status=failed + product', { statuses: ['failed'], product: 'Product 7' }],
  ];
}

export interface SearchFigure {
  query: string;
  p50: number;
  p99: number;
}

/** Times every search on `db` (already seeded). */
export async function measureSearch(db: Database, runs: number): Promise<SearchFigure[]> {
  const figures: SearchFigure[] = [];
  const now = Date.now();
  for (const [query, filter] of searches(now)) {
    const [p50, p99] = await timed(() => db.orders.list({ ...filter, limit: PAGE }), runs);
    figures.push({ query: `list ${query}`, p50, p99 });
    const [last] = (await db.orders.list({ ...filter, limit: PAGE })).slice(-1);
    if (last) {
      const [n50, n99] = await timed(
        () => db.orders.list({ ...filter, limit: PAGE, after: last }),
        runs,
      );
      figures.push({ query: `  next page`, p50: n50, p99: n99 });
    }
  }
  const failedRejected: OrderFilter = { statuses: ['failed'], failureKinds: ['rejected'] };
  const [c50, c99] = await timed(() => db.orders.count(failedRejected), runs);
  figures.push({ query: 'preview count: failed + rejected', p50: c50, p99: c99 });
  // Written once per confirm: the cost of fixing which orders a batch covers.
  const start = performance.now();
  const batch = await db.bulk.create({
    id: randomUUID(),
    action: 'retry',
    filter: failedRejected,
    reason: null,
    startedBy: 'bench',
    ratePerSecond: 10,
  });
  const ms = performance.now() - start;
  figures.push({ query: `confirm: INSERT … SELECT of ${batch.matched} items`, p50: ms, p99: ms });
  return figures;
}

async function run(dialect: 'sqlite' | 'postgres', rows: number, runs: number): Promise<void> {
  const cluster = dialect === 'postgres' ? await createPostgresCluster() : null;
  const url =
    cluster?.url ?? `sqlite:${join(mkdtempSync(join(tmpdir(), 'search-bench-')), 'orders.sqlite')}`;
  const db = await openDatabase(url);
  try {
    console.log(`\n${dialect}: seeding ${rows} orders`);
    await seed(db, rows, 7 * 86_400_000);
    const figures = await measureSearch(db, runs);
    console.log(`  ${'query'.padEnd(44)}${'p50'.padStart(10)}${'p99'.padStart(10)}`);
    for (const { query, p50, p99 } of figures) {
      console.log(
        `  ${query.padEnd(44)}${p50.toFixed(1).padStart(7)} ms${p99.toFixed(1).padStart(7)} ms`,
      );
    }
  } finally {
    await db.close();
    await cluster?.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '100' },
      database: { type: 'string', default: 'both' },
    },
  });
  const rows = Number(values.rows);
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(runs) || runs < 1) {
    throw new Error(
      'usage: search.ts [--rows R ≥ 1] [--runs N ≥ 1] [--database sqlite|postgres|both]',
    );
  }
  const dialects =
    values.database === 'both' ? (['sqlite', 'postgres'] as const) : [values.database];
  for (const dialect of dialects) {
    if (dialect !== 'sqlite' && dialect !== 'postgres')
      throw new Error(`unknown database ${dialect}`);
    await run(dialect, rows, runs);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
