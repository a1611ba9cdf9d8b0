/**
 * One order, one durable workflow: mark processing → charge → processed, or failed and waiting
 * for an operator's retry or cancel. Every status change goes to SQL (an activity) and to the
 * `OrderStatus` search attribute.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/orders';
import {
  FAILURE_TYPES,
  type PaymentFailureDetails,
  type PaymentFailureKind,
} from '../domain/errors';
import {
  canCancel,
  canRetry,
  type OrderStatus,
  type OrderWorkflowInput,
  type OrderWorkflowResult,
  type OrderWorkflowState,
  type StatusChange,
} from '../domain/order';
import { orderStatusKey, paymentTaskQueue, QUERIES, SIGNALS } from '../domain/temporal';
import { paymentActivity, shortActivity } from './policies';

export interface CancelRequest {
  reason?: string;
}

export const cancelSignal = defineSignal<[CancelRequest?]>(SIGNALS.cancel);
export const retrySignal = defineSignal(SIGNALS.retry);
export const statusQuery = defineQuery<OrderWorkflowState>(QUERIES.status);

/**
 * Customer verification before payment was added after orders were already running: histories
 * recorded before it replay without it (patched() is false there), new runs verify.
 */
export const VERIFY_CUSTOMER_PATCH = 'verify-customer-before-payment';

/** The workflow closes with this failure type when an order ends failed (visible in the UI). */
export const ORDER_FAILED = 'OrderFailed';

type PaymentOutcome =
  | { kind: 'charged'; paymentReference: string }
  | { kind: 'failed'; failure: PaymentFailure }
  | { kind: 'cancelled' };

interface PaymentFailure {
  reason: string;
  kind: PaymentFailureKind;
  attempts: number;
}

/** Human-readable reason of a failed payment round, its class, and how many attempts it made. */
function explainPaymentFailure(error: unknown, maxAttempts: number): PaymentFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as PaymentFailureDetails | undefined;
    const attempts = details?.attempt ?? 1;
    if (cause.type === FAILURE_TYPES.paymentRejected) {
      return { reason: cause.message, kind: 'rejected', attempts };
    }
    const exhausted = attempts >= maxAttempts;
    return {
      reason: exhausted ? `gave up after ${attempts} attempts: ${cause.message}` : cause.message,
      kind: exhausted ? 'retries_exhausted' : 'other',
      attempts,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return {
      reason: `payment attempt timed out (${cause.timeoutType})`,
      kind: 'timeout',
      attempts: 1,
    };
  }
  return {
    reason: cause instanceof Error ? cause.message : String(cause),
    kind: 'other',
    attempts: 1,
  };
}

export async function processOrder(input: OrderWorkflowInput): Promise<OrderWorkflowResult> {
  const { orderId, settings } = input;
  const { recordOrderStatus, verifyCustomer } = proxyActivities<OrderActivities>(shortActivity);
  const { chargePayment } = proxyActivities<OrderActivities>({
    ...paymentActivity(settings.maxPaymentAttempts),
    taskQueue: paymentTaskQueue(workflowInfo().taskQueue),
  });

  const state: OrderWorkflowState = {
    orderId,
    status: 'queued',
    attempts: 0,
    lastFailure: null,
    paymentReference: null,
    history: [{ status: 'queued', at: new Date().toISOString() }],
  };
  let version = 0;
  let cancelRequested = false;
  let retryRequested = false;
  let payment: CancellationScope | null = null;

  setHandler(statusQuery, () => state);

  setHandler(cancelSignal, (request) => {
    if (!canCancel(state.status) || cancelRequested) {
      log.warn('cancel ignored: the order is past it', { orderId, status: state.status });
      return;
    }
    log.info('cancel requested', { orderId, status: state.status, reason: request?.reason });
    cancelRequested = true;
    payment?.cancel();
  });

  setHandler(retrySignal, () => {
    if (!canRetry(state.status) || cancelRequested) {
      log.warn('retry ignored: only a failed order can be retried', {
        orderId,
        status: state.status,
      });
      return;
    }
    log.info('retry requested', { orderId });
    retryRequested = true;
  });

  async function moveTo(
    status: OrderStatus,
    extra: Pick<StatusChange, 'failureReason' | 'failureKind' | 'paymentReference'> = {},
  ): Promise<void> {
    version += 1;
    state.status = status;
    state.history.push({ status, at: new Date().toISOString() });
    upsertSearchAttributes([{ key: orderStatusKey, value: status }]);
    await recordOrderStatus({ orderId, status, version, ...extra });
  }

  async function pay(): Promise<PaymentOutcome> {
    const scope = new CancellationScope();
    payment = scope;
    try {
      const result = await scope.run(() =>
        chargePayment({
          orderId,
          amount: input.amount,
          currency: input.currency,
          datePlaced: input.datePlaced,
        }),
      );
      state.attempts += result.attempt;
      return { kind: 'charged', paymentReference: result.paymentReference };
    } catch (error) {
      if (isCancellation(error)) return { kind: 'cancelled' };
      const failure = explainPaymentFailure(error, settings.maxPaymentAttempts);
      state.attempts += failure.attempts;
      return { kind: 'failed', failure };
    } finally {
      payment = null;
    }
  }

  function result(status: OrderWorkflowResult['status']): OrderWorkflowResult {
    return {
      orderId,
      status,
      paymentReference: state.paymentReference,
      failureReason: state.lastFailure,
      attempts: state.attempts,
    };
  }

  let verify = patched(VERIFY_CUSTOMER_PATCH);
  for (;;) {
    if (!cancelRequested) await moveTo('processing');
    if (verify && !cancelRequested) {
      // Once per order: an operator's retry charges again but does not verify again.
      verify = false;
      const verdict = await verifyCustomer({ orderId });
      if (!verdict.approved) {
        state.lastFailure = verdict.reason;
        await moveTo('rejected', { failureReason: verdict.reason });
        return result('rejected');
      }
    }
    const outcome: PaymentOutcome = cancelRequested ? { kind: 'cancelled' } : await pay();

    if (outcome.kind === 'charged') {
      if (cancelRequested) log.warn('cancel arrived after the payment went through', { orderId });
      state.paymentReference = outcome.paymentReference;
      state.lastFailure = null;
      await moveTo('processed', { paymentReference: outcome.paymentReference });
      return result('processed');
    }
    if (outcome.kind === 'cancelled') {
      await moveTo('cancelled', { failureReason: state.lastFailure });
      return result('cancelled');
    }

    const { reason, kind } = outcome.failure;
    state.lastFailure = reason;
    // The seed's "Error processing order {id}": logged once, here, where the failure is handled.
    log.error('Error processing order', { orderId, reason, kind, attempts: state.attempts });
    await moveTo('failed', { failureReason: reason, failureKind: kind });
    // The order waits (a durable timer) for an operator; orders behind it are unaffected, each
    // has its own workflow.
    const decided = await condition(
      () => retryRequested || cancelRequested,
      settings.failedOrderWaitMs,
    );
    if (!decided) {
      throw ApplicationFailure.create({ type: ORDER_FAILED, message: reason, nonRetryable: true });
    }
    if (cancelRequested) {
      await moveTo('cancelled', { failureReason: reason });
      return result('cancelled');
    }
    retryRequested = false;
  }
}
