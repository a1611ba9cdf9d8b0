/**
 * One order, one durable workflow: mark processing → verify → charge → processed, or failed and
 * waiting for an operator's retry or cancel. Every status change goes to SQL (a local activity;
 * an activity in older histories) and to the `OrderStatus` search attribute. Money is taken if
 * and only if the order ends `processed`: a cancel that meets a payment in flight waits for the
 * truth and refunds what was taken.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
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
  statusRefusal,
  type OrderAction,
  type OrderActionAccepted,
  type OrderStatus,
  type OrderWorkflowInput,
  type OrderWorkflowResult,
  type OrderWorkflowState,
  type StatusChange,
} from '../domain/order';
import { orderStatusKey, paymentTaskQueue, QUERIES, SIGNALS, UPDATES } from '../domain/temporal';
import { boundText, TEXT_LIMITS } from '../domain/text';
import { paymentActivity, settlementActivity, shortActivity, shortLocalActivity } from './policies';

export interface CancelRequest {
  reason?: string;
}

/** Kept for operators who act from the Temporal CLI or Web UI: the same rules as the updates. */
export const cancelSignal = defineSignal<[CancelRequest?]>(SIGNALS.cancel);
export const retrySignal = defineSignal(SIGNALS.retry);
/** The API's door: the validator refuses with the workflow's own reason, race-free. */
export const cancelUpdate = defineUpdate<OrderActionAccepted, [CancelRequest]>(UPDATES.cancel);
export const retryUpdate = defineUpdate<OrderActionAccepted>(UPDATES.retry);
export const statusQuery = defineQuery<OrderWorkflowState>(QUERIES.status);

/**
 * Customer verification before payment was added after orders were already running: histories
 * recorded before it replay without it (patched() is false there), new runs verify.
 */
export const VERIFY_CUSTOMER_PATCH = 'verify-customer-before-payment';

/**
 * Settling payments and closing failed orders cleanly came later still. With it: a cancel is
 * followed by a refund of whatever was charged, an attempt of unknown outcome is looked up before
 * the order is called failed, and a failed order nobody acted on completes with status `failed`
 * instead of failing the workflow. Histories without the marker replay the old way, and a
 * workflow that was running when this shipped finishes the old way too.
 */
export const SETTLE_PAYMENTS_PATCH = 'settle-payments-and-close-failed-orders';

/**
 * Fewer server round trips per order, in one patch because every patch costs each new workflow a
 * marker and a `TemporalChangeVersion` search attribute upsert of its own:
 * - status writes and verification run as local activities, inside the workflow task, instead of
 *   as activity tasks of their own (the same writes and verdicts, recorded in markers, so a
 *   replay gives the same answers);
 * - the `OrderStatus` search attribute is upserted only when it changes: the start request
 *   already carries `processing` (clients/temporal.ts), so the first status costs no upsert.
 * Histories without the marker replay the old way, and a workflow that was running when this
 * shipped finishes the old way too.
 */
export const FEWER_ROUND_TRIPS_PATCH = 'local-status-writes-and-verification';

/** Before SETTLE_PAYMENTS_PATCH, the workflow closed with this failure type when it gave up. */
export const ORDER_FAILED = 'OrderFailed';

/** The type of the failure an update's validator refuses with; its message is the reason. */
export const ACTION_REFUSED = 'OrderActionRefused';

type PaymentOutcome =
  | { kind: 'charged'; paymentReference: string }
  | { kind: 'failed'; failure: PaymentFailure }
  | { kind: 'cancelled' };

interface PaymentFailure {
  reason: string;
  kind: PaymentFailureKind;
  attempts: number;
  /** The last attempt's outcome is unknown: the package may have charged. */
  ambiguous: boolean;
}

/** Human-readable reason of a failed payment round, its class, and how many attempts it made. */
function explainPaymentFailure(error: unknown, maxAttempts: number): PaymentFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const exhausted =
    error instanceof ActivityFailure && error.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as PaymentFailureDetails | undefined;
    const attempts = details?.attempt ?? 1;
    const ambiguous = details?.ambiguous === true;
    if (cause.type === FAILURE_TYPES.paymentRejected) {
      return { reason: cause.message, kind: 'rejected', attempts, ambiguous: false };
    }
    const gaveUp = exhausted || attempts >= maxAttempts;
    return {
      reason: gaveUp ? `gave up after ${attempts} attempts: ${cause.message}` : cause.message,
      kind: gaveUp ? 'retries_exhausted' : 'other',
      attempts,
      ambiguous,
    };
  }
  if (cause instanceof TimeoutFailure) {
    // A timed-out attempt reports no attempt number; the retry state says whether it was the last.
    const attempts = exhausted ? maxAttempts : 1;
    const timedOut = `payment attempt timed out (${cause.timeoutType})`;
    return {
      reason: exhausted ? `gave up after ${attempts} attempts: ${timedOut}` : timedOut,
      kind: exhausted && attempts > 1 ? 'retries_exhausted' : 'timeout',
      attempts,
      ambiguous: true,
    };
  }
  return {
    reason: cause instanceof Error ? cause.message : String(cause),
    kind: 'other',
    attempts: 1,
    ambiguous: true,
  };
}

