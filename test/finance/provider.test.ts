/**
 * The finance simulator as a real payment provider behaves, seen over HTTP: keys pending while a
 * request is processed, concurrent requests refused, lookups by key, full refunds, and the faults
 * a provider (or a proxy in front of it) produces.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  PAYMENT_PATH,
  REFUNDS_PATH,
  TRANSIENT_FINANCE_FAULTS,
  type FinanceErrorBody,
  type PaymentReceipt,
  type RefundReceipt,
  type RefundRequest,
} from '../../domain/finance';
import { paymentRequest, startFinance, type RunningFinance } from '../support/finance';
import { waitFor } from '../support/wait';

const LATE_CHARGE_MS = 300;

function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

async function ok<T>(response: Response): Promise<T> {
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as T;
}

async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<FinanceErrorBody> {
  const body = (await response.json()) as FinanceErrorBody;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.code, code);
  assert.equal(typeof body.reason, 'string');
  return body;
}

void describe('finance simulator as a payment provider', () => {
  let finance: RunningFinance;
  const pay = (body: unknown, init?: RequestInit) =>
    post(`${finance.url}${PAYMENT_PATH}`, body, init);
  const refund = (body: unknown, init?: RequestInit) =>
    post(`${finance.url}${REFUNDS_PATH}`, body, init);
  const refundOf = (paymentKey: string, overrides: Partial<RefundRequest> = {}): RefundRequest => ({
    idempotencyKey: `refund-${randomUUID()}`,
    paymentKey,
    ...overrides,
  });
  const charged = async (request = paymentRequest()) => ({
    request,
    receipt: await ok<PaymentReceipt>(await pay(request)),
  });

  before(async () => {
    finance = await startFinance({ hangMs: 60_000, lateChargeMs: LATE_CHARGE_MS });
  });
  beforeEach(() => finance.reset());
  after(() => finance.close());

  void describe('pending keys and concurrent requests', () => {
    void test('in slow mode the key is pending during the sleep; a second request gets 409 idempotency_key_in_use', async () => {
      await finance.setMode({ mode: 'slow', latencyMs: 500 });
      const request = paymentRequest();
      const first = pay(request);
      await waitFor(
        'the key to be pending',
        () => finance.pending(),
        (keys) => keys.includes(request.idempotencyKey),
      );
      const lookup = await fetch(`${finance.url}/payments/${request.idempotencyKey}`);
      assert.equal(lookup.headers.get('retry-after'), '1');
      assert.deepEqual(await ok(lookup), { status: 'pending' });

      const second = await pay(request);
      assert.equal(second.headers.get('retry-after'), '1');
      const error = await expectError(second, 409, 'idempotency_key_in_use');
      assert.match(error.reason, new RegExp(request.idempotencyKey));

      const receipt = await ok<PaymentReceipt>(await first);
      assert.ok(!(await finance.pending()).includes(request.idempotencyKey));
      assert.deepEqual(await finance.lookup(request.idempotencyKey), {
        status: 'charged',
        receipt,
        refund: null,
      });
      const record = await finance.charges(request.idempotencyKey);
      assert.equal(record.requests, 2);
      assert.equal(record.charges, 1);
    });

    void test('in slow mode a client that gives up during the sleep is still charged after it', async () => {
      await finance.setMode({ mode: 'slow', latencyMs: 400 });
      const request = paymentRequest();
      await assert.rejects(pay(request, { signal: AbortSignal.timeout(100) }), {
        name: 'TimeoutError',
      });
      assert.deepEqual(await finance.lookup(request.idempotencyKey), { status: 'pending' });
      const lookup = await waitFor(
        'the charge after the sleep',
        () => finance.lookup(request.idempotencyKey),
        (answer) => answer.status === 'charged',
        { timeoutMs: 5_000, everyMs: 50 },
      );
      assert.equal(lookup.status, 'charged');
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 1);
    });

    void test('a charged key with another request in progress answers the stored receipt, not 409', async () => {
      const { request, receipt } = await charged();
      await finance.setMode({ mode: 'slow', latencyMs: 300 });
      const replaying = pay(request);
      await waitFor(
        'the replay to be pending',
        () => finance.pending(),
        (keys) => keys.includes(request.idempotencyKey),
      );
      assert.deepEqual(await ok<PaymentReceipt>(await pay(request)), receipt);
      assert.deepEqual(await ok<PaymentReceipt>(await replaying), receipt);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 1);
    });

    void test('late-charge: the client gives up, the key is pending, then it is charged lateChargeMs later', async () => {
      await finance.queueFaults('late-charge');
      const request = paymentRequest();
      await assert.rejects(pay(request, { signal: AbortSignal.timeout(200) }), {
        name: 'TimeoutError',
      });
      const gaveUpAt = performance.now();

      assert.deepEqual(await finance.lookup(request.idempotencyKey), { status: 'pending' });
      assert.deepEqual(await finance.pending(), [request.idempotencyKey]);
      const refusal = await refund(refundOf(request.idempotencyKey));
      assert.equal(refusal.headers.get('retry-after'), '1');
      await expectError(refusal, 409, 'payment_pending');
      await expectError(await pay(request), 409, 'idempotency_key_in_use');
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);

      const lookup = await waitFor(
        'the late charge',
        () => finance.lookup(request.idempotencyKey),
        (answer) => answer.status === 'charged',
        { timeoutMs: 5_000, everyMs: 25 },
      );
      const waited = performance.now() - gaveUpAt;
      assert.ok(waited >= LATE_CHARGE_MS - 50, `charged ${Math.round(waited)} ms after the abort`);
      assert.deepEqual(await finance.pending(), []);

      const record = await finance.charges(request.idempotencyKey);
      assert.equal(record.charges, 1);
      assert.equal(record.requests, 2, 'the late one and the refused one');
      assert.ok(lookup.status === 'charged');
      assert.deepEqual(await ok<PaymentReceipt>(await pay(request)), lookup.receipt);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 1);
    });

    void test('late-charge: a client still waiting after hangMs is charged and answered 200', async () => {
      const patient = await startFinance({ hangMs: 300, lateChargeMs: 5_000 });
      try {
        await patient.queueFaults('late-charge');
        const request = paymentRequest();
        const started = performance.now();
        const answer = post(`${patient.url}${PAYMENT_PATH}`, request);
        await waitFor(
          'the key to be pending',
          () => patient.pending(),
          (keys) => keys.includes(request.idempotencyKey),
        );
        const receipt = await ok<PaymentReceipt>(await answer);
        assert.ok(performance.now() - started >= 300);
        assert.equal(receipt.idempotencyKey, request.idempotencyKey);
        const record = await patient.charges(request.idempotencyKey);
        assert.equal(record.charges, 1);
        assert.deepEqual(record.receipt, receipt);
        assert.deepEqual(await patient.pending(), []);
      } finally {
        await patient.close();
      }
    });
  });

  void describe('GET /payments/:key', () => {
    void test('a charged key answers the receipt and no refund', async () => {
      const { request, receipt } = await charged();
      assert.deepEqual(await finance.lookup(request.idempotencyKey), {
        status: 'charged',
        receipt,
        refund: null,
      });
    });

    void test('an unknown key, and a key whose payment was rejected, answer 404 payment_not_found', async () => {
      const unknown = `pay-${randomUUID()}`;
      const answer = await finance.lookup(unknown);
      assert.equal(answer.status, 'not_found');
      assert.ok('code' in answer);
      assert.equal(answer.code, 'payment_not_found');
      assert.match(answer.reason, new RegExp(unknown));

      const rejected = paymentRequest({ amount: '0.00' });
      await expectError(await pay(rejected), 400, 'amount_not_positive');
      assert.equal((await finance.lookup(rejected.idempotencyKey)).status, 'not_found');
    });
  });

  void describe('POST /refunds', () => {
    void test('refunds the whole charge, and records it per payment key', async () => {
      const { request, receipt } = await charged();
      const asked = refundOf(request.idempotencyKey, { reason: 'order cancelled' });
      const refunded = await ok<RefundReceipt>(await refund(asked));

      assert.match(refunded.refundReference, /^REF-[0-9a-f]{16}$/);
      assert.match(refunded.refundedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
      assert.deepEqual(
        { ...refunded, refundReference: undefined, refundedAt: undefined },
        {
          refundReference: undefined,
          refundedAt: undefined,
          idempotencyKey: asked.idempotencyKey,
          paymentKey: request.idempotencyKey,
          paymentReference: receipt.paymentReference,
          orderId: request.orderId,
          amount: '12.50',
          currency: 'GBP',
          reason: 'order cancelled',
        },
      );
      const record = await finance.charges(request.idempotencyKey);
      assert.equal(record.refunds, 1);
      assert.deepEqual(record.refund, refunded);
      assert.deepEqual(await finance.lookup(request.idempotencyKey), {
        status: 'charged',
        receipt,
        refund: refunded,
      });
      const activity = (await finance.activity()).find(
        (key) => key.idempotencyKey === request.idempotencyKey,
      );
      assert.equal(activity?.refunds, 1);
      assert.deepEqual(activity?.refund, refunded);
    });

    void test('the same refund key again answers the same receipt and refunds once', async () => {
      const { request } = await charged();
      const asked = refundOf(request.idempotencyKey);
      const first = await ok<RefundReceipt>(await refund(asked));
      const second = await ok<RefundReceipt>(await refund(asked));
      assert.deepEqual(second, first);
      assert.equal(first.reason, null);
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 1);
    });

    void test('a refund key used for another payment is 409 idempotency_key_reused', async () => {
      const one = await charged();
      const other = await charged();
      const asked = refundOf(one.request.idempotencyKey);
      await ok<RefundReceipt>(await refund(asked));
      const error = await expectError(
        await refund({ ...asked, paymentKey: other.request.idempotencyKey }),
        409,
        'idempotency_key_reused',
      );
      assert.match(error.reason, new RegExp(other.request.idempotencyKey));
      assert.equal((await finance.charges(other.request.idempotencyKey)).refunds, 0);
    });

    void test('a second refund key for a refunded payment is 409 charge_already_refunded', async () => {
      const { request } = await charged();
      await ok<RefundReceipt>(await refund(refundOf(request.idempotencyKey)));
      await expectError(
        await refund(refundOf(request.idempotencyKey)),
        409,
        'charge_already_refunded',
      );
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 1);
    });

    void test('a refund key still being processed answers 409 idempotency_key_in_use', async () => {
      const { request } = await charged();
      await finance.setMode({ mode: 'slow', latencyMs: 400 });
      const asked = refundOf(request.idempotencyKey);
      const first = refund(asked);
      await waitFor(
        'the refund to be in progress',
        async () => {
          const report = (await (await fetch(`${finance.url}/faults`)).json()) as {
            pendingRefunds: string[];
          };
          return report.pendingRefunds;
        },
        (keys) => keys.includes(asked.idempotencyKey),
      );
      const second = await refund(asked);
      assert.equal(second.headers.get('retry-after'), '1');
      await expectError(second, 409, 'idempotency_key_in_use');
      await ok<RefundReceipt>(await first);
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 1);
    });

    void test('a payment key with no charge is 404 payment_not_found', async () => {
      const paymentKey = `pay-${randomUUID()}`;
      const error = await expectError(await refund(refundOf(paymentKey)), 404, 'payment_not_found');
      assert.equal(error.reason, `no charge under payment key ${paymentKey}`);
    });

    void test('a refund body is validated strictly, naming the field', async () => {
      const { request } = await charged();
      const cases: [unknown, RegExp][] = [
        [{ idempotencyKey: 'r-1' }, /^paymentKey: /],
        [{ ...refundOf(request.idempotencyKey), idempotencyKey: '' }, /^idempotencyKey: /],
        [{ ...refundOf(request.idempotencyKey), reason: 'x'.repeat(501) }, /^reason: /],
        [{ ...refundOf(request.idempotencyKey), amount: '1.00' }, /amount/],
      ];
      for (const [body, reason] of cases) {
        const error = await expectError(await refund(body), 400, 'malformed_request');
        assert.match(error.reason, reason);
      }
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 0);
    });
  });

  void describe('faults on the money endpoints', () => {
    void test('reject-long: 400 card_declined with a 20,000-character reason, nothing charged', async () => {
      await finance.queueFaults('reject-long');
      const request = paymentRequest();
      const response = await pay(request);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const error = await expectError(response, 400, 'card_declined');
      assert.equal(error.reason.length, 20_000);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);
    });

    void test('reject-html: 400 with a WAF page in text/html, nothing charged', async () => {
      await finance.queueFaults('reject-html');
      const request = paymentRequest();
      const response = await pay(request);
      assert.equal(response.status, 400);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      const page = await response.text();
      assert.match(page, /^<!DOCTYPE html>/);
      assert.match(page, /<title>400 Bad Request<\/title>/);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);
    });

    void test("status-502-html: 502 with a load balancer's HTML page, nothing charged", async () => {
      await finance.queueFaults('status-502-html');
      const request = paymentRequest();
      const response = await pay(request);
      assert.equal(response.status, 502);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await response.text(), /<title>502 Bad Gateway<\/title>/);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);
    });

    void test('status-503-empty: 503 with an empty body, nothing charged', async () => {
      await finance.queueFaults('status-503-empty');
      const request = paymentRequest();
      const response = await pay(request);
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('content-type'), null);
      assert.equal(await response.text(), '');
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);
    });

    void test('drop on a payment still charges; the retry gets the same receipt', async () => {
      await finance.queueFaults('drop');
      const request = paymentRequest();
      await assert.rejects(pay(request), TypeError);
      const lookup = await finance.lookup(request.idempotencyKey);
      assert.ok(lookup.status === 'charged');
      assert.deepEqual(await ok<PaymentReceipt>(await pay(request)), lookup.receipt);
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 1);
    });

    void test('drop on a refund still refunds; the replay gets the same refund', async () => {
      const { request } = await charged();
      await finance.queueFaultsFor('refund', 'drop');
      const asked = refundOf(request.idempotencyKey);
      await assert.rejects(refund(asked), TypeError);
      const record = await finance.charges(request.idempotencyKey);
      assert.equal(record.refunds, 1);
      assert.deepEqual(await ok<RefundReceipt>(await refund(asked)), record.refund);
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 1);
    });

    void test('faults queued for any endpoint serve all three, in order of arrival', async () => {
      const { request } = await charged();
      await finance.queueFaultsFor('any', 'status-500', 'status-429', 'status-503');
      await expectError(await refund(refundOf(request.idempotencyKey)), 500, 'internal_error');
      const lookup = await fetch(`${finance.url}/payments/${request.idempotencyKey}`);
      assert.equal(lookup.headers.get('retry-after'), '1');
      await expectError(lookup, 429, 'rate_limited');
      await expectError(await pay(paymentRequest()), 503, 'unavailable');
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 0);
      assert.equal((await finance.lookup(request.idempotencyKey)).status, 'charged');
    });

    void test('faults queued for payments (the default) leave lookups and refunds alone', async () => {
      const { request } = await charged();
      await finance.queueFaults('status-503');
      assert.equal((await finance.lookup(request.idempotencyKey)).status, 'charged');
      await ok<RefundReceipt>(await refund(refundOf(request.idempotencyKey)));
      await expectError(await pay(paymentRequest()), 503, 'unavailable');
    });

    void test('down mode answers 503 on payments, lookups and refunds', async () => {
      const { request } = await charged();
      await finance.setMode({ mode: 'down' });
      await expectError(await pay(paymentRequest()), 503, 'unavailable');
      await expectError(
        await fetch(`${finance.url}/payments/${request.idempotencyKey}`),
        503,
        'unavailable',
      );
      await expectError(await refund(refundOf(request.idempotencyKey)), 503, 'unavailable');
      assert.equal((await finance.charges(request.idempotencyKey)).refunds, 0);
    });

    void test('flaky mode picks only faults a retry gets past', () => {
      for (const permanent of ['reject-long', 'reject-html'] as const) {
        assert.ok(!(TRANSIENT_FINANCE_FAULTS as readonly string[]).includes(permanent));
      }
    });

    void test('GET /faults reports the keys pending now', async () => {
      await finance.queueFaults('hang');
      const request = paymentRequest();
      const controller = new AbortController();
      const hanging = pay(request, { signal: controller.signal });
      hanging.catch(() => undefined); // aborted below
      await waitFor(
        'the hung key to be pending',
        () => finance.pending(),
        (keys) => keys.includes(request.idempotencyKey),
      );
      const report = (await (await fetch(`${finance.url}/faults`)).json()) as {
        hung: { idempotencyKey: string | null }[];
        pending: string[];
      };
      assert.ok(report.hung.some((hung) => hung.idempotencyKey === request.idempotencyKey));
      assert.deepEqual(report.pending, [request.idempotencyKey]);

      controller.abort();
      await waitFor(
        'the key to be released',
        () => finance.pending(),
        (keys) => keys.length === 0,
        {
          timeoutMs: 5_000,
          everyMs: 25,
        },
      );
      assert.equal((await finance.charges(request.idempotencyKey)).charges, 0);
    });
  });
});
