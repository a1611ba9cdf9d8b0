/**
 * Retry and timeout presets of the order workflow's activities, named and explained in one place.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { ActivityCancellationType } from '@temporalio/workflow';
import { NON_RETRYABLE_PAYMENT_FAILURES } from '../domain/errors';
import { PAYMENT_START_TO_CLOSE_MS } from '../domain/temporal';

/**
 * Status writes to SQL: quick, idempotent, and they must eventually happen or an order's read
 * model goes stale. So: a short timeout per attempt (a healthy write takes milliseconds), and
 * retries without an attempt limit, backing off to 30 s, so a database outage delays orders
 * instead of losing their state.
 */
export const shortActivity: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
};

/**
 * Payment through the finance package.
 * - initialInterval 1 s, ×2, capped at 1 min: a blip is retried at once, a real outage is not
 *   hammered; ten attempts span about four minutes.
 * - maximumAttempts comes from config (PAYMENT_MAX_ATTEMPTS): after that the order is `failed`
 *   and an operator decides.
 * - Rejections (`PaymentRejected`) are not retried: the same request would be rejected again.
 * - startToClose 30 s is longer than the HTTP timeout (FINANCE_TIMEOUT, 10 s by default), so a hung
 *   call ends as a retryable failure with a reason.
 * - heartbeat 5 s: the activity heartbeats every second while the call is in flight, so a killed
 *   worker's attempt is retried after 5 s rather than 30, and a cancel reaches a running attempt.
 * - WAIT_CANCELLATION_COMPLETED: a cancelled order is marked cancelled only once the attempt has
 *   really stopped, so a charge can never land after the order says cancelled.
 */
export function paymentActivity(maximumAttempts: number): ActivityOptions {
  return {
    startToCloseTimeout: PAYMENT_START_TO_CLOSE_MS,
    heartbeatTimeout: '5s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      maximumAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_PAYMENT_FAILURES],
    },
  };
}
