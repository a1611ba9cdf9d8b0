/**
 * Prometheus metrics of the order service. Names are defined here once; the alert rules, the
 * Grafana dashboard and their tests refer to these names.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PAYMENT_FAILURE_KINDS } from '../domain/errors';
import { ORDER_STATUSES } from '../domain/order';
import { FEATURES, type FeatureName } from '../domain/features';

export const METRICS = {
  ordersCreated: 'orders_created_total',
  ordersProcessed: 'orders_processed_total',
  ordersFailed: 'orders_failed_total',
  ordersCancelled: 'orders_cancelled_total',
  paymentAttempts: 'payment_attempts_total',
  paymentAttemptFailures: 'payment_attempt_failures_total',
  paymentDuration: 'payment_duration_seconds',
  financeRequestDuration: 'finance_request_duration_seconds',
  ordersRejected: 'orders_rejected_total',
  verificationDuration: 'verification_duration_seconds',
  queueDepth: 'orders_queue_depth',
  ordersByStatus: 'orders_by_status',
  databaseSize: 'database_size_bytes',
  databaseQuota: 'database_quota_bytes',
  featureToggleChanges: 'feature_toggle_changes_total',
  statusWriteFailures: 'order_status_write_failures_total',
  refunds: 'payment_refunds_total',
  launchLatency: 'order_launch_latency_seconds',
  launchFailures: 'order_launch_failures_total',
  launchBacklog: 'order_launch_backlog',
  launchOldest: 'order_launch_oldest_seconds',
} as const;

/** Seconds: payments normally take tens of milliseconds; the tail goes up to the 10 s timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Node's process metrics (memory, CPU, event loop lag): once per process, by its entry point. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}

/** The worker's own metrics (the Temporal SDK's come from its Runtime). */
export function createWorkerMetrics(registry = new Registry()) {
  const registers = [registry];
  const metrics = {
    registry,
    ordersProcessed: new Counter({
      name: METRICS.ordersProcessed,
      help: 'Orders that reached processed (charged).',
      registers,
    }),
    ordersFailed: new Counter({
      name: METRICS.ordersFailed,
      help: 'Orders marked failed, by reason class.',
      labelNames: ['reason'] as const,
      registers,
    }),
    ordersCancelled: new Counter({
      name: METRICS.ordersCancelled,
      help: 'Orders cancelled by an operator.',
      registers,
    }),
    statusWriteFailures: new Counter({
      name: METRICS.statusWriteFailures,
      help: 'Status writes the database refused for good (the SQL row is stale), by status.',
      labelNames: ['status'] as const,
      registers,
    }),
    refunds: new Counter({
      name: METRICS.refunds,
      help: 'Refunds of money taken for orders that were then cancelled.',
      registers,
    }),
    paymentAttempts: new Counter({
      name: METRICS.paymentAttempts,
      help: 'Payment attempts made against the finance package.',
      registers,
    }),
    paymentAttemptFailures: new Counter({
      name: METRICS.paymentAttemptFailures,
      help: 'Failed payment attempts, by class: transient (retried) or permanent (not retried).',
      labelNames: ['class'] as const,
      registers,
    }),
    paymentDuration: new Histogram({
      name: METRICS.paymentDuration,
      help: 'Duration of one payment attempt, from the activity start to its outcome.',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    ordersRejected: new Counter({
      name: METRICS.ordersRejected,
      help: 'Orders rejected by customer verification, by rule: a business outcome, not an error.',
      labelNames: ['rule'] as const,
      registers,
    }),
    verificationDuration: new Histogram({
      name: METRICS.verificationDuration,
      help: 'Duration of one customer verification, by outcome (approved or rejected).',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    financeRequestDuration: new Histogram({
      name: METRICS.financeRequestDuration,
      help: 'Duration of one HTTP call to the finance package, by answer status (or "error").',
      labelNames: ['status'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
  // Every label value exists from the start at 0, so the first failure is an increase that
  // rate() and increase() can see, not a series appearing already at 1.
  for (const reason of PAYMENT_FAILURE_KINDS) metrics.ordersFailed.inc({ reason }, 0);
  for (const status of ORDER_STATUSES) metrics.statusWriteFailures.inc({ status }, 0);
  for (const failureClass of ['transient', 'permanent'] as const) {
    metrics.paymentAttemptFailures.inc({ class: failureClass }, 0);
  }
  return metrics;
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** The API's metrics: order intake and the read-model gauges an operator watches. */
export function createApiMetrics(
  readings: {
    countByStatus: () => Promise<Record<string, number>>;
    databaseSizeBytes: () => Promise<number>;
    databaseQuotaBytes: number | null;
    /** The launch outbox: entries waiting and the acceptance time of the oldest. */
    launchBacklog?: () => Promise<{ waiting: number; oldestAcceptedAt: Date | null }>;
  },
  registry = new Registry(),
) {
  const registers = [registry];
  const launchBacklog = readings.launchBacklog;
  const ordersByStatus = new Gauge({
    name: METRICS.ordersByStatus,
    help: 'Orders in SQL by status.',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      for (const [status, count] of Object.entries(await readings.countByStatus())) {
        this.set({ status }, count);
      }
    },
  });
  const featureToggleChanges = new Counter({
    name: METRICS.featureToggleChanges,
    help: 'Feature toggle changes made by operators (admin API), by toggle and new value.',
    labelNames: ['name', 'enabled'] as const,
    registers,
  });
  // Every toggle and value starts at 0, so the first flip is an increase an alert can see.
  for (const name of Object.keys(FEATURES) as FeatureName[]) {
    for (const enabled of ['true', 'false']) featureToggleChanges.inc({ name, enabled }, 0);
  }
  return {
    registry,
    ordersByStatus,
    featureToggleChanges,
    ordersCreated: new Counter({
      name: METRICS.ordersCreated,
      help: 'Orders accepted by the API (201).',
      registers,
    }),
    queueDepth: new Gauge({
      name: METRICS.queueDepth,
      help: 'Orders not yet in a final status (queued or processing).',
      registers,
      async collect() {
        const counts = await readings.countByStatus();
        this.set((counts.queued ?? 0) + (counts.processing ?? 0));
      },
    }),
    launchLatency: new Histogram({
      name: METRICS.launchLatency,
      help: 'From an order accepted to its workflow recorded as started, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    launchFailures: new Counter({
      name: METRICS.launchFailures,
      help: 'Workflow starts that failed and wait in the outbox for a retry.',
      registers,
    }),
    launchBacklog: new Gauge({
      name: METRICS.launchBacklog,
      help: 'Accepted orders whose workflow is not started yet (the launch outbox).',
      registers,
      async collect() {
        if (launchBacklog) this.set((await launchBacklog()).waiting);
      },
    }),
    launchOldest: new Gauge({
      name: METRICS.launchOldest,
      help: 'Age of the oldest accepted order whose workflow is not started yet (0 when none).',
      registers,
      async collect() {
        if (!launchBacklog) return;
        const { oldestAcceptedAt } = await launchBacklog();
        this.set(
          oldestAcceptedAt ? Math.max(0, (Date.now() - oldestAcceptedAt.getTime()) / 1000) : 0,
        );
      },
    }),
    databaseSize: new Gauge({
      name: METRICS.databaseSize,
      help: 'Size of the orders database on disk.',
      registers,
      async collect() {
        this.set(await readings.databaseSizeBytes());
      },
    }),
    databaseQuota: new Gauge({
      name: METRICS.databaseQuota,
      help: 'Storage quota of the orders database (DATABASE_QUOTA_BYTES).',
      registers,
      collect() {
        if (readings.databaseQuotaBytes !== null) this.set(readings.databaseQuotaBytes);
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
