/**
 * The worker: wires config, logging, the database, the finance client and the Temporal
 * connection into the order workers, and shuts them down cleanly on SIGINT/SIGTERM.
 */
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { codecKeyring, encryptedDataConverter } from '../clients/codec';
import { FinanceClient } from '../clients/finance';
import { lazyTemporalClient, orderWorkflowSettings } from '../clients/temporal';
import { temporalConnectionOptions } from '../clients/temporal-connection';
import { openDatabase } from '../db';
import { FeatureToggleService } from '../db/features';
import type { Config } from '../domain/config';
import type { Tracing } from '../observability/tracing';
import { createLogger, type Logger } from '../observability/logger';
import { collectProcessMetrics, createWorkerMetrics } from '../observability/metrics';
import { workerHealthCheck } from './health';
import { TEMPORAL_CALL_TIMEOUT_MS } from '../api/deps';
import { freeLoopbackPort, startMetricsServer } from './metricsServer';
import { prebuiltWorkflowBundle } from './workflowBundle';
import { createOrderWorkers } from './workers';

const SDK_LEVELS: Record<Config['LOG_LEVEL'], LogLevel> = {
  error: 'ERROR',
  warn: 'WARN',
  info: 'INFO',
  debug: 'DEBUG',
};

/**
 * Temporal's SDK and core logs go through the same winston logger as ours, and its worker metrics
 * are served on a private loopback port that our `/metrics` includes.
 */
function installRuntime(log: Logger, level: Config['LOG_LEVEL'], sdkMetricsPort: number): void {
  Runtime.install({
    logger: new DefaultLogger(SDK_LEVELS[level], ({ level: sdkLevel, message, meta }) => {
      log.log(sdkLevel === 'TRACE' ? 'debug' : sdkLevel.toLowerCase(), message, {
        sdk: true,
        ...meta,
      });
    }),
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } },
    },
  });
}

/** Wires and runs the worker until SIGINT/SIGTERM; `main.ts` starts tracing first. */
export async function runWorker(config: Config, tracing: Tracing): Promise<void> {
  const log = createLogger({ service: 'worker', level: config.LOG_LEVEL });
  // Before anything starts: without its keys the worker could not read a single order.
  const keyring = codecKeyring(config);
  const dataConverter = encryptedDataConverter(keyring);
  const sdkMetricsPort = await freeLoopbackPort();
  installRuntime(log, config.LOG_LEVEL, sdkMetricsPort);
  const metrics = createWorkerMetrics();
  collectProcessMetrics(metrics.registry);

  const db = await openDatabase(config.DATABASE_URL);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const workflowBundle = prebuiltWorkflowBundle(tracing.workflowSpans);
  const workers = await createOrderWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    paymentRatePerSecond: config.PAYMENT_RATE_PER_SECOND,
    shutdownGraceTimeMs: config.WORKER_SHUTDOWN_GRACE,
    maxCachedWorkflows: config.WORKER_CACHED_WORKFLOWS,
    plugins: [tracing.workerPlugin],
    dataConverter,
    // Present in the production build (dist/worker/); from source the worker bundles at start.
    workflowBundle,
    activities: {
      orders: db.orders,
      finance: new FinanceClient(config.FINANCE_URL, config.FINANCE_TIMEOUT),
      log,
      financeTimeZone: config.FINANCE_TIMEZONE,
      features: new FeatureToggleService(db.features, { ttlMs: config.FEATURE_CACHE_TTL }),
      metrics,
    },
    // Bulk actions reach each order's workflow as the API does, through a client.
    bulk: {
      bulk: db.bulk,
      orders: db.orders,
      actions: {
        temporal: lazyTemporalClient(config, { dataConverter }),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        settings: orderWorkflowSettings(config),
        timeoutMs: TEMPORAL_CALL_TIMEOUT_MS,
      },
      log,
    },
  });
  const metricsServer = await startMetricsServer({
    host: config.WORKER_METRICS_HOST,
    port: config.WORKER_METRICS_PORT,
    registry: metrics.registry,
    sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
    health: workerHealthCheck({ workers, connection, db, log }),
    log,
  });
  log.info('worker started', {
    temporal: config.TEMPORAL_ADDRESS,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    database: db.dialect,
    finance: config.FINANCE_URL,
    // The id only: after a rotation, which key new payloads are encrypted under.
    codecKeyId: keyring.currentKeyId,
    metrics: metricsServer.url,
    workflowBundle: workflowBundle && 'codePath' in workflowBundle ? workflowBundle.codePath : null,
    // Process start to polling: what a restart costs (bundling at start is most of it).
    startupMs: Math.round(process.uptime() * 1000),
  });
  // The SDK's Runtime already turns SIGINT/SIGTERM into a graceful shutdown of every worker:
  // polling stops, in-flight activities get WORKER_SHUTDOWN_GRACE to finish, then are cancelled.
  await workers.run();
  await metricsServer.close();
  await connection.close();
  await db.close();
  await tracing.shutdown();
  log.info('worker stopped');
}
