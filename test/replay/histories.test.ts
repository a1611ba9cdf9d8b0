/**
 * Every recorded history must replay against today's workflow code: a change that would make a
 * running order's workflow nondeterministic fails here, before it reaches production. Replay runs
 * with the codec on, as the worker does: the encrypted fixtures decode under the fixture key, and
 * the ones recorded in clear, before the codec, still replay.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { ENCRYPTED_ENCODING } from '../../clients/codec';
import { FIXTURE_CODEC_KEYS, testDataConverter } from '../support/codec';
import { LOCAL_STEPS_PATHS, localStepsFixture } from '../support/history-fixtures';
import { orderWorkflowBundle } from '../support/temporal';

const DIR = join(__dirname, '../fixtures/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const ENCRYPTED_DIR = join(__dirname, '../fixtures/histories-encrypted');
const encryptedFiles = readdirSync(ENCRYPTED_DIR).filter((f) => f.endsWith('.json'));

const dataConverter = testDataConverter(FIXTURE_CODEC_KEYS);

function load(dir: string, names: string[]) {
  return names.map((file) => ({
    workflowId: file,
    history: historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8'))),
  }));
}

/** Replays every history; returns the ids that replayed, failing on the first error. */
async function replayAll(
  histories: ReturnType<typeof load>,
  options: { dataConverter?: typeof dataConverter } = { dataConverter },
): Promise<string[]> {
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await orderWorkflowBundle(), ...options },
    histories,
  )) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  return replayed.sort();
}

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

void test('every recorded order history replays without nondeterminism, with the codec on', async () => {
  assert.deepEqual(await replayAll(load(DIR, files)), [...files].sort());
});

void test('every encrypted history replays, decoded with the fixture key', async () => {
  for (const expected of [
    'processed',
    'failed-then-retried-by-update-then-processed',
    'cancelled-in-flight-then-refunded',
    'rejected-by-new-verification',
  ]) {
    assert.ok(encryptedFiles.includes(`${expected}.json`), `fixture ${expected}.json exists`);
  }
  const histories = load(ENCRYPTED_DIR, encryptedFiles);
  for (const { workflowId, history } of histories) {
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const encoding = Buffer.from(started?.input?.payloads?.[0]?.metadata?.encoding ?? []);
    assert.equal(encoding.toString(), ENCRYPTED_ENCODING, `${workflowId} is encrypted`);
  }
  assert.deepEqual(await replayAll(histories), [...encryptedFiles].sort());
});

void test('without the key, an encrypted history does not replay', async () => {
  const [first] = load(ENCRYPTED_DIR, ['processed.json']);
  assert.ok(first);
  const results = Worker.runReplayHistories(
    { workflowBundle: await orderWorkflowBundle(), dataConverter: testDataConverter() },
    [first],
  );
  let outcomes = 0;
  for await (const result of results) {
    outcomes += 1;
    // The worker logs the codec's reason (key "fixture-1" is not listed); replay reports a failure.
    assert.ok(result.error, 'replayed without the key it was encrypted under');
  }
  assert.equal(outcomes, 1);
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
  await Worker.runReplayHistory(
    { workflowBundle: await orderWorkflowBundle(), dataConverter },
    history,
    file,
  );
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
