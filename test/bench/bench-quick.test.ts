/**
 * The benchmark still works: `npm run bench -- --quick` runs every section end to end on a small
 * scale and writes its figures. Nothing here depends on how fast anything was — the figures are
 * only checked for being complete (every order done, no errors), never against a target.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../..');

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'orders-bench-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  kind: 'plain' | 'shape' | 'ours';
  table: 'empty' | 'seeded';
  orders: number;
  completed: number;
  problems: number;
  perSecond: number;
  cpuSeconds: Record<string, number>;
  rssMb: Record<string, number>;
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

void test(
  'npm run bench -- --quick: every section runs, every order is processed, no request fails',
  { timeout: 660_000 },
  async () => {
    const json = join(dir, 'bench.json');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench/bench.ts', '--quick', '--dir', dir],
      { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      settings: { orders: number; rounds: number; rates: number[] };
      runs: Run[];
      figures: { kind: string; table: string; runs: number; perSecond: Spread }[];
      ratios: Record<'plain' | 'shape' | 'growth' | 'seededPlain' | 'plainCpu', Spread>;
      workerRssMb: { before: number; afterThroughput: number; afterLatency: number };
      getOrders: { requests: number; errors: number };
      getStats: { requests: number; errors: number };
      posts: { rate: number; requests: number; errors: number; unfinished: number }[];
    };

    // Every kind of run, on both tables, once per round.
    assert.deepEqual(
      report.runs.map(({ kind, table }) => `${table} ${kind}`).sort(),
      ['empty ours', 'empty plain', 'empty shape', 'seeded ours', 'seeded plain'].flatMap((name) =>
        Array.from({ length: report.settings.rounds }, () => name),
      ),
    );
    for (const run of report.runs) {
      const name = `${run.table} ${run.kind}`;
      assert.deepEqual(
        { orders: run.orders, completed: run.completed, problems: run.problems },
        { orders: report.settings.orders, completed: report.settings.orders, problems: 0 },
        `${name}: every order completed`,
      );
      assert.ok(run.perSecond > 0, `${name}: a throughput figure`);
      assert.ok((run.cpuSeconds.temporal ?? 0) > 0, `${name}: the server's CPU time was read`);
      assert.ok((run.cpuSeconds.worker ?? 0) > 0, `${name}: the worker's CPU time was read`);
      assert.ok((run.rssMb.worker ?? 0) > 0, `${name}: the worker's memory was read`);
    }
    assert.equal(report.figures.length, 5);
    for (const ratio of Object.values(report.ratios)) {
      assert.ok(Number.isFinite(ratio.median) && ratio.min <= ratio.max);
    }
    assert.ok(Object.values(report.workerRssMb).every((mb) => mb > 0));
    assert.equal(report.getOrders.errors, 0);
    assert.equal(report.getStats.errors, 0);
    assert.deepEqual(
      report.posts.map(({ rate, errors, unfinished }) => ({ rate, errors, unfinished })),
      report.settings.rates.map((rate) => ({ rate, errors: 0, unfinished: 0 })),
    );
    assert.match(stdout, /ours ÷ plain baseline \(table empty\)\s+\d+\.\d\d \(/);
    assert.match(stdout, /ours ÷ plain, by CPU per order\s+\d+\.\d\d \(/);
    assert.match(stdout, /ours ÷ same-shape baseline \(table empty\)\s+\d+\.\d\d \(/);
    assert.match(stdout, /CPU ms per order, by process/);
    assert.match(stdout, /POST \/api\/orders at 200\/s/);
  },
);
