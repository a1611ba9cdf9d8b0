/**
 * One order, one trace: from `POST /api/orders` through the workflow start, the workflow run, each
 * activity, the SQL writes and the finance call, into the finance package's own server span. Spans
 * go to an in-memory exporter. Tracing starts before anything it instruments is loaded, so the
 * rest of the system is imported afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { startTracing, type Tracing } from '../../observability/tracing';

const exporter = new InMemorySpanExporter();
const tracing: Tracing = startTracing({
  serviceName: 'orders-test',
  spanProcessor: new SimpleSpanProcessor(exporter),
});

void describe('tracing and API metrics', () => {
  let stop: () => Promise<void>;
  let call: (
    method: string,
    path: string,
    json?: unknown,
  ) => Promise<{ status: number; body: unknown; text: string }>;
  let orderStatus: (id: string) => Promise<string | undefined>;
  let countByStatus: () => Promise<Record<string, number>>;

  before(async () => {
    const { createDevServerEnv } = await import('../support/temporal');
    const { freshPostgresUrl } = await import('../support/database');
    const { startTestSystem } = await import('../support/system');
    const { startApi } = await import('../api/harness');
    const { lazyTemporalClient } = await import('../../clients/temporal');
    const { testDataConverter } = await import('../support/codec');
    const env = await createDevServerEnv();
    const system = await startTestSystem({
      env,
      databaseUrl: await freshPostgresUrl(),
      plugins: [tracing.temporalPlugin],
    });
    const temporal = lazyTemporalClient(
      { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' },
      { plugins: [tracing.temporalPlugin], dataConverter: testDataConverter() },
    );
    const api = await startApi({
      db: system.db,
      temporal,
      env: {
        TEMPORAL_TASK_QUEUE: system.taskQueue,
        FINANCE_URL: system.finance.url,
        DATABASE_QUOTA_BYTES: '1000000000',
      },
    });
    call = async (method, path, json) => {
      const answer = await api.call(method, path, json === undefined ? {} : { json });
      return { status: answer.status, body: answer.body, text: answer.text };
    };
    orderStatus = async (id) => (await system.db.orders.get(id))?.status;
    countByStatus = () => system.db.orders.countByStatus();
    stop = async () => {
      await api.close();
      await temporal.connection.close();
      await system.stop();
      await env.teardown();
      await tracing.shutdown();
    };
  });
  after(() => stop?.());

  void test('an order is one trace from the API request to the finance package, SQL writes included', async () => {
    exporter.reset();
    const created = await call('POST', '/api/orders', {
      customerId: 'cust-trace',
      product: 'Widget',
      quantity: 1,
      unitPrice: '9.99',
      currency: 'GBP',
    });
    assert.equal(created.status, 201, created.text);
    const { id } = created.body as { id: string };
    const { waitFor } = await import('../support/wait');
    await waitFor(
      'the order to be processed',
      () => orderStatus(id),
      (s) => s === 'processed',
      { timeoutMs: 30_000 },
    );
    // Workflow spans reach the exporter through a sink, the run's own span when the workflow ends.
    await waitFor(
      'the workflow run span',
      () => Promise.resolve(exporter.getFinishedSpans()),
      (spans) => spans.some((s) => s.name === 'RunWorkflow:processOrder'),
    );

    const spans = exporter.getFinishedSpans();
    const root = spans.find(
      (s) =>
        s.kind === SpanKind.SERVER &&
        s.attributes['http.method'] === 'POST' &&
        String(s.attributes['http.target'] ?? s.attributes['url.path']).startsWith('/api/orders'),
    );
    assert.ok(root, 'the API request has a server span');
    const trace = spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (span: ReadableSpan) =>
      span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    const ancestors = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (let p = parentOf(span); p; p = parentOf(p)) names.push(p.name);
      return names;
    };
    const named = (name: string) => trace.filter((s) => s.name === name);

    const start = named('StartWorkflow:processOrder')[0];
    assert.ok(start, 'starting the workflow is in the trace');
    assert.ok(ancestors(start).includes(root.name), 'the workflow start is under the API request');

    const run = named('RunWorkflow:processOrder')[0];
    assert.ok(run, 'the workflow run is in the trace');
    assert.ok(ancestors(run).includes('StartWorkflow:processOrder'));

    const charge = named('RunActivity:chargePayment')[0];
    assert.ok(charge, 'the payment attempt is in the trace');
    assert.ok(ancestors(charge).includes('RunWorkflow:processOrder'));

    const financeServer = trace.find(
      (s) =>
        s.kind === SpanKind.SERVER &&
        s !== root &&
        String(s.attributes['http.target'] ?? s.attributes['url.path'] ?? '').includes(
          '/ProcessPayment',
        ),
    );
    assert.ok(financeServer, "the finance package's server span joins the trace (traceparent)");
    assert.ok(
      ancestors(financeServer).includes('RunActivity:chargePayment'),
      'the finance call is a child of the payment attempt',
    );

    const statusWrites = named('RunActivity:recordOrderStatus');
    assert.ok(statusWrites.length >= 2, 'each status write is in the trace');
    const sqlUnderWrites = trace.filter(
      (s) =>
        s.attributes['db.system'] === 'postgresql' &&
        ancestors(s).includes('RunActivity:recordOrderStatus'),
    );
    assert.ok(
      sqlUnderWrites.length >= 2,
      'the SQL statements of the status writes are spans under them',
    );
  });

  void test("the API's /metrics counts created orders and reports the read model's gauges", async () => {
    const metrics = await call('GET', '/metrics');
    assert.equal(metrics.status, 200);
    const value = (series: string) =>
      Number(
        new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics.text)?.[1],
      );
    assert.equal(value('orders_created_total'), 1);
    const { processed } = await countByStatus();
    assert.equal(value('orders_by_status{status="processed"}'), processed);
    assert.equal(value('orders_queue_depth'), 0);
    assert.ok(value('database_size_bytes') > 0);
    assert.equal(value('database_quota_bytes'), 1_000_000_000);
    assert.match(metrics.text, /^process_resident_memory_bytes \d+/m);
  });
});
