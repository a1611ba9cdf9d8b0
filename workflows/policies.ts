/**
 * Retry and timeout presets of the order workflow's activities, named and explained in one place.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
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
 * Status writes and verification as local activities: run by the worker that runs the workflow,
 * inside its workflow task, so each costs no activity task of its own on the server. The same
 * timeout and unbounded retries as `shortActivity`. A backoff longer than `localRetryThreshold`
 * (a database outage) waits on a durable timer instead of holding the workflow task open: an open
 * task keeps its worker slot, and with every order's write waiting on the database the slots
 * would run out and no update (an operator's cancel) could be answered until it is back.
 * A lost worker's write runs again on the next: safe, as every write carries its status version,
 * and a verification read twice gives the verdict the history records.
 */
export const shortLocalActivity: LocalActivityOptions = {
  startToCloseTimeout: shortActivity.startToCloseTimeout,
  retry: shortActivity.retry,
  localRetryThreshold: '2s',
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
 * - WAIT_CANCELLATION_COMPLETED: the workflow hears of a cancel only once the attempt has really
 *   stopped. Stopping our side of the call does not stop the package, which may still charge
 *   after we hung up: that is why a cancelled order is then settled (`settlementActivity`).
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

/**
 * Looking a payment up and refunding it, after a cancel or an attempt of unknown outcome. The
 * answer decides whether money stays taken, so there is no attempt limit: the order waits while
 * the package is down or still working on the payment. Backoff as for payments; each call is one
 * HTTP request bounded by FINANCE_TIMEOUT, inside the start-to-close timeout.
 */
export const settlementActivity: ActivityOptions = {
  startToCloseTimeout: PAYMENT_START_TO_CLOSE_MS,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

/**
 * A bulk action's step on one order: one Update (or a new run of a closed failed order) bounded
 * by the Temporal call timeout. Retried while Temporal or the order's worker does not answer,
 * for about five minutes; then the item is recorded `failed` and the batch moves on. The
 * activity checks the item's recorded outcome first and sends its Update with a fixed id, so a
 * retry never acts twice.
 */
export const bulkItemActivity: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 8,
  },
};
