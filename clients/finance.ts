/**
 * HTTP client of the finance package. It never throws for an answer the package gives: it sorts
 * every outcome of a charge, a lookup or a refund into a few kinds, and leaves the retry decision
 * to the caller. Whatever the package (or a proxy in front of it) sends back, the reasons handed
 * over are short, single-line text, since they end up in SQL, logs and the operator's dashboard.
 */
import { z } from 'zod';
import {
  PAYMENT_PATH,
  PAYMENTS_PATH,
  REFUNDS_PATH,
  type FinanceErrorBody,
  type PaymentReceipt,
  type PaymentRequest,
  type RefundReceipt,
  type RefundRequest,
} from '../domain/finance';
import { boundText } from '../domain/text';

/** What a charge came to: money taken, a permanent no, or "not now" (retry). */
export type PaymentOutcome =
  | { kind: 'charged'; receipt: PaymentReceipt }
  | { kind: 'rejected'; status: number; code: string; reason: string }
  | { kind: 'unavailable'; status: number | null; reason: string; retryAfterMs: number | null };

/**
 * What the package knows about a payment key. Only an explicit `payment_not_found` is
 * `not_found`: any other trouble is `unavailable`, because taking it for "never charged" could
 * lead to a second charge.
 */
export type LookupOutcome =
  | { kind: 'charged'; receipt: PaymentReceipt; refund: RefundReceipt | null }
  | { kind: 'pending'; retryAfterMs: number | null }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; status: number | null; reason: string; retryAfterMs: number | null };

/** What a refund came to; `not_charged`: nothing under the payment key to give back. */
export type RefundOutcome =
  | { kind: 'refunded'; refund: RefundReceipt }
  | { kind: 'not_charged'; reason: string }
  | { kind: 'pending'; retryAfterMs: number | null }
  | { kind: 'rejected'; status: number; code: string; reason: string }
  | { kind: 'unavailable'; status: number | null; reason: string; retryAfterMs: number | null };

/** The longest reason any outcome carries, "…" included. */
export const MAX_FINANCE_REASON_LENGTH = 500;

/** Past this, a body is not read further: a huge page must not fill the worker's memory. */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_CODE_LENGTH = 100;

type Unavailable = Extract<PaymentOutcome, { kind: 'unavailable' }>;

const paymentReceiptSchema = z.object({
  paymentReference: z.string(),
  idempotencyKey: z.string(),
  orderId: z.string(),
  amount: z.string(),
  currency: z.string(),
  date: z.string(),
  chargedAt: z.string(),
}) satisfies z.ZodType<PaymentReceipt>;

const refundReceiptSchema = z.object({
  refundReference: z.string(),
  idempotencyKey: z.string(),
  paymentKey: z.string(),
  paymentReference: z.string(),
  orderId: z.string(),
  amount: z.string(),
  currency: z.string(),
  reason: z.string().nullable(),
  refundedAt: z.string(),
}) satisfies z.ZodType<RefundReceipt>;

const paymentLookupSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('charged'),
    receipt: paymentReceiptSchema,
    refund: refundReceiptSchema.nullable(),
  }),
  z.object({ status: z.literal('pending') }),
]);

/** Statuses that say "not now" rather than "never": timeouts, throttling, server trouble. */
function isTransient(status: number, code: string): boolean {
  if (status === 409 && code === 'idempotency_key_in_use') return true;
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** One line of at most MAX_FINANCE_REASON_LENGTH characters, cut with "…". */
function bounded(text: string, limit = MAX_FINANCE_REASON_LENGTH): string {
  return boundText(text, limit);
}

interface BodyText {
  text: string;
  /** False when reading stopped at MAX_BODY_BYTES, or the body was cut off. */
  complete: boolean;
  /** Why the body was cut off (a timeout, a reset), if it was. */
  failure?: unknown;
}

/** Reads at most MAX_BODY_BYTES of the body. A cancelled call stays cancelled while reading. */
async function readBody(response: Response, cancel?: AbortSignal): Promise<BodyText> {
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return { text: '', complete: true };
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let complete = false;
  let failure: unknown;
  try {
    while (bytes < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      chunks.push(value);
      bytes += value.byteLength;
    }
  } catch (error) {
    if (cancel?.aborted) throw error;
    // Cut off otherwise: what arrived, with the status, is still worth reporting.
    failure = error;
  } finally {
    if (!complete) await reader.cancel().catch(() => undefined);
  }
  const data = Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES);
  const text = new TextDecoder().decode(data);
  return { text, complete: complete && bytes <= MAX_BODY_BYTES, failure };
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});/gi, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code =
        name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function squash(text: string): string {
  return decodeEntities(text).replace(/\s+/g, ' ').trim();
}

