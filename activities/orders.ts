/**
 * The order workflow's side effects: status writes to SQL, customer verification and the payment
 * call. Built by a factory
 * so the worker and the tests hand in real dependencies of their choosing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { FinanceClient, PaymentOutcome } from '../clients/finance';
import { isPermanentWriteError } from '../db/errors';
import type { OrderRepository, StatusWrite } from '../db/orders';
import { FAILURE_TYPES, type PaymentFailureDetails } from '../domain/errors';
import type { FeatureName } from '../domain/features';
import type { PaymentReceipt } from '../domain/finance';
import { PAYMENT_START_TO_CLOSE_MS } from '../domain/temporal';
import { boundText, TEXT_LIMITS } from '../domain/text';
import type { StatusChange } from '../domain/order';
import {
  DEFAULT_VERIFICATION_POLICY,
  verifyCustomer,
  type Verdict,
  type VerificationPolicy,
} from '../domain/verification';
import { formatInZone } from '../domain/time';
import type { Logger } from '../observability/logger';
import { createWorkerMetrics, type WorkerMetrics } from '../observability/metrics';

export interface OrderActivityDeps {
  orders: OrderRepository;
  finance: FinanceClient;
  log: Logger;
  /** The finance package wants the order date in this zone's local time. */
  financeTimeZone: string;
  /** Feature toggles, read through a short cache (FeatureToggleService). */
  features: { isEnabled(name: FeatureName): Promise<boolean> };
  verificationPolicy?: VerificationPolicy;
  /** Where the counters go; a private registry when the caller does not scrape them. */
  metrics?: WorkerMetrics;
}

/** The velocity rule looks at the customer's orders in this window up to the order. */
const VELOCITY_WINDOW_MS = 60_000;

export interface ChargeInput {
  orderId: string;
  amount: string;
  currency: string;
  /** ISO instant in UTC, as stored. */
  datePlaced: string;
}

export interface ChargeResult {
  paymentReference: string;
  /** Which attempt of this round succeeded (1 = first try). */
  attempt: number;
}

/** One key per order, the same on every attempt and every operator retry: charged at most once. */
export function paymentIdempotencyKey(orderId: string): string {
  return `order-${orderId}-payment`;
}

/** One refund key per order: a cancelled order is refunded at most once, however often asked. */
export function refundIdempotencyKey(orderId: string): string {
  return `order-${orderId}-refund`;
}

/** What `lookupPayment` found under the order's payment key. */
export interface PaymentLookup {
  charged: boolean;
  paymentReference: string | null;
}

export interface RefundInput {
  orderId: string;
  /** The operator's cancel reason, passed on to the finance package. */
  reason?: string | null;
}

export interface RefundResult {
  /** Null when nothing had been charged, so nothing was refunded. */
  refundReference: string | null;
}

/**
 * How long one payment attempt keeps asking about a request of unknown outcome. Well inside the
 * start-to-close timeout, after the HTTP timeout has already been spent.
 */
const SETTLE_WITHIN_MS = PAYMENT_START_TO_CLOSE_MS / 3;

/** How long an attempt waits, at its end, for its attempt counter to be written. */
const COUNT_WAIT_MS = 2_000;

/** While the payment call is in flight, heartbeat so cancellation and a lost worker are noticed. */
const HEARTBEAT_EVERY_MS = 1000;

function activityFields(): Record<string, unknown> {
  const { info } = Context.current();
  return {
    workflowId: info.workflowExecution?.workflowId,
    runId: info.workflowExecution?.runId,
    activity: info.activityType,
    attempt: info.attempt,
  };
}

/** Counts an order's final outcome once: only a write that changed the row counts. */
function countOutcome(metrics: WorkerMetrics, change: StatusChange): void {
  if (change.status === 'processed') metrics.ordersProcessed.inc();
  if (change.status === 'cancelled') metrics.ordersCancelled.inc();
  if (change.status === 'failed')
    metrics.ordersFailed.inc({ reason: change.failureKind ?? 'other' });
}

