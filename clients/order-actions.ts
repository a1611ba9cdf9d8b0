/**
 * The one way an operator's cancel or retry reaches an order, whether it comes from
 * `POST /api/orders/:id/<action>` or from a bulk action's activity: the workflow's Update decides,
 * and only when the workflow has closed does the SQL status speak (a `failed` order then gets a
 * new run carrying the action). A bulk action therefore can never do what a single one could not.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { OrderRepository, StoredOrder } from '../db/orders';
import {
  statusRefusal,
  type OrderAction,
  type OrderActionAccepted,
  type OrderStatus,
  type OrderWorkflowSettings,
} from '../domain/order';
import { resumeOrderWorkflow, updateOrderWorkflow } from './temporal';

/** What applying an action needs: the same whether the API or a worker applies it. */
export interface OrderActionDeps {
  temporal: Client;
  orders: Pick<OrderRepository, 'get'>;
  taskQueue: string;
  settings: OrderWorkflowSettings;
  timeoutMs: number;
}

/**
 * Why an action was not applied. `refused`: the workflow (or, for a closed one, the status rule)
 * said no, with its reason; asking again gives the same answer. `not_started`: the workflow does
 * not exist yet. `temporal_unavailable` / `workflow_unresponsive`: nothing was decided; the
 * action may be tried again.
 */
export type OrderActionFailureKind =
  'refused' | 'not_started' | 'temporal_unavailable' | 'workflow_unresponsive';

/** An action that was not applied, with the kind that says whether trying again can help. */
export class OrderActionFailure extends Error {
  constructor(
    readonly kind: OrderActionFailureKind,
    readonly action: OrderAction,
    message: string,
  ) {
    super(message);
    this.name = 'OrderActionFailure';
  }
}

/**
 * For an order whose workflow has closed, the same rules the workflow applies, on the SQL status
 * it left: only a `failed` order can still be retried or cancelled.
 */
function closedOrderRefusal(action: OrderAction, status: OrderStatus): string | null {
  const refused = statusRefusal(action, status);
  if (refused || status === 'failed') return refused;
  return `The order's workflow is closed while the order is ${status}; nothing can be done to it`;
}

async function temporalReachable(temporal: Client, timeoutMs: number): Promise<boolean> {
  try {
    await temporal.withDeadline(Date.now() + timeoutMs, () =>
      temporal.workflowService.getSystemInfo({}),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * Applies `action` to `order`, or throws `OrderActionFailure`. `updateId` makes a repeated call
 * (an activity retried after a lost answer) get the first call's answer instead of a second
 * refusal: Temporal keeps one outcome per Update id per run.
 */
export async function applyOrderAction(
  deps: OrderActionDeps,
  action: OrderAction,
  order: StoredOrder,
  options: { reason?: string | undefined; updateId?: string } = {},
): Promise<{ accepted: OrderActionAccepted; resumed: boolean }> {
  const { temporal, timeoutMs } = deps;
  const { reason } = options;
  try {
    const accepted = await updateOrderWorkflow(temporal, order.id, action, {
      ...(reason ? { reason } : {}),
      ...(options.updateId ? { updateId: options.updateId } : {}),
      timeoutMs,
    });
    return { accepted, resumed: false };
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const why = error.cause instanceof Error ? error.cause.message : 'The workflow refused';
      throw new OrderActionFailure('refused', action, why);
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      // The same error whether Temporal itself is unreachable or no worker took the update.
      if (!(await temporalReachable(temporal, timeoutMs))) {
        throw new OrderActionFailure('temporal_unavailable', action, 'Temporal is unavailable');
      }
      throw new OrderActionFailure(
        'workflow_unresponsive',
        action,
        `The order's workflow did not answer within ${timeoutMs} ms (no worker?); the ${action} ` +
          'may still be applied when one does: check the order before trying again',
      );
    }
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  // No running workflow: not started yet, or closed.
  const current = (await deps.orders.get(order.id)) ?? order;
  if (!current.workflowStartedAt) {
    throw new OrderActionFailure(
      'not_started',
      action,
      "The order's workflow has not been started yet; the launcher will start it shortly: try again in a moment",
    );
  }
  const ruleBroken = closedOrderRefusal(action, current.status);
  if (ruleBroken) throw new OrderActionFailure('refused', action, ruleBroken);
  try {
    await resumeOrderWorkflow(
      temporal,
      { taskQueue: deps.taskQueue, settings: deps.settings, timeoutMs },
      current,
      action,
      reason,
    );
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    throw new OrderActionFailure(
      'refused',
      action,
      `Another ${action === 'cancel' ? 'cancel or retry' : 'retry or cancel'} of this order started its workflow again just now`,
    );
  }
  return {
    accepted: {
      orderId: current.id,
      action,
      status: current.status,
      message:
        action === 'cancel'
          ? "Cancel accepted: the order's workflow had closed, a new run refunds anything charged and ends it cancelled"
          : "Retry accepted: the order's workflow had closed, a new run charges it again under the same idempotency key",
    },
    resumed: true,
  };
}