/** The page's text without tags, scripts and styles; one pass, so a hostile page stays cheap. */
function visibleText(html: string): string {
  const lower = html.toLowerCase();
  const parts: string[] = [];
  let at = 0;
  while (at < html.length) {
    const open = html.indexOf('<', at);
    parts.push(html.slice(at, open < 0 ? html.length : open));
    if (open < 0) break;
    const close = html.indexOf('>', open);
    if (close < 0) break;
    const name = /^[a-z]+/.exec(lower.slice(open + 1, Math.min(close, open + 8)))?.[0];
    at = close + 1;
    if (name === 'script' || name === 'style' || name === 'title') {
      const end = lower.indexOf(`</${name}`, at);
      at = end < 0 ? html.length : end;
    }
    parts.push(' ');
  }
  return squash(parts.join(''));
}

function pageTitle(html: string): string {
  const lower = html.toLowerCase();
  const open = lower.indexOf('<title');
  if (open < 0) return '';
  const start = lower.indexOf('>', open);
  const end = start < 0 ? -1 : lower.indexOf('</title', start);
  return end < 0 ? '' : squash(html.slice(start + 1, end));
}

/** `HTML page (<N> bytes): <title or first text>`: what a proxy's error page comes down to. */
function describeHtml(response: Response, body: BodyText): string {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  const size = Number.isInteger(declared)
    ? `${declared} bytes`
    : body.complete
      ? `${Buffer.byteLength(body.text)} bytes`
      : `over ${MAX_BODY_BYTES} bytes`;
  const label = pageTitle(body.text) || visibleText(body.text);
  return bounded(label ? `HTML page (${size}): ${label}` : `HTML page (${size})`);
}

/** The `{ code, reason }` of an error answer, whatever shape its body has. */
function errorBody(response: Response, body: BodyText): FinanceErrorBody {
  const code = `http_${response.status}`;
  const text = body.text.trim();
  if (text === '') return { code, reason: 'empty body' };
  const type = response.headers.get('content-type') ?? '';
  if (/\btext\/html\b/i.test(type) || text.startsWith('<')) {
    return { code, reason: describeHtml(response, body) };
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const fields = parsed as Record<string, unknown>;
      return {
        code:
          typeof fields.code === 'string' && fields.code.trim() !== ''
            ? bounded(fields.code, MAX_CODE_LENGTH)
            : code,
        reason: bounded(
          typeof fields.reason === 'string' && fields.reason.trim() !== '' ? fields.reason : text,
        ),
      };
    }
  } catch {
    // Not JSON (or cut off at the read limit): the text itself is the reason.
  }
  return { code, reason: bounded(text) };
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : null;
  const code = cause && 'code' in cause ? String(cause.code) : null;
  const message = error instanceof Error ? error.message : String(error);
  return bounded(code ? `${message} (${code})` : message);
}

function unavailable(response: Response, body: FinanceErrorBody): Unavailable {
  return {
    kind: 'unavailable',
    status: response.status,
    reason: bounded(`${response.status} ${body.code}: ${body.reason}`),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
  };
}

