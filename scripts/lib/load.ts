/**
 * An API client for the benchmark and the fault suite: posts orders over HTTP as a shop would,
 * closed loop (a fixed number of requests in flight) or open loop (a fixed rate, whatever the
 * answers), and summarises latencies.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** A valid order from its own customer (so the velocity rule never applies). */
export function orderBody(customerId = `load-${randomUUID()}`): Record<string, unknown> {
  return {
    customerId,
    product: 'Widget',
    quantity: 1 + Math.floor(Math.random() * 5),
    unitPrice: '12.50',
    currency: 'GBP',
    datePlaced: new Date(Date.now() - 60_000).toISOString(),
  };
}

export interface PostAnswer {
  /** HTTP status, or 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  orderId: string | null;
  /** The API's error code, or the network error's message. */
  error: string | null;
  ms: number;
}

/** One POST /api/orders as the client `token` is for. Never throws: a failure has status 0. */
export async function postOrder(
  apiUrl: string,
  token: string,
  body: Record<string, unknown>,
  idempotencyKey?: string,
): Promise<PostAnswer> {
  const started = performance.now();
  try {
    const response = await fetch(`${apiUrl}/api/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = (await response.json().catch(() => null)) as {
      id?: string;
      error?: { code?: string };
    } | null;
    return {
      status: response.status,
      orderId: response.ok ? (json?.id ?? null) : null,
      error: response.ok
        ? null
        : (json?.error?.code ?? `HTTP ${response.status} without an error body`),
      ms: performance.now() - started,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      status: 0,
      orderId: null,
      error: cause ?? (error instanceof Error ? error.message : String(error)),
      ms: performance.now() - started,
    };
  }
}

export interface PlacedOrder {
  orderId: string | null;
  /** Every answer, in order: the last one is the outcome. */
  answers: PostAnswer[];
}

/**
 * Places one order the way a careful client does: one Idempotency-Key for all attempts, retried
 * while the API is unreachable or answers 5xx/429 (after its Retry-After, or a second), until
 * `giveUpAfterMs`. A 4xx other than 429 is final.
 */
export async function placeOrderReliably(
  apiUrl: string,
  token: string,
  giveUpAfterMs: number,
  body: Record<string, unknown> = orderBody(),
): Promise<PlacedOrder> {
  const key = randomUUID();
  const answers: PostAnswer[] = [];
  const deadline = Date.now() + giveUpAfterMs;
  for (;;) {
    const answer = await postOrder(apiUrl, token, body, key);
    answers.push(answer);
    const retryable = answer.status === 0 || answer.status === 429 || answer.status >= 500;
    if (!retryable || Date.now() > deadline) return { orderId: answer.orderId, answers };
    await sleep(1000);
  }
}

/** Runs `task(i)` for i in [0, count) with `concurrency` in flight at any time. */
export async function closedLoop<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

/**
 * Starts `task` `ratePerSecond` times a second for `durationMs`, on schedule whether or not
 * earlier calls have answered (open loop: a slow server does not slow the client down), then
 * waits for every call.
 */
export async function openLoop<T>(
  ratePerSecond: number,
  durationMs: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  const started = performance.now();
  const calls: Promise<T>[] = [];
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    calls.push(task(index));
  }
  return Promise.all(calls);
}

/** The p-th percentile (0–100) of the values, nearest rank; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
