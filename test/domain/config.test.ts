import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../domain/config';

const ROOT = resolve(__dirname, '../..');

void test('defaults give a runnable embedded setup', () => {
  const config = loadConfig({});
  assert.equal(config.DATABASE_URL, 'sqlite:.data/orders.sqlite');
  assert.equal(config.TEMPORAL_ADDRESS, '127.0.0.1:7233');
  assert.equal(config.FINANCE_TIMEOUT, 10_000);
  assert.equal(config.FAILED_ORDER_WAIT, 7 * 24 * 3600 * 1000);
  assert.equal(config.PAYMENT_RATE_PER_SECOND, 0);
});

void test('every bad variable is named with its problem', () => {
  assert.throws(
    () =>
      loadConfig({
        FINANCE_TIMEOUT: 'soon',
        PAYMENT_MAX_ATTEMPTS: '0',
        FINANCE_TIMEZONE: 'Mars/Olympus',
        DATABASE_URL: 'mysql://x',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const named = error.problems.map((p) => p.variable).sort();
      assert.deepEqual(named, [
        'DATABASE_URL',
        'FINANCE_TIMEOUT',
        'FINANCE_TIMEZONE',
        'PAYMENT_MAX_ATTEMPTS',
      ]);
      assert.match(error.message, /FINANCE_TIMEOUT: must be a duration like/);
      assert.match(error.message, /FINANCE_TIMEZONE: must be an IANA time zone/);
      return true;
    },
  );
});

void test("the finance timeout must stay below the payment activity's timeout", () => {
  assert.throws(
    () => loadConfig({ FINANCE_TIMEOUT: '45s' }),
    /FINANCE_TIMEOUT: must be above 0 and shorter than/,
  );
});

void test('an empty variable counts as unset', () => {
  assert.equal(loadConfig({ TEMPORAL_TASK_QUEUE: '' }).TEMPORAL_TASK_QUEUE, 'orders');
});

for (const entry of ['worker/main.ts', 'finance/main.ts']) {
  void test(`${entry} exits with a message naming a bad variable`, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: { ...process.env, PAYMENT_MAX_ATTEMPTS: 'many' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /Invalid configuration: PAYMENT_MAX_ATTEMPTS: /);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
}
