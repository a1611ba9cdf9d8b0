/**
 * Worker process of the benchmark's baseline workflow: the same two task queues and worker
 * settings as the order worker (`worker/workers.ts`), with no-op activities. Configured by the
 * same environment variables (TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { codecKeyring, encryptedDataConverter } from '../../clients/codec';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import { loadConfigOrExit } from '../../domain/config';
import { paymentTaskQueue } from '../../domain/temporal';
import { WORKER_TUNING } from '../../worker/workers';
import type { BaselineActivities } from './baseline-workflow';

const activities: BaselineActivities = { noop: () => Promise.resolve() };

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  // The same codec as the order worker: the comparison includes the encryption's cost.
  const dataConverter = encryptedDataConverter(codecKeyring(config));
  const common = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    activities,
    dataConverter,
    ...WORKER_TUNING,
  };
  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowsPath: require.resolve('./baseline-workflow'),
    }),
    Worker.create({ ...common, taskQueue: paymentTaskQueue(config.TEMPORAL_TASK_QUEUE) }),
  ]);
  console.log('baseline worker polling', config.TEMPORAL_TASK_QUEUE);
  await Promise.all(workers.map((worker) => worker.run()));
  await connection.close();
}

main().catch((error: unknown) => {
  console.error('baseline worker failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
