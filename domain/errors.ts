/**
 * Failure types that cross the activity/workflow boundary as `ApplicationFailure.type`. The retry
 * policy lists the permanent ones as non-retryable; everything else is retried with backoff.
 */
export const FAILURE_TYPES = {
  /** The finance package said the request itself is wrong (4xx). Retrying cannot help. */
  paymentRejected: 'PaymentRejected',
  /** Timeouts, 5xx, 429, refused or reset connections: worth another attempt. */
  paymentUnavailable: 'PaymentUnavailable',
  /** The finance package is still working on a request with this key: ask again shortly. */
  paymentPending: 'PaymentPending',
  /** A refund the finance package refused; retried, since the money must go back. */
  refundRejected: 'RefundRejected',
  /**
   * The database refused a status write for a reason retrying cannot fix (a value it will not
   * store): the read model is stale, and the failure is counted and alerted on, not retried.
   */
  statusWriteRejected: 'StatusWriteRejected',
} as const;

export const NON_RETRYABLE_PAYMENT_FAILURES: readonly string[] = [FAILURE_TYPES.paymentRejected];

/** Attached to payment failures so the workflow can count attempts it did not see one by one. */
export interface PaymentFailureDetails {
  attempt: number;
  status: number | null;
  /**
   * True when this attempt's outcome is unknown: the call timed out or the connection broke and
   * the package could not be asked afterwards whether it charged. The workflow looks the charge
   * up before it calls the order failed.
   */
  ambiguous?: boolean;
}

/** Why an order ended failed: a rejection pages differently from an outage. */
export const PAYMENT_FAILURE_KINDS = ['rejected', 'retries_exhausted', 'timeout', 'other'] as const;
export type PaymentFailureKind = (typeof PAYMENT_FAILURE_KINDS)[number];
