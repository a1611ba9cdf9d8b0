/** Names shared by the workflow, the worker, the client side and the tests: defined once, here. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ORDER_WORKFLOW_TYPE = 'processOrder';

const WORKFLOW_ID_PREFIX = 'order-';

/** Workflow id = `order-<orderId>`: starting an order twice can never create two workflows. */
export function workflowIdForOrder(orderId: string): string {
  return `${WORKFLOW_ID_PREFIX}${orderId}`;
}

export function orderIdFromWorkflowId(workflowId: string): string | null {
  return workflowId.startsWith(WORKFLOW_ID_PREFIX)
    ? workflowId.slice(WORKFLOW_ID_PREFIX.length)
    : null;
}

/** Keyword search attribute mirroring the order's status, for visibility queries and the UI. */
export const ORDER_STATUS_SEARCH_ATTRIBUTE = 'OrderStatus';

export const orderStatusKey = defineSearchAttributeKey(
  ORDER_STATUS_SEARCH_ATTRIBUTE,
  SearchAttributeType.KEYWORD,
);

/** Every custom search attribute the workflows use, with its CLI type name (for provisioning). */
export const SEARCH_ATTRIBUTES = { [ORDER_STATUS_SEARCH_ATTRIBUTE]: 'Keyword' } as const;

export const SIGNALS = { cancel: 'cancel', retry: 'retry' } as const;
/** The same actions as Updates: the caller hears whether the workflow accepted or refused. */
export const UPDATES = { cancel: 'cancelOrder', retry: 'retryOrder' } as const;
export const QUERIES = { status: 'status' } as const;

/**
 * Payments run on their own task queue so their rate can be capped without slowing the short
 * status writes. The name is derived, so the workflow needs no extra input to find it.
 */
export function paymentTaskQueue(orderTaskQueue: string): string {
  return `${orderTaskQueue}-payments`;
}

/** Temporal Web UI page of one order's workflow. */
export function temporalUiWorkflowUrl(
  uiBaseUrl: string,
  namespace: string,
  orderId: string,
): string {
  const base = uiBaseUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowIdForOrder(orderId))}`;
}

/**
 * The payment activity's start-to-close timeout. The finance HTTP timeout (FINANCE_TIMEOUT) must be
 * shorter, so a hung call fails in the activity with a clear reason instead of timing out the attempt.
 */
export const PAYMENT_START_TO_CLOSE_MS = 30_000;

/** The batch workflow that applies one operator action to many orders (`workflows/bulkAction.ts`). */
export const BULK_ACTION_WORKFLOW_TYPE = 'bulkAction';

/** Workflow id = `bulk-<batchId>`: confirming a batch twice can never start two workflows. */
export function workflowIdForBulkAction(batchId: string): string {
  return `bulk-${batchId}`;
}

/**
 * Batches run on their own task queue, derived like the payments queue: a large batch never
 * queues in front of the order workflows' own tasks.
 */
export function bulkTaskQueue(orderTaskQueue: string): string {
  return `${orderTaskQueue}-bulk`;
}

/** A batch's controls (Updates, so the caller hears a refusal) and its progress query. */
export const BULK_UPDATES = {
  pause: 'pauseBulkAction',
  resume: 'resumeBulkAction',
  cancel: 'cancelBulkAction',
} as const;
export const BULK_QUERIES = { progress: 'bulkProgress' } as const;
