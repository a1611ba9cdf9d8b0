/**
 * The finance package's HTTP contract, shared by the simulator (`finance/`) and the client that
 * the payment activity uses (`clients/finance.ts`).
 */
import { z } from 'zod';

export const PAYMENT_PATH = '/ProcessPayment';

/** `GET /payments/:key`: what happened to the payment made (or being made) under a key. */
export const PAYMENTS_PATH = '/payments';

/** `POST /refunds`: gives the whole amount of a charge back. */
export const REFUNDS_PATH = '/refunds';

/** Amount as a decimal string with at most two places, e.g. "12.50". */
export const AMOUNT_PATTERN = /^\d{1,12}(\.\d{1,2})?$/;

/**
 * Local time with an explicit numeric offset, as the finance package wants it
 * (`2026-07-01T10:00:00+01:00`). `Z` is not accepted: the package wants its own local time.
 */
export const LOCAL_DATE_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?[+-]\d{2}:\d{2}$/;

export const paymentRequestSchema = z.strictObject({
  idempotencyKey: z.string().min(1).max(200),
  orderId: z.string().min(1).max(200),
  amount: z.string().regex(AMOUNT_PATTERN, 'must be a decimal string with at most 2 places'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code'),
  date: z.string().regex(LOCAL_DATE_PATTERN, 'must be local time with a numeric offset'),
});
export type PaymentRequest = z.infer<typeof paymentRequestSchema>;

export interface PaymentReceipt {
  paymentReference: string;
  idempotencyKey: string;
  orderId: string;
  amount: string;
  currency: string;
  /** The order date the package charged against, as it was sent (local time). */
  date: string;
  chargedAt: string;
}

/** `POST /refunds` body: a full refund of the charge made under `paymentKey`. */
export const refundRequestSchema = z.strictObject({
  /** The refund's own key: the same key again answers the same refund, never a second one. */
  idempotencyKey: z.string().min(1).max(200),
  /** The idempotency key the payment was charged under. */
  paymentKey: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
});
/** A refund request as the client sends it and the package validates it. */
export type RefundRequest = z.infer<typeof refundRequestSchema>;

/** `POST /refunds` 200: the whole amount of the payment was given back. */
export interface RefundReceipt {
  refundReference: string;
  idempotencyKey: string;
  paymentKey: string;
  paymentReference: string;
  orderId: string;
  amount: string;
  currency: string;
  reason: string | null;
  /** In the package's local time, like `chargedAt`. */
  refundedAt: string;
}

/**
 * `GET /payments/:key` 200 (`pending` comes with `Retry-After: 1`); a key with neither a charge
 * nor a request in progress is a 404 `payment_not_found`.
 */
export type PaymentLookup =
  | { status: 'charged'; receipt: PaymentReceipt; refund: RefundReceipt | null }
  | { status: 'pending' };

/** Body of every non-2xx answer of the finance package. */
export interface FinanceErrorBody {
  code: string;
  reason: string;
}

export const FINANCE_MODES = ['normal', 'flaky', 'down', 'slow'] as const;
export type FinanceMode = (typeof FINANCE_MODES)[number];

/**
 * The faults flaky mode picks from: only those a retry gets past. The rejections would fail an
 * order for good, which is not what "flaky" means.
 */
export const TRANSIENT_FINANCE_FAULTS = [
  'status-500',
  'status-503',
  'status-429',
  'hang',
  'drop',
  'late-charge',
  'status-502-html',
  'status-503-empty',
] as const;

/**
 * One-shot faults a test or a demo can queue for the next requests to the money endpoints
 * (payment, lookup, refund), in order.
 */
export const FINANCE_FAULTS = [...TRANSIENT_FINANCE_FAULTS, 'reject-long', 'reject-html'] as const;
export type FinanceFault = (typeof FINANCE_FAULTS)[number];

export const financeModeSchema = z.strictObject({
  mode: z.enum(FINANCE_MODES),
  /** flaky: share of requests that fail, 0..1. */
  failureRate: z.number().min(0).max(1).optional(),
  /** slow: latency added to every request. */
  latencyMs: z.number().int().min(0).max(120_000).optional(),
});
export type FinanceModeSettings = z.infer<typeof financeModeSchema>;

export interface ChargeRecord {
  idempotencyKey: string;
  /** Requests received with this key, whatever their outcome. */
  requests: number;
  /** Times money was actually taken for this key: 0 or 1 when the package is idempotent. */
  charges: number;
  receipt: PaymentReceipt | null;
  /** Times money was actually given back for this key: counted, so a double refund shows 2. */
  refunds: number;
  refund: RefundReceipt | null;
}

/** `GET /charges`: every key the package has seen, with the order it named and when it was asked. */
export interface KeyActivity extends ChargeRecord {
  orderId: string | null;
  /** Arrival time of each request with this key (ISO-8601). */
  requestedAt: string[];
}

/** `GET /faults`: what is queued, every call left hanging, and the keys being processed now. */
/**
 * Which calls a queued fault is for: payments by default (tests and demos script the payment's
 * answers; a lookup made after a lost answer must not eat the next payment's fault), lookups,
 * refunds, or `any`: whichever money call comes first.
 */
export const FAULT_ENDPOINTS = ['payment', 'lookup', 'refund', 'any'] as const;
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];

export interface FaultsReport {
  faults: FinanceFault[];
  hung: { idempotencyKey: string | null; at: string }[];
  /** Payment keys with a request in progress (arrived, no charge decision yet). */
  pending: string[];
  /** Refund keys with a refund request in progress. */
  pendingRefunds: string[];
}
