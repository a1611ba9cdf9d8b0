import { test, describe, before, after } from 'node:test';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PAYMENT_PATH,
  type ChargeRecord,
  type FinanceErrorBody,
  type FinanceFault,
  type FinanceModeSettings,
  type PaymentReceipt,
  type PaymentRequest,
} from '../../domain/finance';
import { createFinanceApp, type FinanceOptions } from '../../finance/app';
import { createLogger } from '../../observability/logger';

/** Mid-July: London is on summer time (+01:00). */
const NOW = new Date('2026-07-15T12:00:00Z');

// The package logs one JSON line per event; keep them for assertions instead of printing them.
const logLines: string[] = [];
const logger = createLogger({
  service: 'finance',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
});

function logged(): Record<string, unknown>[] {
  return logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

function loggedFor(key: string): Record<string, unknown>[] {
  return logged().filter((entry) => entry.idempotencyKey === key);
}

interface Finance {
  url: string;
  close: () => Promise<void>;
}

async function startFinance(options: Partial<FinanceOptions> = {}): Promise<Finance> {
  const { app } = createFinanceApp({
    timeZone: 'Europe/London',
    now: () => NOW,
    logger,
    ...options,
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
  return { url: `http://127.0.0.1:${port}`, close };
}

/** A package of its own, for tests that change its mode or queue faults. */
async function withFinance(
  options: Partial<FinanceOptions>,
  run: (finance: Finance) => Promise<void>,
): Promise<void> {
  const finance = await startFinance(options);
  try {
    await run(finance);
  } finally {
    await finance.close();
  }
}

function paymentRequest(overrides: Partial<PaymentRequest> = {}): PaymentRequest {
  return {
    idempotencyKey: randomUUID(),
    orderId: `order-${randomUUID()}`,
    amount: '12.50',
    currency: 'GBP',
    date: '2026-07-01T10:00:00+01:00',
    ...overrides,
  };
}

function call(url: string, method: string, path: string, body?: unknown, init: RequestInit = {}) {
  return fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...init,
  });
}

function pay(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return call(url, 'POST', PAYMENT_PATH, body, init);
}

async function readJson<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function chargesFor(url: string, key: string): Promise<ChargeRecord> {
  return readJson<ChargeRecord>(await fetch(`${url}/charges/${key}`));
}

async function receiptOf(response: Response): Promise<PaymentReceipt> {
  assert.equal(response.status, 200, await response.clone().text());
  return readJson<PaymentReceipt>(response);
}

async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<FinanceErrorBody> {
  const body = await readJson<FinanceErrorBody>(response);
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.code, code);
  assert.equal(typeof body.reason, 'string');
  return body;
}

async function setMode(url: string, settings: FinanceModeSettings): Promise<void> {
  assert.equal((await call(url, 'PUT', '/mode', settings)).status, 200);
}

async function queueFaults(url: string, faults: FinanceFault[]): Promise<void> {
  assert.equal((await call(url, 'POST', '/faults', { faults })).status, 200);
}

/** A `random` that returns the given values in turn, then values that never fail a call. */
function randomSequence(...values: number[]): () => number {
  return () => values.shift() ?? 0.99;
}

