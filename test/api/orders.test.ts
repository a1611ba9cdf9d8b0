/**
 * The order API over real HTTP, in-process on a loopback port, against the Temporal dev server,
 * real workers, the finance simulator, and SQLite then PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type {
  OrderDetailResponse,
  OrderListResponse,
  OrderResponse,
  StatsResponse,
} from '../../api/schemas';
import { DATABASES } from '../support/database';
import type { TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import {
  errorOf,
  orderBody,
  startApi,
  startSystemWithApi,
  type Answer,
  type RunningApi,
} from './harness';

void describe('order API', () => {
  const devServer = devServerForSuite();

  for (const target of DATABASES) {
    void describe(`over HTTP with ${target.name}`, () => {
      let system: TestSystem;
      let api: RunningApi;

      let stop: () => Promise<void>;

      before(async () => {
        ({ system, api, stop } = await startSystemWithApi(devServer(), await target.url()));
      });
      after(() => stop?.());

      const place = async (overrides: Record<string, unknown> = {}, headers = {}) => {
        const answer = await api.call('POST', '/api/orders', {
          json: orderBody(overrides),
          headers,
        });
        assert.equal(answer.status, 201, answer.text);
        return answer.body as OrderResponse;
      };
      const detail = async (id: string) => {
        const answer = await api.call('GET', `/api/orders/${id}`);
        assert.equal(answer.status, 200, answer.text);
        return answer.body as OrderDetailResponse;
      };
      const detailWhen = (id: string, done: (order: OrderDetailResponse) => boolean) =>
        waitFor(`order ${id} to reach the expected state`, () => detail(id), done, {
          timeoutMs: 30_000,
          everyMs: 200,
        });
      const list = async (query: string) => {
        const answer = await api.call('GET', `/api/orders?${query}`);
        assert.equal(answer.status, 200, answer.text);
        return answer.body as OrderListResponse;
      };

      void test('a placed order answers 201 with its Location and exact amount, then ends processed', async () => {
        const answer = await api.call('POST', '/api/orders', {
          json: orderBody({ quantity: 3, unitPrice: '19.99' }),
        });
        assert.equal(answer.status, 201, answer.text);
        const order = answer.body as OrderResponse;
        assert.equal(answer.headers.get('location'), `/api/orders/${order.id}`);
        assert.equal(order.amount, '59.97');
        assert.equal(order.unitPrice, '19.99');
        assert.equal(order.status, 'queued');
        assert.equal(order.workflowId, `order-${order.id}`);
        // The answer does not wait on Temporal: the launcher starts the workflow just after.
        assert.equal(order.workflowStartedAt, null);

        const done = await detailWhen(order.id, (o) => o.status === 'processed');
        assert.match(done.paymentReference ?? '', /^PAY-/);
        assert.equal(done.attempts, 1);
        assert.ok(done.processedAt);
        assert.ok(done.workflowStartedAt, 'the launcher recorded the start');
        assert.equal(
          done.temporalUiUrl,
          `http://127.0.0.1:8233/namespaces/default/workflows/order-${order.id}`,
        );
        assert.ok(!('error' in done.temporal), JSON.stringify(done.temporal));
        assert.equal(done.temporal.workflowId, order.workflowId);
        assert.ok(done.temporal.runId.length > 0);
        assert.equal(done.temporal.executionStatus, 'COMPLETED');
        assert.equal(done.temporal.payment, null);
      });

      void test('a price sent as a JSON number is taken exactly: 3 × 0.1 costs 0.30', async () => {
        const order = await place({ quantity: 3, unitPrice: 0.1 });
        assert.equal(order.unitPrice, '0.10');
        assert.equal(order.amount, '0.30');
      });

      void test('datePlaced is stored in UTC; without it the order is dated at the request', async () => {
        const dated = await place({ datePlaced: '2026-07-01T10:00:00+01:00' });
        assert.equal(dated.datePlaced, '2026-07-01T09:00:00.000Z');
        const before = Date.now();
        const undated = await place({ datePlaced: undefined });
        const at = Date.parse(undated.datePlaced);
        assert.ok(at >= before - 1000 && at <= Date.now() + 1000, undated.datePlaced);
      });

      void test('an order dated in the year 3000 is accepted, then fails in its workflow with the reason', async () => {
        const order = await place({ datePlaced: '3000-01-01T00:00:00Z' });
        const failed = await detailWhen(order.id, (o) => o.status === 'failed');
        assert.match(failed.failureReason ?? '', /date_in_future|in the future/);
        assert.ok(!('error' in failed.temporal));
        // A failed order's workflow waits for an operator: still running, and says so itself.
        assert.equal(failed.temporal.executionStatus, 'RUNNING');
        assert.equal(failed.temporal.workflowStatus, 'failed');
        assert.match(failed.temporal.lastFailure ?? '', /future/);
        assert.deepEqual(
          failed.temporal.history?.map((h) => h.status),
          ['queued', 'processing', 'failed'],
        );
        const listed = await list(`status=failed&customerId=${failed.customerId}`);
        assert.deepEqual(
          listed.orders.map((o) => o.id),
          [order.id],
        );
      });

      void test('the same Idempotency-Key and order answers 200 with the first order; another order 409', async () => {
        const key = randomUUID();
        const body = orderBody({ unitPrice: '12.50', datePlaced: '2026-07-01T10:00:00+01:00' });
        const first = await api.call('POST', '/api/orders', {
          json: body,
          headers: { 'idempotency-key': key },
        });
        assert.equal(first.status, 201, first.text);
        const id = (first.body as OrderResponse).id;

        // The same order written differently is the same request.
        const again = await api.call('POST', '/api/orders', {
          json: { ...body, unitPrice: 12.5, datePlaced: '2026-07-01T09:00:00Z' },
          headers: { 'idempotency-key': key },
        });
        assert.equal(again.status, 200, again.text);
        assert.equal((again.body as OrderResponse).id, id);
        assert.equal(again.headers.get('location'), `/api/orders/${id}`);

        const different = await api.call('POST', '/api/orders', {
          json: { ...body, quantity: 3 },
          headers: { 'idempotency-key': key },
        });
        assert.equal(different.status, 409);
        const error = errorOf(different);
        assert.equal(error.code, 'idempotency_key_reused');
        assert.equal(error.details?.[0]?.path, 'Idempotency-Key');

        const listed = await list(`customerId=${String(body.customerId)}`);
        assert.equal(listed.orders.length, 1, 'one order, however often it was sent');
      });

      void test('requests racing with one new Idempotency-Key create exactly one order', async () => {
        const key = randomUUID();
        const body = orderBody();
        const answers = await Promise.all(
          Array.from({ length: 6 }, () =>
            api.call('POST', '/api/orders', { json: body, headers: { 'idempotency-key': key } }),
          ),
        );
        const statuses = answers.map((a) => a.status).sort();
        assert.deepEqual(statuses, [200, 200, 200, 200, 200, 201]);
        assert.equal(new Set(answers.map((a) => (a.body as OrderResponse).id)).size, 1);
      });

      void test('listing is newest first and pages by cursor without gaps or repeats', async () => {
        const customerId = `cust-${randomUUID()}`;
        const placed: string[] = [];
        for (let i = 0; i < 5; i += 1) placed.push((await place({ customerId })).id);

        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: OrderListResponse = await list(
            `customerId=${customerId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          );
          assert.ok(page.orders.length <= 2);
          seen.push(...page.orders.map((o) => o.id));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor);
        assert.equal(pages, 3);
        assert.deepEqual(seen, [...placed].reverse());
      });

      void test('the listing without filters shows the newest order first', async () => {
        const order = await place();
        const page = await list('limit=1');
        assert.equal(page.orders[0]?.id, order.id);
        assert.ok(page.nextCursor);
      });

      void test('unicode and SQL-looking text is stored and listed verbatim', async () => {
        const customerId = `'; DROP TABLE orders; -- ${randomUUID().slice(0, 8)}`;
        const product = 'Ünïcødé 🚀 商品 "quoted" \\ back';
        const order = await place({ customerId, product });
        assert.equal(order.customerId, customerId);
        assert.equal(order.product, product);
        const listed = await list(`customerId=${encodeURIComponent(customerId)}`);
        assert.deepEqual(
          listed.orders.map((o) => [o.id, o.product]),
          [[order.id, product]],
        );
      });

      void test('an unknown order is 404 order_not_found; an unknown route is 404 not_found', async () => {
        const unknown = await api.call('GET', `/api/orders/${randomUUID()}`);
        assert.equal(unknown.status, 404);
        assert.equal(errorOf(unknown).code, 'order_not_found');
        const nowhere = await api.call('GET', '/api/nothing-here');
        assert.equal(nowhere.status, 404);
        assert.equal(errorOf(nowhere).code, 'not_found');
      });

      void test('a method a route does not have is 405 with Allow', async () => {
        const answer = await api.call('DELETE', '/api/orders');
        assert.equal(answer.status, 405);
        assert.equal(answer.headers.get('allow'), 'GET, HEAD, POST');
        assert.equal(errorOf(answer).code, 'method_not_allowed');
        const cancel = await api.call('GET', `/api/orders/${randomUUID()}/cancel`, {});
        assert.equal(cancel.status, 405);
        assert.equal(cancel.headers.get('allow'), 'POST');
      });

      void test('a body that is not JSON is 415; over 64 KiB is 413; broken JSON is 400', async () => {
        const form = await api.call('POST', '/api/orders', {
          raw: 'customerId=c&quantity=1',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(form.status, 415);
        assert.equal(errorOf(form).code, 'unsupported_media_type');

        const huge = await api.call('POST', '/api/orders', {
          json: orderBody({ product: 'x'.repeat(70 * 1024) }),
        });
        assert.equal(huge.status, 413);
        assert.equal(errorOf(huge).code, 'payload_too_large');

        const broken = await api.call('POST', '/api/orders', {
          raw: '{"customerId": "c",',
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(broken.status, 400);
        assert.equal(errorOf(broken).code, 'malformed_json');
      });

      void test('a key given twice in the JSON body is refused and named', async () => {
        const answer = await api.call('POST', '/api/orders', {
          raw: JSON.stringify(orderBody()).replace('{', '{"quantity":1,'),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(answer.status, 400);
        const error = errorOf(answer);
        assert.equal(error.code, 'duplicate_key');
        assert.deepEqual(error.details, [{ path: 'quantity', message: 'appears more than once' }]);
      });

      void test('errors never carry a stack trace', async () => {
        const answers: Answer[] = await Promise.all([
          api.call('POST', '/api/orders', {
            raw: '{',
            headers: { 'content-type': 'application/json' },
          }),
          api.call('GET', '/api/orders/%E0%A4%A'),
          api.call('POST', '/api/orders', { json: orderBody({ quantity: 'x'.repeat(5000) }) }),
        ]);
        for (const answer of answers) {
          assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${answer.text}`);
          assert.doesNotMatch(answer.text, /\bat .+\.(ts|js):\d+/);
          assert.deepEqual(Object.keys(answer.body as object), ['error']);
        }
      });

      void test('more orders per minute than the limit from one client answer 429 with Retry-After', async () => {
        const limited = await startApi({
          db: system.db,
          temporal: devServer().client,
          env: { TEMPORAL_TASK_QUEUE: system.taskQueue, ORDER_RATE_LIMIT_PER_MINUTE: '2' },
        });
        try {
          const send = () => limited.call('POST', '/api/orders', { json: orderBody() });
          assert.equal((await send()).status, 201);
          assert.equal((await send()).status, 201);
          const third = await send();
          assert.equal(third.status, 429);
          assert.equal(errorOf(third).code, 'rate_limited');
          assert.ok(Number(third.headers.get('retry-after')) > 0);
          // Reads are not limited.
          assert.equal((await limited.call('GET', '/api/orders?limit=1')).status, 200);
        } finally {
          await limited.close();
        }
      });

      void test('an unexpected failure is a 500 with a generic message, logged once with its stack', async () => {
        const broken = await startApi({
          db: system.db,
          temporal: devServer().client,
          env: { TEMPORAL_TASK_QUEUE: system.taskQueue },
          override: {
            db: {
              ...system.db,
              orders: Object.assign(Object.create(system.db.orders) as typeof system.db.orders, {
                list: () => Promise.reject(new TypeError('secret internal detail')),
              }),
            },
          },
        });
        try {
          const answer = await broken.call('GET', '/api/orders');
          assert.equal(answer.status, 500);
          assert.deepEqual(answer.body, {
            error: {
              code: 'internal_error',
              message: 'Something went wrong on our side; it has been logged',
            },
          });
          const logged = broken.logs.filter((line) => line.level === 'error');
          assert.equal(logged.length, 1);
          assert.match(String(logged[0]?.stack), /secret internal detail/);
        } finally {
          await broken.close();
        }
      });

      void test('responses carry helmet security headers', async () => {
        const answer = await api.call('GET', '/healthz');
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body, { status: 'ok' });
        assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
        assert.ok(answer.headers.get('content-security-policy'));
        assert.ok(answer.headers.get('strict-transport-security'));
        assert.equal(answer.headers.get('x-powered-by'), null);
      });

      void test('readyz is 200 when the database and Temporal answer', async () => {
        const answer = await api.call('GET', '/readyz');
        assert.equal(answer.status, 200, answer.text);
        assert.deepEqual(answer.body, {
          status: 'ready',
          checks: { database: 'ok', temporal: 'ok' },
        });
      });

      void test('the OpenAPI 3.1 document describes the endpoints with the limits the code enforces', async () => {
        const answer = await api.call('GET', '/api/openapi.json');
        assert.equal(answer.status, 200);
        const doc = answer.body as {
          openapi: string;
          paths: Record<
            string,
            Record<string, { parameters?: { name: string; schema: { maximum?: number } }[] }>
          >;
          components: {
            schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
          };
        };
        assert.equal(doc.openapi, '3.1.0');
        assert.deepEqual(Object.keys(doc.paths).sort(), [
          '/api/admin/features',
          '/api/admin/features/{name}',
          '/api/bulk-actions',
          '/api/bulk-actions/{id}',
          '/api/bulk-actions/{id}/cancel',
          '/api/bulk-actions/{id}/items',
          '/api/bulk-actions/{id}/pause',
          '/api/bulk-actions/{id}/resume',
          '/api/codec/decode',
          '/api/codec/encode',
          '/api/load',
          '/api/openapi.json',
          '/api/orders',
          '/api/orders/export.csv',
          '/api/orders/{id}',
          '/api/orders/{id}/cancel',
          '/api/orders/{id}/retry',
          '/api/scenarios/{name}',
          '/api/session',
          '/api/stats',
          '/api/system',
          '/healthz',
          '/metrics',
          '/readyz',
        ]);
        const limit = doc.paths['/api/orders']?.get?.parameters?.find((p) => p.name === 'limit');
        assert.equal(limit?.schema.maximum, 200);
        const create = doc.components.schemas.CreateOrderRequest;
        assert.deepEqual(create?.required?.sort(), [
          'currency',
          'customerId',
          'product',
          'quantity',
          'unitPrice',
        ]);
        assert.ok(doc.components.schemas.OrderDetail?.properties?.temporal);
      });

      void test('stats: SQL and Temporal visibility agree by status; this minute shows created and processed', async () => {
        const stats = await waitFor(
          'SQL and Temporal visibility to agree',
          async () => {
            const answer = await api.call('GET', '/api/stats');
            assert.equal(answer.status, 200, answer.text);
            return answer.body as StatsResponse;
          },
          (s) =>
            s.byStatus.sql.processing === 0 &&
            s.byStatus.sql.queued === 0 &&
            JSON.stringify(s.byStatus.sql) === JSON.stringify(s.byStatus.temporal),
          { timeoutMs: 30_000, everyMs: 500 },
        );
        assert.equal(stats.byStatus.temporalError, null);
        assert.ok(stats.byStatus.sql.processed >= 5);
        assert.ok(stats.byStatus.sql.failed >= 1);
        assert.equal(stats.perMinute.length, 60);
        const created = stats.perMinute.reduce((sum, m) => sum + m.created, 0);
        const processed = stats.perMinute.reduce((sum, m) => sum + m.processed, 0);
        const total = Object.values(stats.byStatus.sql).reduce((sum, n) => sum + n, 0);
        assert.equal(created, total, 'every order of this run was created within the hour');
        assert.equal(processed, stats.byStatus.sql.processed);
        const minutes = stats.perMinute.map((m) => Date.parse(m.minute));
        assert.ok(minutes.every((m, i) => i === 0 || m - (minutes[i - 1] ?? 0) === 60_000));
      });
    });
  }
});
