/**
 * The finance client against the real simulator on a loopback port: each outcome of a charge, a
 * lookup and a refund, and the bounds every reason keeps whatever the package sends back. Two
 * tests use a bare HTTP server instead, for answers the simulator never gives (a body that
 * stalls, a body without end).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  FinanceClient,
  MAX_FINANCE_REASON_LENGTH,
  type RefundOutcome,
} from '../../clients/finance';
import type { RefundRequest } from '../../domain/finance';
import { paymentRequest, startFinance, type RunningFinance } from '../support/finance';
import { waitFor } from '../support/wait';

function refundOf(paymentKey: string): RefundRequest {
  return { idempotencyKey: `refund-${randomUUID()}`, paymentKey, reason: 'order cancelled' };
}

/** No control characters and within the limit: what every reason must be. */
function assertBounded(reason: string): void {
  assert.ok(reason.length <= MAX_FINANCE_REASON_LENGTH, `reason of ${reason.length} characters`);
  assert.doesNotMatch(reason, /\p{Cc}/u);
}

function assertKind<K extends string>(
  outcome: { kind: string },
  kind: K,
): asserts outcome is { kind: K } {
  assert.equal(outcome.kind, kind, JSON.stringify(outcome));
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

void describe('finance client (real simulator on loopback)', () => {
  let finance: RunningFinance;
  let client: FinanceClient;

  before(async () => {
    finance = await startFinance({ hangMs: 60_000, lateChargeMs: 300 });
    client = new FinanceClient(finance.url, 5_000);
  });
  beforeEach(() => finance.reset());
  after(() => finance.close());

  const chargedKey = async (): Promise<string> => {
    const request = paymentRequest();
    assertKind(await client.charge(request), 'charged');
    return request.idempotencyKey;
  };

  void describe('charge', () => {
    void test('a 200 is charged with the receipt', async () => {
      const request = paymentRequest();
      const outcome = await client.charge(request);
      assert.ok(outcome.kind === 'charged', JSON.stringify(outcome));
      assert.equal(outcome.receipt.idempotencyKey, request.idempotencyKey);
      assert.match(outcome.receipt.paymentReference, /^PAY-/);
    });

    void test('a business 400 is rejected with its code and reason', async () => {
      const outcome = await client.charge(paymentRequest({ amount: '0.00' }));
      assert.deepEqual(outcome, {
        kind: 'rejected',
        status: 400,
        code: 'amount_not_positive',
        reason: 'amount 0.00 must be greater than zero',
      });
    });

    void test('a 503 and a 429 are unavailable; Retry-After is honoured', async () => {
      await finance.queueFaults('status-503', 'status-429');
      assert.deepEqual(await client.charge(paymentRequest()), {
        kind: 'unavailable',
        status: 503,
        reason: '503 unavailable: the finance package is unavailable',
        retryAfterMs: null,
      });
      const throttled = await client.charge(paymentRequest());
      assertKind(throttled, 'unavailable');
      assert.equal((throttled as { retryAfterMs: number | null }).retryAfterMs, 1000);
    });

    void test('409 idempotency_key_in_use is unavailable with retryAfterMs 1000, not a rejection', async () => {
      await finance.setMode({ mode: 'slow', latencyMs: 500 });
      const request = paymentRequest();
      const first = client.charge(request);
      await waitFor(
        'the first request to be pending',
        () => finance.pending(),
        (keys) => keys.includes(request.idempotencyKey),
      );
      const second = await client.charge(request);
      assert.equal(second.kind, 'unavailable');
      assert.ok(second.kind === 'unavailable');
      assert.equal(second.status, 409);
      assert.equal(second.retryAfterMs, 1000);
      assert.match(second.reason, /^409 idempotency_key_in_use: /);
      assertKind(await first, 'charged');
    });

    void test('a 20,000-character decline is rejected with a reason of at most 500 characters', async () => {
      await finance.queueFaults('reject-long');
      const outcome = await client.charge(paymentRequest());
      assert.ok(outcome.kind === 'rejected', JSON.stringify(outcome).slice(0, 200));
      assert.equal(outcome.status, 400);
      assert.equal(outcome.code, 'card_declined');
      assert.equal(outcome.reason.length, MAX_FINANCE_REASON_LENGTH);
      assert.ok(outcome.reason.endsWith('…'));
      assert.match(outcome.reason, /^The card was declined by the issuing bank/);
    });

    void test("a proxy's HTML 400 is rejected as an HTML page with its title", async () => {
      await finance.queueFaults('reject-html');
      const outcome = await client.charge(paymentRequest());
      assert.ok(outcome.kind === 'rejected');
      assert.equal(outcome.status, 400);
      assert.equal(outcome.code, 'http_400');
      assert.match(outcome.reason, /^HTML page \(\d+ bytes\): 400 Bad Request$/);
    });

    void test("a load balancer's HTML 502 is unavailable, described in one short line", async () => {
      await finance.queueFaults('status-502-html');
      const outcome = await client.charge(paymentRequest());
      assert.ok(outcome.kind === 'unavailable');
      assert.equal(outcome.status, 502);
      assert.match(outcome.reason, /^502 http_502: HTML page \(\d+ bytes\): 502 Bad Gateway$/);
    });

    void test('an empty 503 is unavailable: empty body', async () => {
      await finance.queueFaults('status-503-empty');
      assert.deepEqual(await client.charge(paymentRequest()), {
        kind: 'unavailable',
        status: 503,
        reason: '503 http_503: empty body',
        retryAfterMs: null,
      });
    });

    void test('control characters in a reason become spaces', async () => {
      const request = paymentRequest();
      assertKind(await client.charge(request), 'charged');
      // The reused-key reason quotes the order id, which may hold anything.
      const outcome = await client.charge({ ...request, orderId: 'evil\r\nX-Injected: 1\u0007' });
      assert.ok(outcome.kind === 'rejected');
      assert.equal(outcome.code, 'idempotency_key_reused');
      assertBounded(outcome.reason);
      assert.match(outcome.reason, /evil {2}X-Injected: 1 /);
    });

    void test('a dropped connection and a refused one are unavailable with no status', async () => {
      await finance.queueFaults('drop');
      const dropped = await client.charge(paymentRequest());
      assert.ok(dropped.kind === 'unavailable');
      assert.equal(dropped.status, null);
      assertBounded(dropped.reason);

      const port = await new Promise<number>((resolve) => {
        const probe = createTcpServer().listen(0, '127.0.0.1', () => {
          const { port: free } = probe.address() as AddressInfo;
          probe.close(() => resolve(free));
        });
      });
      const refused = await new FinanceClient(`http://127.0.0.1:${port}`, 2_000).charge(
        paymentRequest(),
      );
      assert.ok(refused.kind === 'unavailable');
      assert.match(refused.reason, /ECONNREFUSED/);
    });

    void test('a hang past the client timeout is unavailable; a cancel is rethrown', async () => {
      await finance.queueFaults('hang', 'hang');
      const timedOut = await new FinanceClient(finance.url, 200).charge(paymentRequest());
      assert.deepEqual(timedOut, {
        kind: 'unavailable',
        status: null,
        reason: 'no answer within 200 ms',
        retryAfterMs: null,
      });
      const cancel = new AbortController();
      const running = client.charge(paymentRequest(), cancel.signal);
      setTimeout(() => cancel.abort(), 100);
      await assert.rejects(running, { name: 'AbortError' });
    });
  });

  void describe('lookup', () => {
    void test('charged with no refund, then with the refund', async () => {
      const key = await chargedKey();
      const before = await client.lookup(key);
      assert.ok(before.kind === 'charged');
      assert.equal(before.receipt.idempotencyKey, key);
      assert.equal(before.refund, null);

      const refunded = await client.refund(refundOf(key));
      assert.ok(refunded.kind === 'refunded');
      const afterRefund = await client.lookup(key);
      assert.ok(afterRefund.kind === 'charged');
      assert.deepEqual(afterRefund.refund, refunded.refund);
    });

    void test('pending while a payment is held, not_found for a key never charged', async () => {
      await finance.queueFaults('late-charge');
      const request = paymentRequest();
      const lost = await new FinanceClient(finance.url, 150).charge(request);
      assertKind(lost, 'unavailable');
      assert.deepEqual(await client.lookup(request.idempotencyKey), {
        kind: 'pending',
        retryAfterMs: 1000,
      });
      assert.deepEqual(await client.lookup(`pay-${randomUUID()}`), { kind: 'not_found' });
      const charged = await waitFor(
        'the late charge',
        () => client.lookup(request.idempotencyKey),
        (outcome) => outcome.kind === 'charged',
        { timeoutMs: 5_000, everyMs: 50 },
      );
      assertKind(charged, 'charged');
    });

    void test('a 503, an HTML 502 or an empty 503 is unavailable, never not_found', async () => {
      const key = await chargedKey();
      await finance.queueFaultsFor(
        'lookup',
        'status-503',
        'status-502-html',
        'status-503-empty',
        'reject-html',
      );
      for (const status of [503, 502, 503, 400]) {
        const outcome = await client.lookup(key);
        assert.ok(outcome.kind === 'unavailable', JSON.stringify(outcome));
        assert.equal(outcome.status, status);
        assertBounded(outcome.reason);
      }
    });
  });

  void describe('refund', () => {
    void test('refunded, and the same refund key again answers the same refund once', async () => {
      const key = await chargedKey();
      const asked = refundOf(key);
      const first = await client.refund(asked);
      assert.ok(first.kind === 'refunded');
      assert.equal(first.refund.paymentKey, key);
      assert.equal(first.refund.reason, 'order cancelled');
      assert.deepEqual(await client.refund(asked), first);
      assert.equal((await finance.charges(key)).refunds, 1);
    });

    void test('not_charged for a payment key with no charge', async () => {
      const paymentKey = `pay-${randomUUID()}`;
      assert.deepEqual(await client.refund(refundOf(paymentKey)), {
        kind: 'not_charged',
        reason: `no charge under payment key ${paymentKey}`,
      });
    });

    void test('pending while the payment is still being processed, with retryAfterMs 1000', async () => {
      await finance.queueFaults('late-charge');
      const request = paymentRequest();
      assertKind(await new FinanceClient(finance.url, 150).charge(request), 'unavailable');
      assert.deepEqual(await client.refund(refundOf(request.idempotencyKey)), {
        kind: 'pending',
        retryAfterMs: 1000,
      });
    });

    void test('a second refund key is rejected as charge_already_refunded; a malformed one as malformed_request', async () => {
      const key = await chargedKey();
      assertKind(await client.refund(refundOf(key)), 'refunded');
      const again = await client.refund(refundOf(key));
      assert.ok(again.kind === 'rejected');
      assert.equal(again.status, 409);
      assert.equal(again.code, 'charge_already_refunded');

      const malformed: RefundOutcome = await client.refund({
        ...refundOf(key),
        reason: 'x'.repeat(501),
      });
      assert.ok(malformed.kind === 'rejected');
      assert.equal(malformed.code, 'malformed_request');
      assert.match(malformed.reason, /^reason: /);
    });

    void test('down mode is unavailable; nothing is refunded', async () => {
      const key = await chargedKey();
      await finance.setMode({ mode: 'down' });
      const outcome = await client.refund(refundOf(key));
      assert.ok(outcome.kind === 'unavailable');
      assert.equal(outcome.status, 503);
      await finance.reset();
      assert.equal((await finance.charges(key)).refunds, 0);
    });
  });
});

void describe('finance client against answers the simulator never gives', () => {
  void test('an error body without end is read only up to its cap, and the reason stays bounded', async () => {
    let written = 0;
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      const chunk = 'no\u0000'.repeat(4096);
      // Writes until the client stops reading: far past any sane cap.
      const pump = () => {
        while (written < 50_000_000 && res.write(chunk)) written += chunk.length;
        if (written < 50_000_000) res.once('drain', pump);
        else res.end();
      };
      pump();
    });
    const url = await listen(server);
    try {
      const outcome = await new FinanceClient(url, 5_000).charge(paymentRequest());
      assert.ok(outcome.kind === 'rejected');
      assert.equal(outcome.code, 'http_400');
      assertBounded(outcome.reason);
      assert.ok(written < 5_000_000, `the server wrote ${written} bytes before the client stopped`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  void test('a cancel while an error body is still arriving stays a cancel', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.write('{"code":"unavailable","reason":"');
      // ...and never more.
    });
    const url = await listen(server);
    try {
      const cancel = new AbortController();
      const running = new FinanceClient(url, 5_000).charge(paymentRequest(), cancel.signal);
      setTimeout(() => cancel.abort(), 200);
      await assert.rejects(running, { name: 'AbortError' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  void test('a 200 whose body stalls past the timeout is unavailable: unreadable answer', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"paymentReference":"PAY-');
    });
    const url = await listen(server);
    try {
      assert.deepEqual(await new FinanceClient(url, 300).charge(paymentRequest()), {
        kind: 'unavailable',
        status: 200,
        reason: 'unreadable answer: no answer within 300 ms',
        retryAfterMs: null,
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  void test('a 2xx body that is not a receipt is unavailable: the charge may have happened', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><head><title>Welcome</title></head></html>');
    });
    const url = await listen(server);
    try {
      const outcome = await new FinanceClient(url, 5_000).charge(paymentRequest());
      assert.ok(outcome.kind === 'unavailable');
      assert.equal(outcome.status, 200);
      assert.match(outcome.reason, /^unreadable answer: /);
      assertBounded(outcome.reason);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
