/**
 * The order workflow's side effects: status writes to SQL, customer verification and the payment
 * call. Built by a factory
 * so the worker and the tests hand in real dependencies of their choosing.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { FinanceClient } from '../clients/finance';
import type { OrderRepository } from '../db/orders';
import { FAILURE_TYPES, type PaymentFailureDetails } from '../domain/errors';
import type { FeatureName } from '../domain/features';
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
      const outcome = await orders.applyStatus(change);
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
      const attempt = context.info.attempt;
      const fields = { orderId: input.orderId, ...activityFields() };
      const attemptTimer = metrics.paymentDuration.startTimer();
      metrics.paymentAttempts.inc();
      await orders.recordPaymentAttempt(input.orderId);
      const request = {
        idempotencyKey: paymentIdempotencyKey(input.orderId),
        orderId: input.orderId,
        amount: input.amount,
        currency: input.currency,
        // The seed's bug: the package wants its own local time, not UTC.
        date: formatInZone(new Date(input.datePlaced), financeTimeZone),
      };
      log.info('finance request', { ...fields, request });

      const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      const requestTimer = metrics.financeRequestDuration.startTimer();
      let outcome;
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
      } finally {
        clearInterval(heartbeat);
      }

      const details: PaymentFailureDetails = { attempt, status: null };
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
          });
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.paymentUnavailable,
            message: `finance unavailable: ${outcome.reason}`,
            details: [{ ...details, status: outcome.status }],
            // Honour Retry-After when the package asks for a pause; otherwise the policy's backoff.
            ...(outcome.retryAfterMs !== null ? { nextRetryDelay: outcome.retryAfterMs } : {}),
          });
      }
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
