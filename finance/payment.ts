/**
 * What the finance package decides about one payment request, without HTTP: validation, the
 * business rules, idempotency and the receipt. Every rejection names the offending value, because
 * the seed's bug was a bare "400 Bad Request" that nobody could diagnose.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import {
  paymentRequestSchema,
  type FinanceErrorBody,
  type PaymentReceipt,
  type PaymentRequest,
} from '../domain/finance';
import { formatInZone, writtenOffsetMinutes, zoneOffsetMinutes } from '../domain/time';
import type { FinanceState, StoredCharge } from './state';

export interface Answer {
  status: number;
  body: PaymentReceipt | FinanceErrorBody;
  headers?: Record<string, string>;
}

export interface PaymentContext {
  state: FinanceState;
  timeZone: string;
  now: Date;
}

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

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
