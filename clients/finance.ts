/**
 * HTTP client of the finance package. It never throws for an answer the package gives: it sorts
 * every outcome into charged, rejected (permanent) or unavailable (transient), and leaves the
 * retry decision to the activity's retry policy.
 */
import {
  PAYMENT_PATH,
  type FinanceErrorBody,
  type PaymentReceipt,
  type PaymentRequest,
} from '../domain/finance';

export type PaymentOutcome =
  | { kind: 'charged'; receipt: PaymentReceipt }
  | { kind: 'rejected'; status: number; code: string; reason: string }
  | { kind: 'unavailable'; status: number | null; reason: string; retryAfterMs: number | null };

/** Statuses that say "not now" rather than "never": timeouts, throttling, server trouble. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

async function readErrorBody(response: Response, cancel?: AbortSignal): Promise<FinanceErrorBody> {
  let text = '';
  try {
    text = await response.text();
  } catch (error) {
    // A cancelled activity stays cancelled; a body cut off otherwise still has a useful status.
    if (cancel?.aborted) throw error;
  }
  try {
    const body = JSON.parse(text) as Partial<FinanceErrorBody>;
    return { code: body.code ?? `http_${response.status}`, reason: body.reason ?? text };
  } catch {
    return { code: `http_${response.status}`, reason: text.slice(0, 500) };
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : null;
  const code = cause && 'code' in cause ? String(cause.code) : null;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${message} (${code})` : message;
}

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
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    let response: Response;
    try {
      response = await fetch(new URL(PAYMENT_PATH, this.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
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
    if (response.ok) {
      try {
        return { kind: 'charged', receipt: (await response.json()) as PaymentReceipt };
      } catch (error) {
        if (cancel?.aborted) throw error;
        // The body was cut off: the charge may have happened. The retry carries the same
        // idempotency key, so the package answers with the stored receipt.
        return {
          kind: 'unavailable',
          status: response.status,
          reason: `unreadable answer: ${describeNetworkError(error, this.timeoutMs)}`,
          retryAfterMs: null,
        };
      }
    }
    const body = await readErrorBody(response, cancel);
    if (isTransientStatus(response.status)) {
      return {
        kind: 'unavailable',
        status: response.status,
        reason: `${response.status} ${body.code}: ${body.reason}`,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      };
    }
    return { kind: 'rejected', status: response.status, code: body.code, reason: body.reason };
  }
}
