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
import { LOCAL_STEPS_PATHS, localStepsFixture } from '../support/history-fixtures';
import { orderWorkflowBundle } from '../support/temporal';

const DIR = join(__dirname, '../fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

/** Recorded on the path with local status writes and verification. */
const LOCAL_STEPS = LOCAL_STEPS_PATHS.map(localStepsFixture);

const historyOf = (file: string) =>
  historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));

void test('the recorded fixtures cover every way an order ends', () => {
  const names = files.map((f) => f.replace(/\.json$/, ''));
  for (const expected of [
    'processed',
    'failed-then-retried-then-processed',
    'rejected-then-closed-failed',
    'cancelled-while-backing-off',
    'velocity-order-processed-with-new-verification-off',
    'rejected-by-new-verification',
    // With payment settlement and clean closing (SETTLE_PAYMENTS_PATCH):
    'cancelled-in-flight-then-refunded',
    'failed-then-completed-after-wait',
    'failed-then-retried-by-update-then-processed',
    'answer-lost-then-looked-up-then-processed',
    'resumed-after-close-then-processed',
    // With local status writes and verification (FEWER_ROUND_TRIPS_PATCH):
    ...LOCAL_STEPS,
  ]) {
    assert.ok(names.includes(expected), `fixture ${expected}.json exists`);
  }
});

void test('every recorded order history replays without nondeterminism', async () => {
  const histories = files.map((file) => ({ workflowId: file, history: historyOf(file) }));
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

void test('an order verified with NEW_VERIFICATION off replays the same after the toggle is on', async () => {
  // Replay never runs activities: the verdict, with the toggle value it was made with, comes from
  // the history. Whatever the toggle says today, the recorded order stays processed.
  const file = 'velocity-order-processed-with-new-verification-off.json';
  const text = readFileSync(join(DIR, file), 'utf8');
  const history = historyFromJSON(JSON.parse(text));
  const verdicts = (history.events ?? [])
    .filter((event) => event.activityTaskCompletedEventAttributes)
    .map((event) =>
      Buffer.from(
        event.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data ?? [],
      ).toString('utf8'),
    )
    .filter((result) => result.includes('newVerification'));
  assert.deepEqual(
    verdicts.map((v) => JSON.parse(v) as unknown),
    [{ approved: true, newVerification: false }],
  );
  await Worker.runReplayHistory({ workflowBundle: await orderWorkflowBundle() }, history, file);
});

void test('the local-steps fixtures took the new path: only finance calls are activity tasks', () => {
  for (const name of LOCAL_STEPS) {
    const events = historyOf(`${name}.json`).events ?? [];
    const scheduled = events.flatMap((event) => {
      const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
      return type ? [type] : [];
    });
    assert.ok(
      scheduled.every((type) => ['chargePayment', 'lookupPayment', 'refundPayment'].includes(type)),
      `${name}: activity tasks ${scheduled.join(', ')}`,
    );
    const localActivities = events.filter(
      (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    assert.ok(localActivities.length >= 2, `${name}: status writes recorded as local activities`);
  }
});
