/**
 * The client side of the order workflow: how an order's workflow is started, with its id, task
 * queue, initial search attribute and the summary that makes the Temporal UI list readable.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  isGrpcDeadlineError,
  type ClientPlugin,
  type DataConverter,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import type { OrderActivities } from '../activities/orders';
import type { Config } from '../domain/config';
import { temporalConnectionOptions, type TemporalConnectionConfig } from './temporal-connection';
import type {
  Order,
  OrderAction,
  OrderActionAccepted,
  OrderStatus,
  OrderWorkflowInput,
  OrderWorkflowSettings,
  OrderWorkflowState,
} from '../domain/order';
import { ORDER_STATUSES } from '../domain/order';
import { temporal } from '@temporalio/proto';
import {
  ORDER_STATUS_SEARCH_ATTRIBUTE,
  ORDER_WORKFLOW_TYPE,
  orderStatusKey,
  QUERIES,
  SEARCH_ATTRIBUTES,
  UPDATES,
  workflowIdForOrder,
} from '../domain/temporal';

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

function workflowInput(order: Order, settings: OrderWorkflowSettings): OrderWorkflowInput {
  return {
    orderId: order.id,
    customerId: order.customerId,
    amount: order.amount,
    currency: order.currency,
    datePlaced: order.datePlaced,
    settings,
  };
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
  const input = workflowInput(order, options.settings);
  try {
    await client.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      // The workflow's first step: carried by the start so the workflow need not upsert it (one
      // visibility write fewer per order). SQL says `queued` until the workflow records it.
      typedSearchAttributes: [{ key: orderStatusKey, value: 'processing' }],
      // One run per order, ever: a start after the workflow closed must not charge it again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
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

/**
 * A client that connects on first use and reconnects by itself: a process holding it can start
 * while Temporal is down, and its calls fail (UNAVAILABLE) until Temporal is back.
 */
export function lazyTemporalClient(
  config: TemporalConnectionConfig & Pick<Config, 'TEMPORAL_NAMESPACE'>,
  options: { plugins?: ClientPlugin[]; dataConverter?: DataConverter } = {},
): Client {
  const connection = Connection.lazy(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, ...options });
}

/** Typed against the activities, so a rename there breaks the build instead of this lookup. */
const PAYMENT_ACTIVITY: keyof OrderActivities = 'chargePayment';

export interface PendingPayment {
  /** Attempt number of the current round: 2 while the second attempt runs or is scheduled. */
  attempt: number;
  state: string;
  lastFailure: string | null;
  /** When the next attempt starts, while the activity is backing off. */
  nextRetryAt: Date | null;
}

export interface OrderWorkflowFacts {
  workflowId: string;
  runId: string;
  executionStatus: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime: Date | null;
  historyLength: number;
  /** The workflow's own state (status query); null when closed or when no worker answered. */
  state: OrderWorkflowState | null;
  payment: PendingPayment | null;
}

const PENDING_STATE_PREFIX = 'PENDING_ACTIVITY_STATE_';

async function pendingPayment(
  client: Client,
  description: WorkflowExecutionDescription,
): Promise<PendingPayment | null> {
  const pending = description.raw.pendingActivities?.find(
    (activity) => activity.activityType?.name === PAYMENT_ACTIVITY,
  );
  if (!pending) return null;
  const state = temporal.api.enums.v1.PendingActivityState[pending.state ?? 0] ?? 'UNKNOWN';
  // The raw description carries the failure as stored: its message encrypted.
  const lastFailure = await decodeOptionalFailureToOptionalError(
    client.options.loadedDataConverter,
    pending.lastFailure,
  );
  return {
    attempt: pending.attempt ?? 1,
    state: state.replace(PENDING_STATE_PREFIX, ''),
    lastFailure: lastFailure?.message ?? null,
    nextRetryAt: optionalTsToDate(pending.nextAttemptScheduleTime) ?? null,
  };
}

/**
 * What Temporal knows about an order's workflow: execution status, the pending payment attempt
 * (attempt number, last failure, next retry time while backing off), and the workflow's own
 * state. The query needs a worker; if none answers within `timeoutMs` the rest is still returned.
 * Throws WorkflowNotFoundError when the workflow does not exist (yet).
 */
