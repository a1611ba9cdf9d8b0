/**
 * The order workers, built from their dependencies so the entry point and the tests wire the same
 * thing. Two task queues: order workflows with their status writes, and payments, whose rate can
 * be capped on their own (the old job processed orders at a fixed rate; PAYMENT_RATE_PER_SECOND
 * keeps that option).
 */
import type { DataConverter } from '@temporalio/common';
import {
  NativeConnection,
  Worker,
  type WorkerPlugin,
  type WorkerOptions,
  type WorkflowBundleOption,
  type WorkerStatus,
} from '@temporalio/worker';
import { createBulkActivities, type BulkActivityDeps } from '../activities/bulk';
import { createOrderActivities, type OrderActivityDeps } from '../activities/orders';
import { bulkTaskQueue, paymentTaskQueue } from '../domain/temporal';

/**
 * Worker settings shared by both task queues (and the benchmark's baseline worker, so the two are
 * compared on equal terms). The SDK's defaults, measured in docs/benchmarks.md.
 */
export const WORKER_TUNING = {} satisfies Partial<WorkerOptions>;

export interface OrderWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  activities: OrderActivityDeps;
  /** The encryption codec and failure converter (clients/codec.ts): Temporal stores ciphertext. */
  dataConverter: DataConverter;
  /** Payment activities started per second across the payments queue; 0 or absent = no cap. */
  paymentRatePerSecond?: number;
  /** How long in-flight activities may finish on shutdown before they are cancelled. */
  shutdownGraceTimeMs?: number;
  /** Workflows each workflow worker keeps cached between tasks (WORKER_CACHED_WORKFLOWS). */
  maxCachedWorkflows?: number;
  /**
   * A prebuilt workflow bundle (the production build's, or the tests' built once); otherwise the
   * worker bundles `workflows/` at start.
   */
  workflowBundle?: WorkflowBundleOption;
  /** e.g. tracing's interceptors and workflow span sink. */
  plugins?: WorkerPlugin[];
  /** Bulk actions' dependencies: with them, a third worker runs the batches' queue. */
  bulk?: BulkActivityDeps;
}

export interface OrderWorkers {
  run(): Promise<void>;
  shutdown(): void;
  /** Each worker's SDK status and the pollers it must keep up, by role, for `/healthz`. */
  status(): Partial<Record<'orders' | 'payments' | 'bulk', OrderWorkerStatus>>;
}

/** A worker's status and which of its pollers matter: payments run no workflows. */
export interface OrderWorkerStatus {
  status: WorkerStatus;
  pollers: ('workflow' | 'activity')[];
}

export async function createOrderWorkers(options: OrderWorkerOptions): Promise<OrderWorkers> {
  const { recordOrderStatus, verifyCustomer, chargePayment, lookupPayment, refundPayment } =
    createOrderActivities(options.activities);
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    shutdownGraceTime: options.shutdownGraceTimeMs ?? 10_000,
    plugins: options.plugins ?? [],
    dataConverter: options.dataConverter,
    ...WORKER_TUNING,
    ...(options.maxCachedWorkflows ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  };
  const orders = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: { recordOrderStatus, verifyCustomer },
  });
  const payments = await Worker.create({
    ...common,
    taskQueue: paymentTaskQueue(options.taskQueue),
    // Everything that talks to the finance package, under the same rate cap.
    activities: { chargePayment, lookupPayment, refundPayment },
    ...(options.paymentRatePerSecond
      ? { maxTaskQueueActivitiesPerSecond: options.paymentRatePerSecond }
      : {}),
  });
  const bulk = options.bulk
    ? await Worker.create({
        ...common,
        taskQueue: bulkTaskQueue(options.taskQueue),
        ...(options.workflowBundle
          ? { workflowBundle: options.workflowBundle }
          : { workflowsPath: require.resolve('../workflows') }),
        activities: createBulkActivities(options.bulk),
      })
    : null;
  const all = bulk ? [orders, payments, bulk] : [orders, payments];
  return {
    async run() {
      await Promise.all(all.map((worker) => worker.run()));
    },
    shutdown() {
      for (const worker of all) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
    status() {
      return {
        orders: { status: orders.getStatus(), pollers: ['workflow', 'activity'] },
        // With no workflows registered, the SDK shuts this worker's workflow poller down at once.
        payments: { status: payments.getStatus(), pollers: ['activity'] },
        ...(bulk ? { bulk: { status: bulk.getStatus(), pollers: ['workflow', 'activity'] } } : {}),
      };
    },
  };
}
