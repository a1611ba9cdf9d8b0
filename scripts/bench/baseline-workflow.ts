/**
 * The benchmark's baseline: what Temporal alone costs for an order-shaped workflow. The same
 * activity calls as `processOrder` on a normal run (status → verify → charge on its own task
 * queue → status), with the same timeouts and retry presets, but every activity does nothing.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import { paymentTaskQueue } from '../../domain/temporal';
import { paymentActivity, shortActivity } from '../../workflows/policies';

export interface BaselineActivities {
  noop(step: string): Promise<void>;
}

export async function baselineOrder(): Promise<void> {
  const { noop } = proxyActivities<BaselineActivities>(shortActivity);
  const payments = proxyActivities<BaselineActivities>({
    ...paymentActivity(10),
    taskQueue: paymentTaskQueue(workflowInfo().taskQueue),
  });
  await noop('processing');
  await noop('verify');
  await payments.noop('charge');
  await noop('processed');
}
