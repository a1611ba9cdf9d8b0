import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkerPlugin } from '@temporalio/worker';
import { FinanceClient } from '../../clients/finance';
import { startOrderWorkflow } from '../../clients/temporal';
import { openDatabase, type Database } from '../../db';
import { FeatureToggleService } from '../../db/features';
import type { FeatureName } from '../../domain/features';
import type { NewOrder, Order, OrderWorkflowSettings } from '../../domain/order';
import { workflowIdForOrder } from '../../domain/temporal';
import { createLogger } from '../../observability/logger';
import type { processOrder } from '../../workflows';
import { createOrderWorkers } from '../../worker/workers';
import { testDataConverter } from './codec';
import { startFinance, type RunningFinance } from './finance';
import { newOrder } from './orders';
import { orderWorkflowBundle } from './temporal';
import { waitFor } from './wait';

export interface TestSystem {
  env: TestWorkflowEnvironment;
  db: Database;
  finance: RunningFinance;
  taskQueue: string;
  /** The workflow settings `place()` starts orders with. */
  settings: OrderWorkflowSettings;
  /** Writes the order row and starts its workflow, as the API does. */
  place(
    overrides?: Partial<NewOrder>,
  ): Promise<{ order: Order; handle: WorkflowHandle<typeof processOrder> }>;
  /**
   * Makes the next customer verification wait inside its activity (where it reads the feature
   * toggle) until `release()`: `reached` resolves once it is waiting there.
   */
  holdNextVerification(): { reached: Promise<void>; release: () => void };
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  env: TestWorkflowEnvironment;
  databaseUrl: string;
  settings?: Partial<OrderWorkflowSettings>;
  financeTimeoutMs?: number;
  financeTimeZone?: string;
  financeHangMs?: number;
  /** How long after the caller gave up a `late-charge` fault charges. */
  financeLateChargeMs?: number;
  /** Worker plugins (tracing); the workers then bundle the workflows themselves, with them. */
  plugins?: WorkerPlugin[];
  /** The workers' codec; the same keys as `env`'s client (the test process's own by default). */
  dataConverter?: DataConverter;
}

/** Real workers with real activities, a real finance simulator and a real database. */
export async function startTestSystem(options: TestSystemOptions): Promise<TestSystem> {
  const { env } = options;
  const timeZone = options.financeTimeZone ?? 'Europe/London';
  const finance = await startFinance({
    timeZone,
    hangMs: options.financeHangMs ?? 60_000,
    ...(options.financeLateChargeMs !== undefined
      ? { lateChargeMs: options.financeLateChargeMs }
      : {}),
  });
  const db = await openDatabase(options.databaseUrl);
  const taskQueue = `orders-${randomUUID()}`;
  // No cache: a test that flips a toggle sees it on the next order.
  const toggles = new FeatureToggleService(db.features, { ttlMs: 0 });
  const gate = new VerificationGate(toggles);
  const settings: OrderWorkflowSettings = {
    maxPaymentAttempts: 5,
    failedOrderWaitMs: 7 * 24 * 3600 * 1000,
    ...options.settings,
  };
  const workers = await createOrderWorkers({
    connection: env.nativeConnection,
    taskQueue,
    dataConverter: options.dataConverter ?? testDataConverter(),
    ...(options.plugins
      ? { plugins: options.plugins }
      : { workflowBundle: await orderWorkflowBundle() }),
    activities: {
      orders: db.orders,
      finance: new FinanceClient(finance.url, options.financeTimeoutMs ?? 5_000),
      log: createLogger({ service: 'worker', silent: true }),
      financeTimeZone: timeZone,
      features: gate,
    },
    // Bulk actions, wired like the worker's: through the environment's client.
    bulk: {
      bulk: db.bulk,
      orders: db.orders,
      actions: { temporal: env.client, taskQueue, settings, timeoutMs: 5_000 },
      log: createLogger({ service: 'worker', silent: true }),
    },
  });
  const running = workers.run();

  const system: TestSystem = {
    env,
    db,
    finance,
    taskQueue,
    settings,
    async place(overrides = {}) {
      const order = await db.orders.create(newOrder(overrides));
      await startOrderWorkflow(env.client, { taskQueue, settings }, order);
      // As the launcher does: the order's outbox entry goes, so no API launcher starts it again.
      await db.orders.markWorkflowStarted(order.id);
      return {
        order,
        handle: env.client.workflow.getHandle<typeof processOrder>(workflowIdForOrder(order.id)),
      };
    },
    holdNextVerification: () => gate.hold(),
    async stop() {
      workers.shutdown();
      await running;
      await finance.close();
      await db.close();
    },
  };
  await warmUp(system);
  return system;
}

/** The toggle reader of the verification activity, with a one-shot hold for tests. */
class VerificationGate {
  private held: { arrived: () => void; released: Promise<void> } | null = null;

  constructor(private readonly toggles: FeatureToggleService) {}

  hold(): { reached: Promise<void>; release: () => void } {
    let arrived = (): void => undefined;
    let release = (): void => undefined;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { arrived, released };
    return { reached, release };
  }

  async isEnabled(name: FeatureName): Promise<boolean> {
    const held = this.held;
    if (held) {
      this.held = null;
      held.arrived();
      await held.released;
    }
    return this.toggles.isEnabled(name);
  }
}

/**
 * One order through the whole system before any test runs. Besides proving the wiring, it makes
 * sure the workers poll before a test awaits a result: the time-skipping server would otherwise
 * skip straight to the workflow's execution timeout while no worker is there yet.
 */
async function warmUp(system: TestSystem): Promise<void> {
  const { order } = await system.place();
  await waitFor(
    'the warm-up order to be processed',
    () => system.db.orders.get(order.id),
    (row) => row?.status === 'processed',
  );
}
