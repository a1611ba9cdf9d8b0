/**
 * Worker process of the benchmark's two baselines, with no-op activities and the order worker's
 * settings (`worker/workers.ts`), so each is compared with ours on equal terms:
 * - same shape: the order workflow's two task queues (TEMPORAL_TASK_QUEUE and its payments queue);
 * - plain: one task queue of its own (PLAIN_TASK_QUEUE).
 * Configured by the same environment variables as the order worker (TEMPORAL_ADDRESS, …).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { codecKeyring, encryptedDataConverter } from '../../clients/codec';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import { loadConfigOrExit } from '../../domain/config';
import { paymentTaskQueue } from '../../domain/temporal';
import { WORKER_TUNING } from '../../worker/workers';
import type { BaselineActivities } from './baseline-workflow';
import type { PlainActivities } from './plain-workflow';

const activities: BaselineActivities & PlainActivities = {
  noop: () => Promise.resolve(),
  plainStep: () => Promise.resolve(),
};

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const plainQueue = process.env.PLAIN_TASK_QUEUE;
  if (!plainQueue) throw new Error('PLAIN_TASK_QUEUE is not set');
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  // The same codec as the order worker: the comparison includes the encryption's cost.
  const dataConverter = encryptedDataConverter(codecKeyring(config));
  const common = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    activities,
    dataConverter,
    ...WORKER_TUNING,
    ...(config.WORKER_CACHED_WORKFLOWS
      ? { maxCachedWorkflows: config.WORKER_CACHED_WORKFLOWS }
      : {}),
  };
  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowsPath: require.resolve('./baseline-workflow'),
    }),
    Worker.create({ ...common, taskQueue: paymentTaskQueue(config.TEMPORAL_TASK_QUEUE) }),
    Worker.create({
      ...common,
      taskQueue: plainQueue,
      workflowsPath: require.resolve('./plain-workflow'),
    }),
  ]);
  console.log('baseline worker polling', config.TEMPORAL_TASK_QUEUE, plainQueue);
  await Promise.all(workers.map((worker) => worker.run()));
  await connection.close();
}

main().catch((error: unknown) => {
  console.error('baseline worker failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