/** A 2xx body as `schema` says it is, or `unavailable`: the outcome is then unknown. */
function readOk<T>(
  response: Response,
  body: BodyText,
  timeoutMs: number,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; unavailable: Unavailable } {
  const problem = (what: string): { ok: false; unavailable: Unavailable } => ({
    ok: false,
    unavailable: {
      kind: 'unavailable',
      status: response.status,
      reason: bounded(`unreadable answer: ${what}`),
      retryAfterMs: null,
    },
  });
  if (body.failure !== undefined) return problem(describeNetworkError(body.failure, timeoutMs));
  if (!body.complete) return problem(`body longer than ${MAX_BODY_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return problem(`not JSON: ${errorBody(response, body).reason}`);
  }
  const parsed = schema.safeParse(json);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : problem(`unexpected body: ${body.text}`);
}

/** Sends one request to the finance package, with the client's timeout and the caller's cancel. */
export class FinanceClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Sends one payment request. `cancel` aborts it when the activity is cancelled; that abort is
   * rethrown, since it is not an answer from the package.
   */
  async charge(request: PaymentRequest, cancel?: AbortSignal): Promise<PaymentOutcome> {
    const sent = await this.send('POST', PAYMENT_PATH, request, cancel);
    if ('kind' in sent) return sent;
    const { response, body } = sent;
    if (response.ok) {
      // A body that cannot be read may still mean a charge: the caller looks the key up or
      // retries with the same key, and gets the stored receipt.
      const receipt = readOk(response, body, this.timeoutMs, paymentReceiptSchema);
      return receipt.ok ? { kind: 'charged', receipt: receipt.value } : receipt.unavailable;
    }
    const error = errorBody(response, body);
    if (isTransient(response.status, error.code)) return unavailable(response, error);
    return { kind: 'rejected', status: response.status, code: error.code, reason: error.reason };
  }

  /** Asks what happened under a payment key: charged (with any refund), pending or not found. */
  async lookup(paymentKey: string, cancel?: AbortSignal): Promise<LookupOutcome> {
    const path = `${PAYMENTS_PATH}/${encodeURIComponent(paymentKey)}`;
    const sent = await this.send('GET', path, undefined, cancel);
    if ('kind' in sent) return sent;
    const { response, body } = sent;
    if (response.ok) {
      const lookup = readOk(response, body, this.timeoutMs, paymentLookupSchema);
      if (!lookup.ok) return lookup.unavailable;
      if (lookup.value.status === 'pending') {
        return {
          kind: 'pending',
          retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
        };
      }
      return { kind: 'charged', receipt: lookup.value.receipt, refund: lookup.value.refund };
    }
    const error = errorBody(response, body);
    if (response.status === 404 && error.code === 'payment_not_found') return { kind: 'not_found' };
    return unavailable(response, error);
  }

  /** Asks for the whole charge under `request.paymentKey` back; idempotent by its own key. */
  async refund(request: RefundRequest, cancel?: AbortSignal): Promise<RefundOutcome> {
    const sent = await this.send('POST', REFUNDS_PATH, request, cancel);
    if ('kind' in sent) return sent;
    const { response, body } = sent;
    if (response.ok) {
      const refund = readOk(response, body, this.timeoutMs, refundReceiptSchema);
      return refund.ok ? { kind: 'refunded', refund: refund.value } : refund.unavailable;
    }
    const error = errorBody(response, body);
    if (response.status === 404 && error.code === 'payment_not_found') {
      return { kind: 'not_charged', reason: error.reason };
    }
    if (response.status === 409 && error.code === 'payment_pending') {
      return {
        kind: 'pending',
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      };
    }
    if (isTransient(response.status, error.code)) return unavailable(response, error);
    return { kind: 'rejected', status: response.status, code: error.code, reason: error.reason };
  }

  /** The answer with its (capped) body, or `unavailable` when no answer came. */
  private async send(
    method: string,
    path: string,
    payload: unknown,
    cancel: AbortSignal | undefined,
  ): Promise<{ response: Response; body: BodyText } | Unavailable> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        body: payload === undefined ? null : JSON.stringify(payload),
        signal,
      });
    } catch (error) {
      if (cancel?.aborted) throw error;
      return {
        kind: 'unavailable',
        status: null,
        reason: describeNetworkError(error, this.timeoutMs),
        retryAfterMs: null,
      };
    }
    return { response, body: await readBody(response, cancel) };
  }
}