void describe('payments', () => {
  let finance: Finance;
  before(async () => {
    finance = await startFinance();
  });
  after(() => finance.close());

  void test('a valid payment is charged and answered with a receipt', async () => {
    const request = paymentRequest();
    const receipt = await receiptOf(await pay(finance.url, request));

    assert.match(receipt.paymentReference, /^PAY-[0-9a-f]+$/);
    assert.deepEqual(
      { ...receipt, paymentReference: undefined },
      {
        paymentReference: undefined,
        idempotencyKey: request.idempotencyKey,
        orderId: request.orderId,
        amount: '12.50',
        currency: 'GBP',
        date: request.date,
        chargedAt: '2026-07-15T13:00:00+01:00',
      },
    );
    assert.deepEqual(await chargesFor(finance.url, request.idempotencyKey), {
      idempotencyKey: request.idempotencyKey,
      requests: 1,
      charges: 1,
      receipt,
      refunds: 0,
      refund: null,
    });
  });

  void test('a zero amount is rejected as amount_not_positive', async () => {
    const request = paymentRequest({ amount: '0.00' });
    const error = await expectError(await pay(finance.url, request), 400, 'amount_not_positive');
    assert.equal(error.reason, 'amount 0.00 must be greater than zero');
    assert.equal((await chargesFor(finance.url, request.idempotencyKey)).charges, 0);
  });

  void test('an unknown currency is rejected as unknown_currency', async () => {
    const error = await expectError(
      await pay(finance.url, paymentRequest({ currency: 'XYZ' })),
      400,
      'unknown_currency',
    );
    assert.match(error.reason, /currency XYZ /);
  });

  void test('a date in the year 3000 is rejected as date_in_future, before the zone check', async () => {
    // +00:00 is also the wrong offset for London in July: the future check must win.
    const date = '3000-07-01T09:00:00+00:00';
    const error = await expectError(
      await pay(finance.url, paymentRequest({ date })),
      400,
      'date_in_future',
    );
    assert.equal(error.reason, `date ${date} is in the future (now is 2026-07-15T13:00:00+01:00)`);
  });

  void test('a UTC +00:00 date in London summer is rejected as date_not_local', async () => {
    const date = '2026-07-01T09:00:00+00:00';
    const error = await expectError(
      await pay(finance.url, paymentRequest({ date })),
      400,
      'date_not_local',
    );
    assert.equal(
      error.reason,
      'date 2026-07-01T09:00:00+00:00 is not in Europe/London local time (expected offset +01:00)',
    );
  });

  void test('a +01:00 date in London summer is accepted', async () => {
    await receiptOf(await pay(finance.url, paymentRequest({ date: '2026-07-01T10:00:00+01:00' })));
  });

  void test('in London winter +00:00 is accepted and +01:00 is rejected', async () => {
    await receiptOf(await pay(finance.url, paymentRequest({ date: '2026-01-15T09:00:00+00:00' })));
    const error = await expectError(
      await pay(finance.url, paymentRequest({ date: '2026-01-15T10:00:00+01:00' })),
      400,
      'date_not_local',
    );
    assert.match(error.reason, /expected offset \+00:00/);
  });

  void test('a body missing a field is rejected as malformed_request naming the field', async () => {
    const withoutAmount: Partial<PaymentRequest> = paymentRequest();
    delete withoutAmount.amount;
    const error = await expectError(
      await pay(finance.url, withoutAmount),
      400,
      'malformed_request',
    );
    assert.match(error.reason, /^amount: /);
  });

  void test('malformed JSON is rejected as malformed_request', async () => {
    const response = await fetch(`${finance.url}${PAYMENT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"idempotencyKey": ',
    });
    const error = await expectError(response, 400, 'malformed_request');
    assert.match(error.reason, /^body: /);
  });

  void test('the same key twice returns the same receipt and charges once', async () => {
    const request = paymentRequest();
    const first = await receiptOf(await pay(finance.url, request));
    const second = await receiptOf(await pay(finance.url, request));

    assert.deepEqual(second, first);
    const record = await chargesFor(finance.url, request.idempotencyKey);
    assert.equal(record.requests, 2);
    assert.equal(record.charges, 1);
  });

  void test('the same key with a different amount is rejected as idempotency_key_reused', async () => {
    const request = paymentRequest();
    const receipt = await receiptOf(await pay(finance.url, request));
    const error = await expectError(
      await pay(finance.url, { ...request, amount: '99.00' }),
      409,
      'idempotency_key_reused',
    );
    assert.match(error.reason, /99\.00/);

    const record = await chargesFor(finance.url, request.idempotencyKey);
    assert.equal(record.charges, 1);
    assert.deepEqual(record.receipt, receipt);
  });

  void test('a rejection is not stored: a corrected request with the same key is charged', async () => {
    const request = paymentRequest({ date: '2026-07-01T09:00:00+00:00' });
    await expectError(await pay(finance.url, request), 400, 'date_not_local');
    assert.equal((await chargesFor(finance.url, request.idempotencyKey)).charges, 0);
    await receiptOf(await pay(finance.url, { ...request, date: '2026-07-01T10:00:00+01:00' }));

    const record = await chargesFor(finance.url, request.idempotencyKey);
    assert.equal(record.requests, 2);
    assert.equal(record.charges, 1);
  });

  void test('a key never seen reports zero requests and zero charges', async () => {
    const key = randomUUID();
    assert.deepEqual(await chargesFor(finance.url, key), {
      idempotencyKey: key,
      requests: 0,
      charges: 0,
      receipt: null,
      refunds: 0,
      refund: null,
    });
  });

  void test('each payment request and its outcome are logged as structured fields', async () => {
    const request = paymentRequest({ currency: 'XYZ' });
    await expectError(await pay(finance.url, request), 400, 'unknown_currency');

    const [received, answered] = loggedFor(request.idempotencyKey);
    assert.match(String(received?.timestamp), /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual(
      { ...received, timestamp: undefined },
      {
        timestamp: undefined,
        level: 'info',
        service: 'finance',
        message: 'payment request',
        ...request,
      },
    );
    assert.equal(answered?.message, 'payment answered');
    assert.equal(answered?.status, 400);
    assert.equal(answered?.code, 'unknown_currency');
    assert.match(String(answered?.reason), /XYZ/);
  });
});

void describe('HTTP errors', () => {
  let finance: Finance;
  before(async () => {
    finance = await startFinance();
  });
  after(() => finance.close());

  void test('a non-JSON content type is rejected with 415', async () => {
    const response = await fetch(`${finance.url}${PAYMENT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'pay me',
    });
    await expectError(response, 415, 'unsupported_media_type');
  });

  void test('a body over 64 KiB is rejected with 413', async () => {
    const request = paymentRequest({ orderId: 'x'.repeat(70_000) });
    await expectError(await pay(finance.url, request), 413, 'payload_too_large');
  });

  void test('an unknown route answers 404 JSON', async () => {
    await expectError(await fetch(`${finance.url}/nowhere`), 404, 'not_found');
  });

  void test('a wrong method on a known path answers 405 JSON with Allow', async () => {
    const response = await fetch(`${finance.url}${PAYMENT_PATH}`);
    assert.equal(response.headers.get('allow'), 'POST');
    await expectError(response, 405, 'method_not_allowed');
  });

  void test('an invalid mode is rejected with 400 naming mode', async () => {
    const error = await expectError(
      await call(finance.url, 'PUT', '/mode', { mode: 'sideways' }),
      400,
      'malformed_request',
    );
    assert.match(error.reason, /^mode: /);
  });

  void test('an invalid fault is rejected with 400 naming faults', async () => {
    const error = await expectError(
      await call(finance.url, 'POST', '/faults', { faults: ['explode'] }),
      400,
      'malformed_request',
    );
    assert.match(error.reason, /^faults\.0: /);
  });

  void test('health reports ok and the mode', async () => {
    const response = await fetch(`${finance.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', mode: 'normal' });
  });
});

void describe('modes and faults', () => {
  void test('a mode change is reported by GET /mode with defaults filled in, and logged', () =>
    withFinance({}, async ({ url }) => {
      await setMode(url, { mode: 'flaky' });
      const response = await fetch(`${url}/mode`);
      assert.deepEqual(await response.json(), { mode: 'flaky', failureRate: 0.5, latencyMs: 2000 });
      const changes = logged().filter((entry) => entry.message === 'mode changed');
      assert.equal(changes.at(-1)?.mode, 'flaky');
    }));

  void test('down mode answers 503 unavailable and charges nothing', () =>
    withFinance({}, async ({ url }) => {
      await setMode(url, { mode: 'down' });
      const request = paymentRequest();
      await expectError(await pay(url, request), 503, 'unavailable');

      const record = await chargesFor(url, request.idempotencyKey);
      assert.equal(record.requests, 1);
      assert.equal(record.charges, 0);
    }));

  void test('queued faults 503, 503 then a success charge once over three requests', () =>
    withFinance({}, async ({ url }) => {
      await queueFaults(url, ['status-503', 'status-503']);
      const request = paymentRequest();
      await expectError(await pay(url, request), 503, 'unavailable');
      await expectError(await pay(url, request), 503, 'unavailable');
      const receipt = await receiptOf(await pay(url, request));

      assert.deepEqual(await chargesFor(url, request.idempotencyKey), {
        idempotencyKey: request.idempotencyKey,
        requests: 3,
        charges: 1,
        receipt,
        refunds: 0,
        refund: null,
      });
    }));

  void test('a queued 429 carries Retry-After: 1 and charges nothing', () =>
    withFinance({}, async ({ url }) => {
      await queueFaults(url, ['status-429']);
      const request = paymentRequest();
      const response = await pay(url, request);
      assert.equal(response.headers.get('retry-after'), '1');
      await expectError(response, 429, 'rate_limited');
      assert.equal((await chargesFor(url, request.idempotencyKey)).charges, 0);
    }));

  void test('DELETE /faults clears the queued faults', () =>
    withFinance({}, async ({ url }) => {
      await queueFaults(url, ['status-500']);
      assert.equal((await call(url, 'DELETE', '/faults')).status, 200);
      await receiptOf(await pay(url, paymentRequest()));
    }));

  void test('a dropped connection still charges, and the retry gets the same receipt', () =>
    withFinance({}, async ({ url }) => {
      await queueFaults(url, ['drop']);
      const request = paymentRequest();
      await assert.rejects(pay(url, request), TypeError);
      const afterDrop = await chargesFor(url, request.idempotencyKey);
      assert.equal(afterDrop.charges, 1);

      const receipt = await receiptOf(await pay(url, request));
      assert.deepEqual(receipt, afterDrop.receipt);
      const afterRetry = await chargesFor(url, request.idempotencyKey);
      assert.equal(afterRetry.requests, 2);
      assert.equal(afterRetry.charges, 1);
    }));

  void test('a hang answers 503 after hangMs when the client waits that long', () =>
    withFinance({ hangMs: 100 }, async ({ url }) => {
      await queueFaults(url, ['hang']);
      const request = paymentRequest();
      const started = performance.now();
      await expectError(await pay(url, request), 503, 'unavailable');
      assert.ok(performance.now() - started >= 100);
      assert.equal((await chargesFor(url, request.idempotencyKey)).charges, 0);
    }));

  void test('a client giving up on a hang lets the server close at once, with no late answer', async () => {
    const hangMs = 500;
    const finance = await startFinance({ hangMs });
    await queueFaults(finance.url, ['hang']);
    const request = paymentRequest();
    await assert.rejects(pay(finance.url, request, { signal: AbortSignal.timeout(200) }), {
      name: 'TimeoutError',
    });

    const started = performance.now();
    await finance.close();
    assert.ok(performance.now() - started < hangMs / 2, 'close waited for the hang');
    // Had the timer survived the client, it would log an answer once hangMs has passed.
    await sleep(hangMs);
    const answered = loggedFor(request.idempotencyKey).filter(
      (entry) => entry.message === 'payment answered',
    );
    assert.deepEqual(answered, []);
  });

  void test('flaky mode fails the calls that random picks, with the fault random picks', () =>
    // Per call: one draw against failureRate, then (on failure) one draw picking the fault among
    // the eight transient ones (status-500, status-503, status-429, hang, drop, …).
    withFinance({ random: randomSequence(0.1, 0.1, 0.2, 0.3, 0.9) }, async ({ url }) => {
      await setMode(url, { mode: 'flaky', failureRate: 0.5 });
      const request = paymentRequest();
      await expectError(await pay(url, request), 500, 'internal_error');
      await expectError(await pay(url, request), 429, 'rate_limited');
      await receiptOf(await pay(url, request));

      const record = await chargesFor(url, request.idempotencyKey);
      assert.equal(record.requests, 3);
      assert.equal(record.charges, 1);
    }));

  void test('flaky mode picks among the transient faults only: the top draw is status-503-empty', () =>
    withFinance({ random: randomSequence(0.1, 0.999) }, async ({ url }) => {
      await setMode(url, { mode: 'flaky', failureRate: 0.5 });
      const request = paymentRequest();
      const response = await pay(url, request);
      assert.equal(response.status, 503);
      assert.equal(await response.text(), '');
      assert.equal((await chargesFor(url, request.idempotencyKey)).charges, 0);
    }));

  void test('slow mode adds latencyMs before answering', () =>
    withFinance({}, async ({ url }) => {
      await setMode(url, { mode: 'slow', latencyMs: 150 });
      const started = performance.now();
      await receiptOf(await pay(url, paymentRequest()));
      assert.ok(performance.now() - started >= 150);
    }));
});
