/** Starting an order's workflow and recording that it exists: used by create and reconciler. */
import { WorkflowNotFoundError } from '@temporalio/common';
import { orderWorkflowSettings, startOrderWorkflow } from '../clients/temporal';
import type { StoredOrder } from '../db/orders';
import { workflowIdForOrder } from '../domain/temporal';
import { temporalTimeout, type ApiDeps } from './deps';

type LaunchDeps = Pick<ApiDeps, 'db' | 'temporal' | 'config' | 'clock' | 'temporalTimeoutMs'>;

async function workflowExists(deps: LaunchDeps, orderId: string): Promise<boolean> {
  const handle = deps.temporal.workflow.getHandle(workflowIdForOrder(orderId));
  try {
    await deps.temporal.withDeadline(Date.now() + temporalTimeout(deps), () => handle.describe());
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Starts the order's workflow and records `workflow_started_at`. With `mayExist` (the reconciler,
 * a replayed request) it first looks for the workflow: the process that wrote the row may have
 * started it and died before recording it, and a finished workflow must not be run a second
 * time (a start with the same id after it closed would begin a new run).
 */
export async function launchOrderWorkflow(
  deps: LaunchDeps,
  order: StoredOrder,
  { mayExist }: { mayExist: boolean },
): Promise<{ outcome: 'started' | 'existed'; recordedAt: Date }> {
  const { db, temporal, config } = deps;
  let outcome: 'started' | 'existed' = 'existed';
  if (!mayExist || !(await workflowExists(deps, order.id))) {
    const { started } = await temporal.withDeadline(Date.now() + temporalTimeout(deps), () =>
      startOrderWorkflow(
        temporal,
        { taskQueue: config.TEMPORAL_TASK_QUEUE, settings: orderWorkflowSettings(config) },
        order,
      ),
    );
    outcome = started ? 'started' : 'existed';
  }
  const recordedAt = (deps.clock ?? (() => new Date()))();
  await db.orders.markWorkflowStarted(order.id, recordedAt);
  return { outcome, recordedAt };
}
