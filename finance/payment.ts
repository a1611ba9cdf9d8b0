/**
 * What the finance package decides about one payment, lookup or refund request, without HTTP:
 * validation, the business rules, idempotency and the receipts. Every rejection names the
 * offending value, because a bare "400 Bad Request" cannot be diagnosed by the caller.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import {
  paymentRequestSchema,
  refundRequestSchema,
  type FinanceErrorBody,
  type PaymentLookup,
  type PaymentReceipt,
  type PaymentRequest,
  type RefundReceipt,
  type RefundRequest,
} from '../domain/finance';
import { formatInZone, writtenOffsetMinutes, zoneOffsetMinutes } from '../domain/time';
import type { FinanceState, StoredCharge } from './state';

/** A JSON answer of a money endpoint, before it is sent. */
export interface Answer {
  status: number;
  body: PaymentReceipt | RefundReceipt | PaymentLookup | FinanceErrorBody;
  headers?: Record<string, string>;
}

/** What a decision needs besides the request: the memory, the package's zone and the time. */
export interface PaymentContext {
  state: FinanceState;
  timeZone: string;
  now: Date;
}

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** A `{ code, reason }` answer with the given status. */
export function errorAnswer(status: number, code: string, reason: string): Answer {
  return { status, body: { code, reason } };
}

/** `field: problem` for every issue, so the caller can see which field to fix. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`)
    .join('; ');
}

/** Validates, applies idempotency and the rules, and charges (stores the receipt) on success. */
export function processPayment(body: unknown, context: PaymentContext): Answer {
  const parsed = paymentRequestSchema.safeParse(body);
  if (!parsed.success) return errorAnswer(400, 'malformed_request', describeIssues(parsed.error));
  const request = parsed.data;

  // A key that was charged already is answered from memory: the caller is retrying.
  const previous = context.state.chargeFor(request.idempotencyKey);
  if (previous) return replay(previous, request);

  // Rejections are not stored: nothing was charged, so a corrected retry is judged afresh.
  const violation = ruleViolation(request, context.now, context.timeZone);
  if (violation) return { status: 400, body: violation };

  const receipt = newReceipt(request, context.now, context.timeZone);
  context.state.recordCharge({ request, receipt });
  return { status: 200, body: receipt };
}

/** Tells the caller to come back in a second: something with this key is still in progress. */
export function retryLater(code: string, reason: string): Answer {
  return { ...errorAnswer(409, code, reason), headers: { 'Retry-After': '1' } };
}

/** `GET /payments/:key`: the charge with its refund, "pending" (come back in 1 s), else a 404. */
export function lookupPayment(key: string, state: FinanceState): Answer {
  const charge = state.chargeFor(key);
  if (charge) {
    const body: PaymentLookup = {
      status: 'charged',
      receipt: charge.receipt,
      refund: state.refundFor(key),
    };
    return { status: 200, body };
  }
  if (state.isPaymentPending(key)) {
    return { status: 200, body: { status: 'pending' }, headers: { 'Retry-After': '1' } };
  }
  return errorAnswer(404, 'payment_not_found', `no payment under key ${key}`);
}

/** Validates, applies the refund's idempotency, and gives the whole charge back on success. */
export function processRefund(body: unknown, context: PaymentContext): Answer {
  const parsed = refundRequestSchema.safeParse(body);
  if (!parsed.success) return errorAnswer(400, 'malformed_request', describeIssues(parsed.error));
  const request = parsed.data;
  const { state } = context;

  // Checked before the charge: a replayed refund is answered even though the charge now shows
  // as refunded.
  const previous = state.refundByKey(request.idempotencyKey);
  if (previous) {
    if (previous.paymentKey === request.paymentKey) return { status: 200, body: previous };
    return errorAnswer(
      409,
      'idempotency_key_reused',
      `refund key ${request.idempotencyKey} was used for payment key ${previous.paymentKey}; ` +
        `this request is for payment key ${request.paymentKey}`,
    );
  }

  const charge = state.chargeFor(request.paymentKey);
  if (!charge) {
    if (state.isPaymentPending(request.paymentKey)) {
      return retryLater(
        'payment_pending',
        `a payment under key ${request.paymentKey} is still being processed`,
      );
    }
    return errorAnswer(
      404,
      'payment_not_found',
      `no charge under payment key ${request.paymentKey}`,
    );
  }

  const refunded = state.refundFor(request.paymentKey);
  if (refunded) {
    return errorAnswer(
      409,
      'charge_already_refunded',
      `payment ${refunded.paymentReference} was refunded as ${refunded.refundReference} ` +
        `under refund key ${refunded.idempotencyKey}`,
    );
  }

  const refund = newRefund(request, charge, context.now, context.timeZone);
  state.recordRefund(refund);
  return { status: 200, body: refund };
}

function newRefund(
  request: RefundRequest,
  charge: StoredCharge,
  now: Date,
  zone: string,
): RefundReceipt {
  const { receipt } = charge;
  return {
    refundReference: `REF-${randomBytes(8).toString('hex')}`,
    idempotencyKey: request.idempotencyKey,
    paymentKey: request.paymentKey,
    paymentReference: receipt.paymentReference,
    orderId: receipt.orderId,
    amount: receipt.amount,
    currency: receipt.currency,
    reason: request.reason ?? null,
    refundedAt: formatInZone(now, zone),
  };
}

function replay(previous: StoredCharge, request: PaymentRequest): Answer {
  const before = previous.request;
  const sameCharge =
    before.orderId === request.orderId &&
    before.amount === request.amount &&
    before.currency === request.currency;
  if (sameCharge) return { status: 200, body: previous.receipt };
  return errorAnswer(
    409,
    'idempotency_key_reused',
    `idempotency key ${request.idempotencyKey} was used for order ${before.orderId} ` +
      `(${before.amount} ${before.currency}); this request is for order ${request.orderId} ` +
      `(${request.amount} ${request.currency})`,
  );
}

/** The first business rule the request breaks, in the order the package checks them. */
function ruleViolation(request: PaymentRequest, now: Date, zone: string): FinanceErrorBody | null {
  const { amount, currency, date } = request;
  if (!(Number(amount) > 0)) {
    return { code: 'amount_not_positive', reason: `amount ${amount} must be greater than zero` };
  }
  if (!CURRENCIES.has(currency)) {
    return { code: 'unknown_currency', reason: `currency ${currency} is not an ISO 4217 code` };
  }
  const instant = new Date(date);
  if (Number.isNaN(instant.getTime())) {
    return { code: 'malformed_request', reason: `date: ${date} is not a calendar date` };
  }
  // Before the zone check: a year-3000 date is wrong whatever its offset.
  if (instant > now) {
    const reason = `date ${date} is in the future (now is ${formatInZone(now, zone)})`;
    return { code: 'date_in_future', reason };
  }
  if (writtenOffsetMinutes(date) !== zoneOffsetMinutes(instant, zone)) {
    const expected = formatInZone(instant, zone).slice(-'+00:00'.length);
    const reason = `date ${date} is not in ${zone} local time (expected offset ${expected})`;
    return { code: 'date_not_local', reason };
  }
  return null;
}

function newReceipt(request: PaymentRequest, now: Date, zone: string): PaymentReceipt {
  return {
    paymentReference: `PAY-${randomBytes(8).toString('hex')}`,
    idempotencyKey: request.idempotencyKey,
    orderId: request.orderId,
    amount: request.amount,
    currency: request.currency,
    date: request.date,
    // The package speaks its own local time, in receipts too.
    chargedAt: formatInZone(now, zone),
  };
}
