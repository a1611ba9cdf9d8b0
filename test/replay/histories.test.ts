/**
 * Every recorded history must replay against today's workflow code: a change that would make a
 * running order's workflow nondeterministic fails here, before it reaches production.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { orderWorkflowBundle } from '../support/temporal';

const DIR = join(__dirname, '../fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

void test('the recorded fixtures cover every way an order ends', () => {
  const names = files.map((f) => f.replace(/\.json$/, ''));
  for (const expected of [
    'processed',
    'failed-then-retried-then-processed',
    'rejected-then-closed-failed',
    'cancelled-while-backing-off',
  ]) {
    assert.ok(names.includes(expected), `fixture ${expected}.json exists`);
  }
});

void test('every recorded order history replays without nondeterminism', async () => {
  const histories = files.map((file) => ({
    workflowId: file,
    history: historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8'))),
  }));
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await orderWorkflowBundle() },
    histories,
  )) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed.sort(), [...files].sort());
});
