/** The client side of the bulk-action workflow: start it, control it, ask its progress. */
import { isGrpcDeadlineError, type Client } from '@temporalio/client';
import type { BulkActionInput, BulkProgress } from '../domain/bulk';
import {
  BULK_ACTION_WORKFLOW_TYPE,
  BULK_QUERIES,
  BULK_UPDATES,
  bulkTaskQueue,
  workflowIdForBulkAction,
} from '../domain/temporal';

/** Items read per page, and handled per run before continuing as new. */
export const BULK_PAGE_SIZE = 100;
export const BULK_ITEMS_PER_RUN = 500;

/** Starts the batch's workflow on the bulk queue next to the orders' task queue. */
export async function startBulkWorkflow(
  client: Client,
  options: { orderTaskQueue: string; timeoutMs: number },
  input: BulkActionInput,
): Promise<string> {
  const workflowId = workflowIdForBulkAction(input.batchId);
  await client.withDeadline(Date.now() + options.timeoutMs, () =>
    client.workflow.start(BULK_ACTION_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: bulkTaskQueue(options.orderTaskQueue),
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `bulk ${input.action} ${input.batchId}`,
    }),
  );
  return workflowId;
}

export type BulkControl = keyof typeof BULK_UPDATES;

/**
 * Pauses, resumes or cancels a batch through its Update: resolves with its progress, or rejects
 * like `updateOrderWorkflow` (refused, not found or closed, no answer in time).
 */
export async function controlBulkWorkflow(
  client: Client,
  batchId: string,
  control: BulkControl,
  { timeoutMs }: { timeoutMs: number },
): Promise<BulkProgress> {
  const handle = client.workflow.getHandle(workflowIdForBulkAction(batchId));
  return client.withDeadline(Date.now() + timeoutMs, () =>
    handle.executeUpdate<BulkProgress, []>(BULK_UPDATES[control]),
  );
}

/** The batch's own progress while its workflow runs; null when closed or nobody answers. */
export async function queryBulkProgress(
  client: Client,
  batchId: string,
  { timeoutMs }: { timeoutMs: number },
): Promise<BulkProgress | null> {
  const handle = client.workflow.getHandle(workflowIdForBulkAction(batchId));
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () =>
      handle.query<BulkProgress>(BULK_QUERIES.progress),
    );
  } catch (error) {
    if (isGrpcDeadlineError(error)) return null;
    throw error;
  }
}