export function createOrderActivities({
  orders,
  finance,
  log,
  financeTimeZone,
  features,
  verificationPolicy = DEFAULT_VERIFICATION_POLICY,
  metrics = createWorkerMetrics(),
}: OrderActivityDeps) {
  return {
    /**
     * Verifies the customer before payment. The toggle is read here, not in the workflow, and
     * the verdict (with the toggle's value) is the activity's result in the workflow history, so
     * a replay gives the same answer after the toggle flips.
     */
    verifyCustomer: async ({ orderId }: { orderId: string }): Promise<Verdict> => {
      const timer = metrics.verificationDuration.startTimer();
      const order = await orders.get(orderId);
      if (!order) {
        throw ApplicationFailure.nonRetryable(
          `order ${orderId} has no row in the database`,
          'OrderNotFound',
        );
      }
      const placedAt = new Date(order.createdAt);
      const [newVerification, ordersInLastMinute] = await Promise.all([
        features.isEnabled('NEW_VERIFICATION'),
        orders.countByCustomerBetween(
          order.customerId,
          new Date(placedAt.getTime() - VELOCITY_WINDOW_MS),
          placedAt,
        ),
      ]);
      const verdict = verifyCustomer(
        {
          customerId: order.customerId,
          amount: order.amount,
          currency: order.currency,
          ordersInLastMinute,
        },
        verificationPolicy,
        { newVerification },
      );
      timer({ outcome: verdict.approved ? 'approved' : 'rejected' });
      if (!verdict.approved) {
        // Counted when decided; a rare re-run of this activity may count a rejection twice.
        metrics.ordersRejected.inc({ rule: verdict.rule });
      }
      log.info('customer verified', {
        orderId,
        ...verdict,
        ordersInLastMinute,
        ...activityFields(),
      });
      return verdict;
    },

    recordOrderStatus: async (change: StatusChange): Promise<void> => {
      let outcome: StatusWrite;
      try {
        outcome = await orders.applyStatus(change);
      } catch (error) {
        if (!isPermanentWriteError(error)) throw error;
        // Retrying a write the database refuses would keep the order in its old status forever,
        // silently: count it (an alert watches this), log it with the order, and let the
        // workflow carry on. The workflow's own state and visibility still have the truth.
        metrics.statusWriteFailures.inc({ status: change.status });
        const reason = error instanceof Error ? error.message : String(error);
        log.error('order status write refused by the database', {
          orderId: change.orderId,
          status: change.status,
          version: change.version,
          reason: boundText(reason, TEXT_LIMITS.failureReason),
          ...activityFields(),
        });
        throw ApplicationFailure.create({
          type: FAILURE_TYPES.statusWriteRejected,
          message: `the database refused the ${change.status} status: ${boundText(reason, 300)}`,
          nonRetryable: true,
        });
      }
      if (outcome === 'missing') {
        // The row is written before the workflow starts; if it is gone, retrying cannot bring it
        // back, and the workflow should fail loudly instead of writing into the void.
        throw ApplicationFailure.nonRetryable(
          `order ${change.orderId} has no row in the database`,
          'OrderNotFound',
        );
      }
      if (outcome === 'applied') countOutcome(metrics, change);
      log.info('order status recorded', {
        orderId: change.orderId,
        status: change.status,
        version: change.version,
        outcome,
        ...activityFields(),
      });
    },

    chargePayment: async (input: ChargeInput): Promise<ChargeResult> => {
      const context = Context.current();
      // First: a slow database or a slow first request must not let the heartbeat timeout
      // expire and spend a payment attempt on something that is not the payment.
      const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      // The attempt counter is for people: it runs beside the call, and the attempt waits for it
      // only briefly at the end, so a slow or failing database neither delays nor fails a payment.
      const counted = countAttempt(input.orderId);
      try {
        return await charge(context, input);
      } finally {
        await Promise.race([counted, sleep(COUNT_WAIT_MS, undefined, { ref: false })]);
        clearInterval(heartbeat);
      }
    },

    /**
     * Whether money was taken under the order's payment key: after a payment round ended with an
     * attempt whose outcome is unknown, before the order may be called failed. Retried (with the
     * payment preset's backoff) while the package is unreachable or still working on the key.
     */
    lookupPayment: async ({ orderId }: { orderId: string }): Promise<PaymentLookup> => {
      const context = Context.current();
      const found = await finance.lookup(
        paymentIdempotencyKey(orderId),
        context.cancellationSignal,
      );
      switch (found.kind) {
        case 'charged':
          log.info('payment looked up: charged', {
            orderId,
            paymentReference: found.receipt.paymentReference,
            ...activityFields(),
          });
          return { charged: true, paymentReference: found.receipt.paymentReference };
        case 'not_found':
          log.info('payment looked up: nothing charged', { orderId, ...activityFields() });
          return { charged: false, paymentReference: null };
        case 'pending':
          throw pendingFailure(found.retryAfterMs);
        case 'unavailable':
          throw unavailableFailure(`finance unavailable for the lookup: ${found.reason}`, found);
      }
    },

    /**
     * Gives back whatever was taken under the order's payment key, once: the compensation of a
     * cancel that arrived while a payment was in flight or after an attempt of unknown outcome.
     * The package answers definitively (refunded, or nothing was charged); while it is still
     * working on the payment, or unreachable, the activity is retried.
     */
    refundPayment: async ({ orderId, reason }: RefundInput): Promise<RefundResult> => {
      const context = Context.current();
      const answer = await finance.refund(
        {
          idempotencyKey: refundIdempotencyKey(orderId),
          paymentKey: paymentIdempotencyKey(orderId),
          ...(reason ? { reason: boundText(reason, TEXT_LIMITS.cancelReason) } : {}),
        },
        context.cancellationSignal,
      );
      switch (answer.kind) {
        case 'refunded':
          metrics.refunds.inc();
          log.info('payment refunded', {
            orderId,
            refundReference: answer.refund.refundReference,
            paymentReference: answer.refund.paymentReference,
            ...activityFields(),
          });
          return { refundReference: answer.refund.refundReference };
        case 'not_charged':
          log.info('nothing to refund: no charge under the payment key', {
            orderId,
            ...activityFields(),
          });
          return { refundReference: null };
        case 'pending':
          throw pendingFailure(answer.retryAfterMs);
        case 'rejected':
          // Money was taken and must go back: keep asking, loudly, instead of giving up.
          log.error('refund refused by the finance package', {
            orderId,
            status: answer.status,
            code: answer.code,
            reason: answer.reason,
            ...activityFields(),
          });
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.refundRejected,
            message: `finance refused the refund (${answer.status} ${answer.code}): ${answer.reason}`,
          });
        case 'unavailable':
          throw unavailableFailure(`finance unavailable for the refund: ${answer.reason}`, answer);
      }
    },
  };

  function countAttempt(orderId: string): Promise<void> {
    return orders.recordPaymentAttempt(orderId).catch((error: unknown) => {
      log.warn('payment attempt not counted in SQL', {
        orderId,
        reason: error instanceof Error ? error.message : String(error),
        ...activityFields(),
      });
    });
  }

  /** One payment attempt: the charge call, then, when its outcome is unknown, a lookup. */
  async function charge(context: Context, input: ChargeInput): Promise<ChargeResult> {
    const attempt = context.info.attempt;
    const key = paymentIdempotencyKey(input.orderId);
    const fields = { orderId: input.orderId, ...activityFields() };
    const attemptTimer = metrics.paymentDuration.startTimer();
    metrics.paymentAttempts.inc();
    const request = {
      idempotencyKey: key,
      orderId: input.orderId,
      amount: input.amount,
      currency: input.currency,
      // The finance package wants its own local time, not UTC.
      date: formatInZone(new Date(input.datePlaced), financeTimeZone),
    };
    log.info('finance request', { ...fields, request });

    const requestTimer = metrics.financeRequestDuration.startTimer();
    let outcome: PaymentOutcome;
    try {
      outcome = await finance.charge(request, context.cancellationSignal);
      requestTimer({ status: outcome.kind === 'charged' ? 200 : (outcome.status ?? 'error') });
    } catch (error) {
      requestTimer({ status: 'error' });
      attemptTimer({ outcome: 'cancelled' });
      if (context.cancellationSignal.aborted) {
        log.info('payment attempt cancelled', fields);
        throw new CancelledFailure('payment cancelled by the workflow');
      }
      throw error;
    }

    let ambiguous = false;
    if (outcome.kind === 'unavailable' && outcomeUnknown(outcome.status)) {
      // The package may have charged (a timeout, a broken connection, a 5xx from a proxy) or
      // still be charging: ask it before calling this attempt failed.
      const settled = await settleUnknownOutcome(context, key, fields);
      if (settled === 'unknown') ambiguous = true;
      else if (settled !== 'not_charged') outcome = { kind: 'charged', receipt: settled };
    }

    const details: PaymentFailureDetails = { attempt, status: null, ambiguous };
    attemptTimer({ outcome: outcome.kind });
    if (outcome.kind !== 'charged') {
      metrics.paymentAttemptFailures.inc({
        class: outcome.kind === 'rejected' ? 'permanent' : 'transient',
      });
    }
    switch (outcome.kind) {
      case 'charged':
        log.info('finance response', {
          ...fields,
          status: 200,
          paymentReference: outcome.receipt.paymentReference,
        });
        return { paymentReference: outcome.receipt.paymentReference, attempt };
      case 'rejected':
        log.warn('finance response', {
          ...fields,
          status: outcome.status,
          code: outcome.code,
          reason: outcome.reason,
        });
        throw ApplicationFailure.create({
          type: FAILURE_TYPES.paymentRejected,
          message: `finance rejected the payment (${outcome.status} ${outcome.code}): ${outcome.reason}`,
          nonRetryable: true,
          details: [{ ...details, status: outcome.status }],
        });
      case 'unavailable':
        log.warn('finance response', {
          ...fields,
          status: outcome.status,
          reason: outcome.reason,
          retryAfterMs: outcome.retryAfterMs,
          ambiguous,
        });
        throw unavailableFailure(`finance unavailable: ${outcome.reason}`, outcome, {
          ...details,
          status: outcome.status,
        });
    }
  }

  /**
   * Asks the package what became of a request whose answer never came: the receipt if it charged,
   * `not_charged` if it has nothing under the key and nothing in progress, `unknown` if it could
   * not tell within this attempt's time (the workflow then looks it up before failing the order).
   */
  async function settleUnknownOutcome(
    context: Context,
    key: string,
    fields: Record<string, unknown>,
  ): Promise<PaymentReceipt | 'not_charged' | 'unknown'> {
    const deadline = Date.now() + SETTLE_WITHIN_MS;
    for (;;) {
      const found = await finance
        .lookup(key, context.cancellationSignal)
        .catch((error: unknown) => {
          if (context.cancellationSignal.aborted) throw new CancelledFailure('payment cancelled');
          throw error;
        });
      log.info('payment outcome looked up', { ...fields, found: found.kind });
      if (found.kind === 'charged') return found.receipt;
      if (found.kind === 'not_found') return 'not_charged';
      if (found.kind === 'unavailable') return 'unknown';
      const wait = found.retryAfterMs ?? 1000;
      if (Date.now() + wait > deadline) return 'unknown';
      await context.sleep(wait);
    }
  }
}

/**
 * Answers after which the package may have charged: no answer at all (timeout, reset), an
 * unreadable 2xx, a 409 for a key it is still working on, and server errors other than 503,
 * which often come from a proxy in front of a backend that did the work. 503 and 429 are the
 * package saying it did nothing.
 */
function outcomeUnknown(status: number | null): boolean {
  if (status === null) return true;
  return status !== 503 && status !== 429 && status !== 408 && status !== 425;
}

/**
 * A retryable failure for a package that said "not now" (or did not answer). Retry-After, when it
 * sent one, replaces the policy's backoff for the next attempt.
 */
function unavailableFailure(
  message: string,
  { retryAfterMs }: { retryAfterMs: number | null },
  details?: PaymentFailureDetails,
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.paymentUnavailable,
    message,
    ...(details ? { details: [details] } : {}),
    ...(retryAfterMs !== null ? { nextRetryDelay: retryAfterMs } : {}),
  });
}

function pendingFailure(retryAfterMs: number | null): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.paymentPending,
    message: 'the finance package is still working on this payment',
    nextRetryDelay: retryAfterMs ?? 1000,
  });
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