export async function describeOrderWorkflow(
  client: Client,
  orderId: string,
  { timeoutMs }: { timeoutMs: number },
): Promise<OrderWorkflowFacts> {
  const handle = client.workflow.getHandle(workflowIdForOrder(orderId));
  const description = await client.withDeadline(Date.now() + timeoutMs, () => handle.describe());
  const running = description.status.name === 'RUNNING';
  let state: OrderWorkflowState | null = null;
  if (running) {
    state = await client
      .withDeadline(Date.now() + timeoutMs, () => handle.query<OrderWorkflowState>(QUERIES.status))
      .catch((error: unknown) => {
        if (isGrpcDeadlineError(error)) return null;
        throw error;
      });
  }
  return {
    workflowId: description.workflowId,
    runId: description.runId,
    executionStatus: description.status.name,
    startTime: description.startTime,
    closeTime: description.closeTime ?? null,
    historyLength: description.historyLength,
    state,
    payment: await pendingPayment(client, description),
  };
}

/**
 * Asks the order's workflow to cancel (with an optional reason) or retry, through its Update:
 * resolves with the workflow's acceptance, or rejects with `WorkflowUpdateFailedError` (refused,
 * the workflow's reason in `cause.message`), `WorkflowNotFoundError` (no such workflow, or it has
 * closed) or `WorkflowUpdateRPCTimeoutOrCancelledError` (no worker answered in time).
 */
export async function updateOrderWorkflow(
  client: Client,
  orderId: string,
  action: OrderAction,
  options: { reason?: string; timeoutMs: number; updateId?: string },
): Promise<OrderActionAccepted> {
  const handle = client.workflow.getHandle(workflowIdForOrder(orderId));
  const id = options.updateId ? { updateId: options.updateId } : {};
  return client.withDeadline(Date.now() + options.timeoutMs, () =>
    action === 'cancel'
      ? handle.executeUpdate<OrderActionAccepted, [{ reason?: string }]>(UPDATES.cancel, {
          args: [options.reason ? { reason: options.reason } : {}],
          ...id,
        })
      : handle.executeUpdate<OrderActionAccepted, []>(UPDATES.retry, id),
  );
}

/**
 * Starts a new run for an order whose workflow closed while the order was `failed`, carrying the
 * operator's action. The id stays `order-<id>`; only this start may reuse it, and only once the
 * previous run is closed (a running one makes it fail with WorkflowExecutionAlreadyStartedError).
 */
export async function resumeOrderWorkflow(
  client: Client,
  options: { taskQueue: string; settings: OrderWorkflowSettings; timeoutMs: number },
  order: Order & { statusVersion: number },
  action: OrderAction,
  reason?: string,
): Promise<void> {
  const input: OrderWorkflowInput = {
    ...workflowInput(order, options.settings),
    resume: {
      action,
      ...(reason ? { reason } : {}),
      fromVersion: order.statusVersion,
      attempts: order.attempts,
    },
  };
  await client.withDeadline(Date.now() + options.timeoutMs, () =>
    client.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId: workflowIdForOrder(order.id),
      taskQueue: options.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: orderStatusKey, value: order.status }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: orderSummary(order),
    }),
  );
}

/**
 * Orders per status as Temporal visibility sees them (the `OrderStatus` search attribute), for
 * the order workflows of one task queue. One count per status: the dev server's SQL visibility
 * can only GROUP BY ExecutionStatus.
 */
export async function countOrderWorkflowsByStatus(
  client: Client,
  taskQueue: string,
  { timeoutMs }: { timeoutMs: number },
): Promise<Record<OrderStatus, number>> {
  const scope = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND TaskQueue = '${taskQueue.replace(/'/g, "\\'")}'`;
  const counts = await client.withDeadline(Date.now() + timeoutMs, () =>
    Promise.all(
      ORDER_STATUSES.map((status) =>
        client.workflow.count(`${scope} AND ${ORDER_STATUS_SEARCH_ATTRIBUTE} = '${status}'`),
      ),
    ),
  );
  return Object.fromEntries(
    ORDER_STATUSES.map((status, index) => [status, counts[index]?.count ?? 0]),
  ) as Record<OrderStatus, number>;
}
