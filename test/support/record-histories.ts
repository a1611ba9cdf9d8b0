/**
 * Records workflow histories from real runs on the Temporal dev server, as replay fixtures:
 *   npx tsx test/support/record-histories.ts              # in clear, as before the codec
 *   npx tsx test/support/record-histories.ts --encrypted  # encrypted under the fixture key
 * It records only the scenarios that have no fixture yet: old fixtures stand for workflows already
 * running in production and are never rewritten. Add a scenario when the workflow gains a path
 * worth protecting, run this, and commit the new file.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import type { processOrder } from '../../workflows';
import { paymentIdempotencyKey } from '../../activities/orders';
import { resumeOrderWorkflow } from '../../clients/temporal';
import { cancelSignal, cancelUpdate, retrySignal, retryUpdate } from '../../workflows';
import { FIXTURE_CODEC_KEYS, testDataConverter } from './codec';
import { freshSqliteUrl } from './database';
import { LOCAL_STEPS_PATHS, localStepsFixture } from './history-fixtures';
import { startTestSystem, type TestSystem } from './system';
import { createDevServerEnv, TEMPORAL_CLI } from './temporal';
import { waitFor } from './wait';

const ENCRYPTED = process.argv.includes('--encrypted');
/** Encrypted histories go apart, each scenario recorded again the way production stores it. */
const OUT = join(
  __dirname,
  ENCRYPTED ? '../fixtures/histories-encrypted' : '../fixtures/histories',
);

type Handle = WorkflowHandle<typeof processOrder>;

const settle = (handle: Handle) => handle.result().catch(() => undefined);

const waitForStatus = (system: TestSystem, id: string, status: string) =>
  waitFor(
    `order ${id} ${status}`,
    () => system.db.orders.get(id),
    (row) => row?.status === status,
  );

/** Each scenario drives one order down one path of the workflow. */
const scenarios: Record<string, (system: TestSystem) => Promise<Handle>> = {
  async processed(system) {
    const { handle } = await system.place();
    await settle(handle);
    return handle;
  },
  async 'transient-errors-then-processed'(system) {
    await system.finance.queueFaults('status-503', 'status-429');
    const { handle } = await system.place();
    await settle(handle);
    return handle;
  },
  async 'failed-then-retried-then-processed'(system) {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await waitForStatus(system, order.id, 'failed');
    await system.finance.reset();
    await handle.signal(retrySignal);
    await settle(handle);
    return handle;
  },
  async 'rejected-then-closed-failed'(system) {
    const { handle } = await system.place({ datePlaced: '3000-01-01T00:00:00.000Z' });
    await settle(handle);
    return handle;
  },
  async 'cancelled-while-backing-off'(system) {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await waitFor(
      'a first attempt',
      () => system.db.orders.get(order.id),
      (row) => (row?.attempts ?? 0) >= 1,
    );
    await handle.signal(cancelSignal, { reason: 'recorded fixture' });
    await settle(handle);
    await system.finance.reset();
    return handle;
  },
  async 'velocity-order-processed-with-new-verification-off'(system) {
    await system.db.features.set('NEW_VERIFICATION', false, 'record-histories');
    const customerId = 'cust-velocity-fixture';
    for (let i = 0; i < 6; i += 1) await system.place({ customerId });
    const { handle } = await system.place({ customerId });
    await settle(handle);
    return handle;
  },
  async 'rejected-by-new-verification'(system) {
    await system.db.features.set('NEW_VERIFICATION', true, 'record-histories');
    const customerId = 'cust-velocity-rejected-fixture';
    for (let i = 0; i < 6; i += 1) await system.place({ customerId });
    const { handle } = await system.place({ customerId });
    await settle(handle);
    await system.db.features.set('NEW_VERIFICATION', false, 'record-histories');
    return handle;
  },
  async 'cancelled-while-failed'(system) {
    const { order, handle } = await system.place({ amount: '0.00' });
    await waitForStatus(system, order.id, 'failed');
    await handle.signal(cancelSignal);
    await settle(handle);
    return handle;
  },
  // Recorded with payment settlement (SETTLE_PAYMENTS_PATCH):
  async 'cancelled-in-flight-then-refunded'(system) {
    await system.finance.queueFaults('late-charge');
    const { order, handle } = await system.place();
    await waitFor(
      'the payment to be in progress',
      () => system.finance.pending(),
      (keys) => keys.includes(paymentIdempotencyKey(order.id)),
    );
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'recorded fixture' }] });
    await settle(handle);
    return handle;
  },
  async 'failed-then-completed-after-wait'(system) {
    const { handle } = await system.place({ amount: '0.00' });
    await settle(handle);
    return handle;
  },
  async 'failed-then-retried-by-update-then-processed'(system) {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await waitForStatus(system, order.id, 'failed');
    await system.finance.reset();
    await handle.executeUpdate(retryUpdate);
    await settle(handle);
    return handle;
  },
  async 'answer-lost-then-looked-up-then-processed'(system) {
    await system.finance.queueFaults('drop');
    const { handle } = await system.place();
    await settle(handle);
    return handle;
  },
  async 'resumed-after-close-then-processed'(system) {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await settle(handle);
    await system.finance.reset();
    const row = await system.db.orders.get(order.id);
    if (!row) throw new Error(`order ${order.id} has no row`);
    await resumeOrderWorkflow(
      system.env.client,
      { taskQueue: system.taskQueue, settings: system.settings, timeoutMs: 10_000 },
      row,
      'retry',
    );
    await settle(system.env.client.workflow.getHandle(handle.workflowId));
    return handle;
  },
};

// The same paths again on the local-steps path (FEWER_ROUND_TRIPS_PATCH).
for (const path of LOCAL_STEPS_PATHS) {
  const scenario = scenarios[path];
  if (scenario) scenarios[localStepsFixture(path)] = scenario;
}

/**
 * Scenarios today's workflow cannot take any more: a cancel while backing off now waits for a
 * refund, which the finance package, down in that scenario, never answers.
 */
const NOT_RECORDED_AGAIN = new Set(['cancelled-while-backing-off']);

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  // Without --encrypted: no payload codec, as the service stored histories before it had one.
  const dataConverter = ENCRYPTED ? testDataConverter(FIXTURE_CODEC_KEYS) : {};
  const env = await createDevServerEnv({ dataConverter });
  const system = await startTestSystem({
    env,
    databaseUrl: freshSqliteUrl(),
    settings: { maxPaymentAttempts: 2, failedOrderWaitMs: 3000 },
    dataConverter,
  });
  try {
    for (const [name, run] of Object.entries(scenarios)) {
      const file = join(OUT, `${name}.json`);
      if (existsSync(file) || (ENCRYPTED && NOT_RECORDED_AGAIN.has(name))) continue;
      const handle = await run(system);
      // The CLI's JSON is the same format the Temporal UI exports and historyFromJSON reads.
      const json = execFileSync(TEMPORAL_CLI, [
        'workflow',
        'show',
        '--workflow-id',
        handle.workflowId,
        '--address',
        env.address,
        '--output',
        'json',
      ]);
      writeFileSync(file, json);
      console.log(`recorded ${file}`);
    }
  } finally {
    await system.stop();
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
