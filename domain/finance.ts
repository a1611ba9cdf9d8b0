/**
 * The finance package's HTTP contract, shared by the simulator (`finance/`) and the client that
 * the payment activity uses (`clients/finance.ts`).
 */
import { z } from 'zod';

export const PAYMENT_PATH = '/ProcessPayment';

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

/** Body of every non-2xx answer of the finance package. */
export interface FinanceErrorBody {
  code: string;
  reason: string;
}

export const FINANCE_MODES = ['normal', 'flaky', 'down', 'slow'] as const;
export type FinanceMode = (typeof FINANCE_MODES)[number];

/** One-shot faults a test or a demo can queue for the next requests, in order. */
export const FINANCE_FAULTS = ['status-500', 'status-503', 'status-429', 'hang', 'drop'] as const;
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
}

/** `GET /charges`: every key the package has seen, with the order it named and when it was asked. */
export interface KeyActivity extends ChargeRecord {
  orderId: string | null;
  /** Arrival time of each request with this key (ISO-8601). */
  requestedAt: string[];
}
