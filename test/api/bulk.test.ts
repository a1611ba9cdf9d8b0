/**
 * Search, bulk actions and the CSV export over HTTP, end to end on each database: real workflows
 * on the Temporal dev server, the finance simulator down and back on cue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { BulkActionResponse, OrderListResponse, OrderResponse } from '../../api/schemas';
import { DATABASES } from '../support/database';
import type { TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import { errorOf, orderBody, startSystemWithApi, type RunningApi } from './harness';

interface Preview {
  action: string;
  matched: number;
  sample: OrderResponse[];
}

interface Items {
  items: { seq: number; orderId: string; outcome: string | null; detail: string | null }[];
  nextAfter: number | null;
}

void describe('search, bulk actions and export', () => {
  const devServer = devServerForSuite();

  for (const target of DATABASES) {
    void describe(`over HTTP with ${target.name}`, () => {
      let system: TestSystem;
      let api: RunningApi;
      let stop: () => Promise<void>;

      before(async () => {
        ({ system, api, stop } = await startSystemWithApi(devServer(), await target.url(), {
          PAYMENT_MAX_ATTEMPTS: '2',
        }));
      });
      beforeEach(() => system.finance.reset());
      after(() => stop?.());

      const place = async (overrides: Record<string, unknown> = {}) => {
        const answer = await api.call('POST', '/api/orders', { json: orderBody(overrides) });
        assert.equal(answer.status, 201, answer.text);
        return answer.body as OrderResponse;
      };
      const order = async (id: string) => {
        const answer = await api.call('GET', `/api/orders/${id}`);
        assert.equal(answer.status, 200, answer.text);
        return answer.body as OrderResponse;
      };
      const statusBecomes = (id: string, status: OrderResponse['status']) =>
        waitFor(
          `order ${id} to be ${status}`,
          () => order(id),
          (o) => o.status === status,
          { timeoutMs: 60_000, everyMs: 200 },
        );
      const list = async (query: string) => {
        const answer = await api.call('GET', `/api/orders?${query}`);
        assert.equal(answer.status, 200, answer.text);
        return (answer.body as OrderListResponse).orders.map((o) => o.id);
      };
      const bulk = (json: unknown) => api.call('POST', '/api/bulk-actions', { json });
      const batch = async (id: string) => {
        const answer = await api.call('GET', `/api/bulk-actions/${id}`, {});
        assert.equal(answer.status, 200, answer.text);
        return answer.body as BulkActionResponse;
      };
      const items = async (id: string, query = '') => {
        const answer = await api.call('GET', `/api/bulk-actions/${id}/items?${query}`, {
          as: 'viewer',
        });
        assert.equal(answer.status, 200, answer.text);
        return answer.body as Items;
      };
      const control = (id: string, which: string) =>
        api.call('POST', `/api/bulk-actions/${id}/${which}`, {});
      const charges = async (id: string) =>
        (await system.finance.charges(paymentIdempotencyKey(id))).charges;

      /** `count` orders of a new customer that failed while the finance package was down. */
      async function failedOrders(count: number, overrides: Record<string, unknown> = {}) {
        const customerId = `bulk-${randomUUID().slice(0, 8)}`;
        await system.finance.setMode({ mode: 'down' });
        const placed: OrderResponse[] = [];
        for (let i = 0; i < count; i += 1) placed.push(await place({ customerId, ...overrides }));
        for (const o of placed) await statusBecomes(o.id, 'failed');
        await system.finance.setMode({ mode: 'normal' });
        return { customerId, orders: placed };
      }

      void test('the listing filters by several statuses, failure kind, product and time range', async () => {
        const product = `Gadget ${randomUUID().slice(0, 6)}`;
        const { customerId, orders } = await failedOrders(2, { product });
        const processed = await place({ customerId, product });
        await statusBecomes(processed.id, 'processed');
        const newestFirst = [processed.id, ...orders.map((o) => o.id).reverse()];

        assert.deepEqual(
          await list(`customerId=${customerId}&status=failed,processed`),
          newestFirst,
        );
        assert.deepEqual(
          await list(`customerId=${customerId}&status=failed`),
          orders.map((o) => o.id).reverse(),
        );
        assert.deepEqual(
          await list(`customerId=${customerId}&failureKind=retries_exhausted`),
          orders.map((o) => o.id).reverse(),
        );
        assert.deepEqual(await list(`customerId=${customerId}&failureKind=rejected`), []);
        assert.deepEqual(await list(`product=${encodeURIComponent(product)}`), newestFirst);
        const first = orders[0];
        assert.ok(first);
        const from = encodeURIComponent(first.createdAt);
        assert.deepEqual(
          await list(`customerId=${customerId}&placedFrom=${from}&placedTo=${from}`),
          [first.id],
        );
        assert.deepEqual(await list(`customerId=${customerId}&placedTo=2000-01-01T00:00:00Z`), []);
        // A range that ends before it starts is what the document says: nothing, not an error.
        assert.deepEqual(
          await list(`customerId=${customerId}&placedFrom=${from}&placedTo=2000-01-01T00:00:00Z`),
          [],
        );
        // Pages of one keep the order across the filters.
        const page = await api.call(
          'GET',
          `/api/orders?product=${encodeURIComponent(product)}&limit=1`,
        );
        const { nextCursor } = page.body as OrderListResponse;
        assert.ok(nextCursor);
        const next = await list(
          `product=${encodeURIComponent(product)}&limit=1&cursor=${encodeURIComponent(nextCursor)}`,
        );
        assert.deepEqual(next, newestFirst.slice(1, 2));
      });

      void test('bad filters are 400s naming the parameter', async () => {
        const cases: [string, string][] = [
          ['status=failed,lost', 'status'],
          ['status=', 'status'],
          ['failureKind=gone', 'failureKind'],
          ['placedFrom=yesterday', 'placedFrom'],
          ['product=', 'product'],
          ['colour=red', 'colour'],
        ];
        for (const [query, path] of cases) {
          for (const route of ['/api/orders', '/api/orders/export.csv']) {
            const answer = await api.call('GET', `${route}?${query}`, {});
            assert.equal(answer.status, 400, `${route}?${query}: ${answer.text}`);
            assert.equal(errorOf(answer).details?.[0]?.path, path, query);
          }
        }
        const bodies: [unknown, string][] = [
          [{ action: 'retry', filter: {} }, 'filter'],
          [{ action: 'refund', filter: { status: ['failed'] } }, 'action'],
          [{ action: 'retry', filter: { status: 'failed' } }, 'filter.status'],
          [{ action: 'retry', filter: { status: ['failed'], colour: 'red' } }, 'filter.colour'],
          [{ action: 'retry', filter: { status: ['failed'] }, ratePerSecond: 0 }, 'ratePerSecond'],
          [{ action: 'retry', filter: { status: ['failed'] }, confirm: 'yes' }, 'confirm'],
          [{ action: 'retry', filter: { orderIds: [] } }, 'filter.orderIds'],
          [{ action: 'retry', filter: { orderIds: ['a\u0000b'] } }, 'filter.orderIds.0'],
        ];
        for (const [json, path] of bodies) {
          const answer = await bulk(json);
          assert.equal(answer.status, 400, `${JSON.stringify(json)}: ${answer.text}`);
          assert.equal(errorOf(answer).details?.[0]?.path, path, JSON.stringify(json));
        }
        const unknown = await api.call('GET', `/api/bulk-actions/${randomUUID()}`, {
          as: 'viewer',
        });
        assert.equal(unknown.status, 404);
        assert.equal(errorOf(unknown).code, 'bulk_action_not_found');
        const notAnId = await api.call('GET', '/api/bulk-actions/%00x', {});
        assert.equal(notAnId.status, 404);
      });

      void test('bulk routes and the export: none is 401, a client 403, a viewer reads but does not act', async () => {
        for (const [method, path] of [
          ['GET', '/api/bulk-actions'],
          ['POST', '/api/bulk-actions'],
          ['GET', `/api/bulk-actions/${randomUUID()}`],
          ['POST', `/api/bulk-actions/${randomUUID()}/pause`],
          ['GET', '/api/orders/export.csv'],
        ] as const) {
          const body = method === 'POST' ? { json: {} } : {};
          const none = await api.call(method, path, { ...body, as: null });
          assert.equal(none.status, 401, `${method} ${path}`);
          const client = await api.call(method, path, { ...body, as: 'client' });
          assert.equal(client.status, 403, `${method} ${path} as a client`);
        }
        const before = (await api.call('GET', '/api/bulk-actions', { as: 'viewer' })).body;
        const viewer = await api.call('POST', '/api/bulk-actions', {
          json: { action: 'retry', filter: { status: ['failed'] }, confirm: true },
          as: 'viewer',
        });
        assert.equal(viewer.status, 403, viewer.text);
        assert.deepEqual(
          (await api.call('GET', '/api/bulk-actions', { as: 'viewer' })).body,
          before,
        );
      });

      void test('preview, confirm, progress and outcomes: every failed order retried and charged once', async () => {
        const { customerId, orders } = await failedOrders(3);
        const filter = { customerId, status: ['failed'] };
        const preview = await bulk({ action: 'retry', filter });
        assert.equal(preview.status, 200, preview.text);
        const { matched, sample } = preview.body as Preview;
        assert.equal(matched, 3);
        assert.deepEqual(sample.map((o) => o.id).sort(), orders.map((o) => o.id).sort());
        // A preview touches nothing.
        assert.equal((await order(orders[0]?.id ?? '')).status, 'failed');

        const confirmed = await bulk({ action: 'retry', filter, confirm: true, ratePerSecond: 50 });
        assert.equal(confirmed.status, 201, confirmed.text);
        const started = confirmed.body as BulkActionResponse;
        assert.equal(started.matched, 3);
        assert.equal(started.startedBy, api.credentials.operator.label, 'the signed-in operator');
        assert.equal(confirmed.headers.get('location'), `/api/bulk-actions/${started.id}`);
        const finished = await waitFor(
          'the batch to complete',
          () => batch(started.id),
          (b) => b.finishedAt !== null,
          { timeoutMs: 60_000, everyMs: 200 },
        );
        assert.equal(finished.state, 'completed');
        assert.deepEqual(finished.counts, { applied: 3, refused: 0, failed: 0 });
        assert.equal(finished.done, 3);
        assert.equal(finished.etaSeconds, null);
        for (const o of orders) {
          await statusBecomes(o.id, 'processed');
          assert.equal(await charges(o.id), 1);
        }
        const outcomes = await items(started.id);
        assert.deepEqual(
          outcomes.items.map((item) => item.outcome),
          ['applied', 'applied', 'applied'],
        );
        assert.equal(outcomes.nextAfter, null);
        const firstPage = await items(started.id, 'limit=2');
        assert.equal(firstPage.items.length, 2);
        assert.equal(firstPage.nextAfter, 2);
        assert.equal((await items(started.id, 'after=2')).items.length, 1);

        // The same batch again: every order now refuses, with the workflow's own reason.
        const again = await bulk({
          action: 'retry',
          filter: { orderIds: orders.map((o) => o.id) },
          confirm: true,
          ratePerSecond: 50,
        });
        assert.equal(again.status, 201, again.text);
        const second = await waitFor(
          'the second batch to complete',
          () => batch((again.body as BulkActionResponse).id),
          (b) => b.finishedAt !== null,
          { timeoutMs: 60_000, everyMs: 200 },
        );
        assert.equal(second.state, 'completed');
        assert.deepEqual(second.counts, { applied: 0, refused: 3, failed: 0 });
        const refused = await items(second.id, 'outcome=refused');
        assert.match(refused.items[0]?.detail ?? '', /only a failed order can be retried/i);
        for (const o of orders) assert.equal(await charges(o.id), 1);

        const listed = await api.call('GET', '/api/bulk-actions?limit=2', {});
        assert.equal(listed.status, 200);
        assert.deepEqual(
          (listed.body as { bulkActions: BulkActionResponse[] }).bulkActions.map((b) => b.id),
          [second.id, started.id],
        );
      });

      void test('pause, resume and cancel over HTTP; a finished batch refuses them', async () => {
        const { customerId, orders } = await failedOrders(3);
        const confirmed = await bulk({
          action: 'cancel',
          filter: { customerId, status: ['failed'] },
          reason: 'duplicate orders',
          confirm: true,
          // One order every 20 s: the test acts between the first and the second.
          ratePerSecond: 0.05,
        });
        assert.equal(confirmed.status, 201, confirmed.text);
        const { id } = confirmed.body as BulkActionResponse;
        await waitFor(
          'the first order to be done',
          () => batch(id),
          (b) => b.done === 1,
          {
            timeoutMs: 30_000,
            everyMs: 200,
          },
        );
        const paused = await control(id, 'pause');
        assert.equal(paused.status, 202, paused.text);
        assert.equal((paused.body as BulkActionResponse).state, 'paused');
        const twice = await control(id, 'pause');
        assert.equal(twice.status, 409);
        assert.match(errorOf(twice).message, /already paused/);
        const progress = await batch(id);
        assert.equal(progress.state, 'paused');
        assert.equal(progress.matched, 3);
        assert.equal(progress.etaSeconds, null);
        const resumed = await control(id, 'resume');
        assert.equal(resumed.status, 202, resumed.text);
        const running = resumed.body as BulkActionResponse;
        assert.equal(running.state, 'running');
        assert.equal(running.etaSeconds, 40);
        const cancelled = await control(id, 'cancel');
        assert.equal(cancelled.status, 202, cancelled.text);
        const ended = await waitFor(
          'the batch to end',
          () => batch(id),
          (b) => b.finishedAt !== null,
          {
            timeoutMs: 30_000,
          },
        );
        assert.equal(ended.state, 'cancelled');
        assert.deepEqual(ended.counts, { applied: 1, refused: 0, failed: 0 });
        const [first, ...rest] = orders;
        assert.ok(first);
        const done = await statusBecomes(first.id, 'cancelled');
        assert.equal(done.cancelReason, 'duplicate orders');
        for (const o of rest) assert.equal((await order(o.id)).status, 'failed');
        assert.equal((await items(id, 'outcome=pending')).items.length, 2);
        const late = await control(id, 'resume');
        assert.equal(late.status, 409);
        assert.equal(errorOf(late).code, 'bulk_action_finished');
      });

      void test('the export is CSV of the filtered list, escaped, with spreadsheet formulas defused', async () => {
        const customerId = `=HYPERLINK("http://x")-${randomUUID().slice(0, 6)}`;
        const first = await place({ customerId, product: 'Bolt, "large"' });
        const second = await place({ customerId, product: '@SUM(A1)' });
        await statusBecomes(second.id, 'processed');
        await statusBecomes(first.id, 'processed');
        const answer = await api.call(
          'GET',
          `/api/orders/export.csv?customerId=${encodeURIComponent(customerId)}&status=processed`,
          {},
        );
        assert.equal(answer.status, 200, answer.text);
        assert.match(answer.headers.get('content-type') ?? '', /^text\/csv/);
        assert.match(
          answer.headers.get('content-disposition') ?? '',
          /^attachment; filename="?orders\.csv"?$/,
        );
        const lines = answer.text.split('\r\n');
        assert.equal(
          lines[0],
          'id,customerId,product,quantity,unitPrice,amount,currency,datePlaced,status,failureKind,' +
            'failureReason,attempts,paymentReference,cancelReason,refundReference,createdAt,' +
            'updatedAt,processedAt',
        );
        assert.equal(lines.at(-1), '', 'every row ends with CRLF');
        const quotedCustomer = `"'${customerId.replace(/"/g, '""')}"`;
        assert.ok(lines[1]?.startsWith(`${second.id},${quotedCustomer},'@SUM(A1),2,`));
        assert.ok(
          lines[2]?.startsWith(
            `${first.id},${quotedCustomer},"Bolt, ""large""",2,12.50,25.00,GBP,`,
          ),
        );
        assert.equal(lines.length, 4);
        const none = await api.call('GET', '/api/orders/export.csv?customerId=nobody-at-all', {
          as: 'viewer',
        });
        assert.equal(none.text.split('\r\n').length, 2, 'the header line alone');
      });
    });
  }
});
