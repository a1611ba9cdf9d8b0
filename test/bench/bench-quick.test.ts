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
  orders: number;
  completed: number;
  problems: number;
  perSecond: number;
  cpuSeconds: Record<string, number>;
}

void test(
  'npm run bench -- --quick: every section runs, every order is processed, no request fails',
  { timeout: 660_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-bench-'));
    const json = join(dir, 'bench.json');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench/bench.ts', '--quick', '--dir', dir],
      { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      settings: { orders: number; rates: number[] };
      baseline: Run;
      empty: Run;
      seeded: Run;
      ratio: number;
      growth: number;
      workerRssMb: { before: number; afterThroughput: number; afterLatency: number };
      getOrders: { requests: number; errors: number };
      getStats: { requests: number; errors: number };
      posts: { rate: number; requests: number; errors: number; unfinished: number }[];
    };

    for (const [name, run] of Object.entries({
      baseline: report.baseline,
      empty: report.empty,
      seeded: report.seeded,
    })) {
      assert.deepEqual(
        { orders: run.orders, completed: run.completed, problems: run.problems },
        { orders: report.settings.orders, completed: report.settings.orders, problems: 0 },
        `${name}: every order completed`,
      );
      assert.ok(run.perSecond > 0, `${name}: a throughput figure`);
      assert.ok((run.cpuSeconds.temporal ?? 0) > 0, `${name}: the server's CPU time was read`);
    }
    assert.ok(Number.isFinite(report.ratio) && Number.isFinite(report.growth));
    assert.ok(Object.values(report.workerRssMb).every((mb) => mb > 0));
    assert.equal(report.getOrders.errors, 0);
    assert.equal(report.getStats.errors, 0);
    assert.deepEqual(
      report.posts.map(({ rate, errors, unfinished }) => ({ rate, errors, unfinished })),
      report.settings.rates.map((rate) => ({ rate, errors: 0, unfinished: 0 })),
    );
    assert.match(stdout, /ours ÷ baseline \(table empty\)\s+\d+\.\d\d/);
    assert.match(stdout, /POST \/api\/orders at 200\/s/);
  },
);
