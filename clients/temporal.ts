/**
 * The client side of the order workflow: how an order's workflow is started, with its id, task
 * queue, initial search attribute and the summary that makes the Temporal UI list readable.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../domain/config';
import type { Order, OrderWorkflowInput, OrderWorkflowSettings } from '../domain/order';
import { temporal } from '@temporalio/proto';
import {
  ORDER_WORKFLOW_TYPE,
  orderStatusKey,
  SEARCH_ATTRIBUTES,
  workflowIdForOrder,
} from '../domain/temporal';

export async function connectTemporal(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

export function orderWorkflowSettings(config: Config): OrderWorkflowSettings {
  return {
    maxPaymentAttempts: config.PAYMENT_MAX_ATTEMPTS,
    failedOrderWaitMs: config.FAILED_ORDER_WAIT,
  };
}

/** One line for the Temporal UI's list: who, how much, what. */
export function orderSummary(order: Order): string {
  return `${order.customerId}: ${order.amount} ${order.currency} for ${order.quantity} × ${order.product}`;
}

export interface StartedOrder {
  workflowId: string;
  /** False when the workflow already existed: starting an order twice is harmless. */
  started: boolean;
}

export async function startOrderWorkflow(
  client: Client,
  options: { taskQueue: string; settings: OrderWorkflowSettings },
  order: Order,
): Promise<StartedOrder> {
  const workflowId = workflowIdForOrder(order.id);
  const input: OrderWorkflowInput = {
    orderId: order.id,
    customerId: order.customerId,
    amount: order.amount,
    currency: order.currency,
    datePlaced: order.datePlaced,
    settings: options.settings,
  };
  try {
    await client.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: orderStatusKey, value: 'queued' }],
      staticSummary: orderSummary(order),
    });
    return { workflowId, started: true };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      return { workflowId, started: false };
    throw error;
  }
}

const INDEXED_VALUE_TYPES = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
} as const;

type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** The named search attributes with their server-side types, as AddSearchAttributes wants them. */
export function searchAttributeDefinitions(
  names = Object.keys(SEARCH_ATTRIBUTES) as SearchAttributeName[],
): Record<string, temporal.api.enums.v1.IndexedValueType> {
  return Object.fromEntries(
    names.map((name) => [name, INDEXED_VALUE_TYPES[SEARCH_ATTRIBUTES[name]]]),
  );
}

/**
 * Registers the workflows' search attributes when missing. The dev server's `--search-attribute`
 * flag only applies when its database is created, so an existing database needs this.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = new Set(Object.keys(customAttributes ?? {}));
  const missing = (Object.keys(SEARCH_ATTRIBUTES) as SearchAttributeName[]).filter(
    (name) => !existing.has(name),
  );
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: searchAttributeDefinitions(missing),
    });
  }
  return missing;
}
