/** Stored orders and workflow facts as the API shows them. */
import type { OrderWorkflowFacts } from '../clients/temporal';
import type { StoredOrder } from '../db/orders';
import { workflowIdForOrder } from '../domain/temporal';
import type { OrderResponse, WorkflowFactsResponse } from './schemas';

export function presentOrder(order: StoredOrder): OrderResponse {
  return {
    id: order.id,
    customerId: order.customerId,
    product: order.product,
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    amount: order.amount,
    currency: order.currency,
    datePlaced: order.datePlaced,
    status: order.status,
    failureReason: order.failureReason,
    failureKind: order.failureKind,
    attempts: order.attempts,
    paymentReference: order.paymentReference,
    cancelReason: order.cancelReason,
    refundReference: order.refundReference,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    processedAt: order.processedAt,
    workflowId: workflowIdForOrder(order.id),
    workflowStartedAt: order.workflowStartedAt,
  };
}

export function presentWorkflow(facts: OrderWorkflowFacts): WorkflowFactsResponse {
  const { state, payment } = facts;
  return {
    workflowId: facts.workflowId,
    runId: facts.runId,
    executionStatus: facts.executionStatus,
    startTime: facts.startTime.toISOString(),
    closeTime: facts.closeTime?.toISOString() ?? null,
    historyLength: facts.historyLength,
    workflowStatus: state?.status ?? null,
    history: state?.history ?? null,
    pendingAction: state?.pendingAction ?? null,
    payment: payment && {
      attempt: payment.attempt,
      state: payment.state,
      lastFailure: payment.lastFailure,
      nextRetryAt: payment.nextRetryAt?.toISOString() ?? null,
    },
    lastFailure: payment?.lastFailure ?? state?.lastFailure ?? null,
  };
}