function isStatusWriteRejected(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === FAILURE_TYPES.statusWriteRejected
  );
}

export async function processOrder(input: OrderWorkflowInput): Promise<OrderWorkflowResult> {
  const { orderId, settings, resume } = input;
  const { recordOrderStatus, verifyCustomer } = proxyActivities<OrderActivities>(shortActivity);
  const local = proxyLocalActivities<OrderActivities>(shortLocalActivity);
  const payments = paymentTaskQueue(workflowInfo().taskQueue);
  const { chargePayment } = proxyActivities<OrderActivities>({
    ...paymentActivity(settings.maxPaymentAttempts),
    taskQueue: payments,
  });
  const { lookupPayment, refundPayment } = proxyActivities<OrderActivities>({
    ...settlementActivity,
    taskQueue: payments,
  });

  const initial: OrderStatus = resume ? 'failed' : 'queued';
  const state: OrderWorkflowState = {
    orderId,
    status: initial,
    attempts: resume?.attempts ?? 0,
    lastFailure: null,
    paymentReference: null,
    cancelReason: null,
    refundReference: null,
    pendingAction: null,
    history: [{ status: initial, at: new Date().toISOString() }],
  };
  let version = resume?.fromVersion ?? 0;
  let cancelRequested = false;
  let retryRequested = false;
  // A resumed order was charged for before, in an earlier run: settle as if this run had tried.
  let paymentStarted = resume !== undefined;
  let payment: CancellationScope | null = null;

  /** Why `action` does not apply now, or null if it does: the one rule for signals and updates. */
  function refusal(action: OrderAction): string | null {
    if (cancelRequested) {
      return action === 'cancel'
        ? 'A cancel of this order is already under way'
        : 'The order is being cancelled';
    }
    if (action === 'retry' && retryRequested) return 'A retry of this order is already under way';
    return statusRefusal(action, state.status);
  }

  function accept(action: OrderAction, reason?: string): OrderActionAccepted {
    const status = state.status;
    state.pendingAction = action;
    if (action === 'cancel') {
      cancelRequested = true;
      state.cancelReason = boundText(reason?.trim() || null, TEXT_LIMITS.cancelReason);
      log.info('cancel accepted', { orderId, status, reason: state.cancelReason });
      payment?.cancel();
      return {
        orderId,
        action,
        status,
        message: paymentStarted
          ? 'Cancel accepted: the order ends cancelled, and anything charged is refunded'
          : 'Cancel accepted: the order ends cancelled and is never charged',
      };
    }
    retryRequested = true;
    log.info('retry accepted', { orderId });
    return { orderId, action, status, message: 'Retry accepted: the payment is tried again' };
  }

  function refuseOrThrow(action: OrderAction): void {
    const refused = refusal(action);
    if (refused) throw ApplicationFailure.create({ type: ACTION_REFUSED, message: refused });
  }

  setHandler(statusQuery, () => state);
  setHandler(cancelSignal, (request) => {
    const refused = refusal('cancel');
    if (refused) log.warn('cancel signal ignored', { orderId, status: state.status, refused });
    else accept('cancel', request?.reason);
  });
  setHandler(retrySignal, () => {
    const refused = refusal('retry');
    if (refused) log.warn('retry signal ignored', { orderId, status: state.status, refused });
    else accept('retry');
  });
  // The CLI and Web UI may send no input at all, hence `undefined` despite the declared type.
  setHandler(
    cancelUpdate,
    (request: CancelRequest | undefined) => accept('cancel', request?.reason),
    {
      validator: (_request: CancelRequest | undefined) => refuseOrThrow('cancel'),
      description: 'Cancel the order; refused with the reason when it no longer can be.',
    },
  );
  setHandler(retryUpdate, () => accept('retry'), {
    validator: () => refuseOrThrow('retry'),
    description: 'Charge a failed order again, under the same idempotency key.',
  });

  async function moveTo(
    status: OrderStatus,
    extra: Pick<
      StatusChange,
      'failureReason' | 'failureKind' | 'paymentReference' | 'cancelReason' | 'refundReference'
    > = {},
  ): Promise<void> {
    // A local activity writes before its workflow task is recorded. If that task is lost (a
    // worker dies, the task times out), its retry may take another path with the same count of
    // writes (a cancel arrived meanwhile). The history only grows, by at least three events per
    // lost task, so a version of at least the history's length stays above every write of a task
    // that was never recorded (at most two): such a write can be overtaken, never shadow this.
    version = fewerRoundTrips ? Math.max(version + 1, workflowInfo().historyLength) : version + 1;
    state.status = status;
    state.history.push({ status, at: new Date().toISOString() });
    const visible = workflowInfo().typedSearchAttributes.get(orderStatusKey);
    if (!fewerRoundTrips || visible !== status) {
      upsertSearchAttributes([{ key: orderStatusKey, value: status }]);
    }
    const record = fewerRoundTrips ? local.recordOrderStatus : recordOrderStatus;
    try {
      await record({ orderId, status, version, ...extra });
    } catch (error) {
      // Counted and alerted on by the activity; the order must still reach its final state.
      if (!isStatusWriteRejected(error)) throw error;
      log.error('status not recorded in SQL; the order carries on', { orderId, status, version });
    }
  }

  async function pay(): Promise<PaymentOutcome> {
    const scope = new CancellationScope();
    payment = scope;
    paymentStarted = true;
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
      cancelReason: state.cancelReason,
      refundReference: state.refundReference,
    };
  }

  /**
   * The end of every accepted cancel: whatever any attempt did at the package (charged, still
   * charging after we hung up, or nothing), the refund call answers definitively, and gives back
   * what was taken. Only then is the order `cancelled`.
   */
  async function finishCancelled(): Promise<OrderWorkflowResult> {
    if (paymentStarted) {
      const { refundReference } = await refundPayment({ orderId, reason: state.cancelReason });
      state.refundReference = refundReference;
    }
    state.pendingAction = null;
    await moveTo('cancelled', {
      failureReason: state.lastFailure,
      cancelReason: state.cancelReason,
      refundReference: state.refundReference,
      paymentReference: state.paymentReference,
    });
    return result('cancelled');
  }

  let verify = patched(VERIFY_CUSTOMER_PATCH) && resume === undefined;
  const settles = patched(SETTLE_PAYMENTS_PATCH);
  // Decided once, before the first command, so a replay takes the path the run took.
  const fewerRoundTrips = patched(FEWER_ROUND_TRIPS_PATCH);
  if (resume) accept(resume.action, resume.reason);
  for (;;) {
    if (!cancelRequested) await moveTo('processing');
    if (settles) retryRequested = false;
    if (!cancelRequested) state.pendingAction = null;
    if (verify && !cancelRequested) {
      // Once per order: an operator's retry charges again but does not verify again.
      verify = false;
      const verdict = await (fewerRoundTrips ? local.verifyCustomer : verifyCustomer)({ orderId });
      if (!verdict.approved) {
        state.lastFailure = verdict.reason;
        await moveTo('rejected', { failureReason: verdict.reason });
        return result('rejected');
      }
    }
    let outcome: PaymentOutcome = cancelRequested ? { kind: 'cancelled' } : await pay();

    if (settles) {
      if (outcome.kind === 'charged') state.paymentReference = outcome.paymentReference;
      if (cancelRequested) return finishCancelled();
      if (outcome.kind === 'failed' && outcome.failure.ambiguous) {
        // The package may have charged on an attempt whose answer was lost: ask it before
        // telling anyone the order failed.
        const found = await lookupPayment({ orderId });
        if (found.charged && found.paymentReference) {
          state.paymentReference = found.paymentReference;
          outcome = { kind: 'charged', paymentReference: found.paymentReference };
        }
        if (cancelRequested) return finishCancelled();
      }
    }

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

    const { kind } = outcome.failure;
    const reason = boundText(outcome.failure.reason, TEXT_LIMITS.failureReason);
    state.lastFailure = reason;
    // "Error processing order": logged once, here, where the failure is handled.
    log.error('Error processing order', { orderId, reason, kind, attempts: state.attempts });
    await moveTo('failed', { failureReason: reason, failureKind: kind });
    // The order waits (a durable timer) for an operator; orders behind it are unaffected, each
    // has its own workflow.
    const decided = await condition(
      () => retryRequested || cancelRequested,
      settings.failedOrderWaitMs,
    );
    if (!decided) {
      if (settles) {
        // A business outcome, not a workflow failure: the order stays `failed` in SQL and
        // visibility, and an operator's retry or cancel later starts a new run (clients/order-actions.ts).
        log.warn('failed order closed: nobody acted within the wait', { orderId });
        return result('failed');
      }
      throw ApplicationFailure.create({ type: ORDER_FAILED, message: reason, nonRetryable: true });
    }
    if (cancelRequested) {
      if (settles) return finishCancelled();
      await moveTo('cancelled', { failureReason: reason });
      return result('cancelled');
    }
    retryRequested = false;
  }
}
