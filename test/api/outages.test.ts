/**
 * Dependencies down: Temporal unreachable (orders still accepted, the launcher starts them
 * later), the database unreachable (503, nothing half-written), and what the probes say.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { launchDue } from '../../api/launcher';
import type { OrderDetailResponse, OrderResponse, StatsResponse } from '../../api/schemas';
import { orderWorkflowSettings, startOrderWorkflow } from '../../clients/temporal';
import { workflowIdForOrder } from '../../domain/temporal';
import { createLogger } from '../../observability/logger';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';
import { startTestSystem, type TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import { errorOf, orderBody, startApi, unreachableTemporal, type RunningApi } from './harness';
import { databaseOutage } from './outage';

const quiet = createLogger({ service: 'api', silent: true });
/** Temporal calls give up fast here: the point is the answer, not the wait. */
const FAST = { temporalTimeoutMs: 300 };

void describe('outages', () => {
  const devServer = devServerForSuite();

  for (const target of DATABASES) {
    void describe(`with ${target.name}`, () => {
      let url: string;
      let system: TestSystem;
      let down: RunningApi;

      before(async () => {
        url = await target.url();
        system = await startTestSystem({
          env: devServer(),
          databaseUrl: url,
          settings: { maxPaymentAttempts: 2 },
        });
        down = await startApi({
          db: system.db,
          temporal: unreachableTemporal(),
          env: { TEMPORAL_TASK_QUEUE: system.taskQueue },
          override: FAST,
          // The tests below run the launcher's passes themselves, at the times they choose.
          launcher: false,
        });
      });
      after(async () => {
        await down?.close();
        await system?.stop();
      });

      /** One launcher pass, as the API's loop runs it, with the given Temporal, at `at`. */
      const launch = (temporal = devServer().client, at = new Date()) =>
        launchDue({
          db: system.db,
          temporal,
          config: { ...down.deps.config, LAUNCH_CONCURRENCY: 1 },
          log: quiet,
          clock: () => at,
          ...FAST,
        });
      const later = (ms: number) => new Date(Date.now() + ms);
      const sqlStatus = (id: string, status: string) =>
        waitFor(
          `order ${id} to be ${status}`,
          () => system.db.orders.get(id),
          (row) => row?.status === status,
          { timeoutMs: 30_000, everyMs: 200 },
        );

      void test('with Temporal unreachable an order is still accepted, and the launcher starts it once Temporal is back', async () => {
        const created = await down.call('POST', '/api/orders', { json: orderBody() });
        assert.equal(created.status, 201, created.text);
        const order = created.body as OrderResponse;
        assert.equal(order.workflowStartedAt, null);

        const detail = await down.call('GET', `/api/orders/${order.id}`);
        assert.equal(detail.status, 200, detail.text);
        const body = detail.body as OrderDetailResponse;
        assert.equal(body.status, 'queued');
        assert.deepEqual(body.temporal, {
          error: { code: 'temporal_unavailable', message: 'Temporal is unreachable' },
        });

        const failed = await launch(unreachableTemporal());
        assert.equal(failed.unavailable, true, JSON.stringify(failed));
        assert.equal(failed.started, 0);
        assert.equal((await system.db.orders.get(order.id))?.workflowStartedAt, null);

        // Past its backoff, with Temporal back.
        const result = await launch(devServer().client, later(120_000));
        assert.ok(result.started >= 1, JSON.stringify(result));
        const processed = await sqlStatus(order.id, 'processed');
        assert.ok(processed?.workflowStartedAt);
      });

      void test('before its workflow starts an order says so: detail workflow_not_found, cancel 404', async () => {
        const idle = await startApi({
          db: system.db,
          temporal: devServer().client,
          env: { TEMPORAL_TASK_QUEUE: system.taskQueue },
          launcher: false,
        });
        try {
          const created = await idle.call('POST', '/api/orders', { json: orderBody() });
          assert.equal(created.status, 201, created.text);
          const order = created.body as OrderResponse;
          const detail = await idle.call('GET', `/api/orders/${order.id}`);
          assert.equal(detail.status, 200, detail.text);
          const body = detail.body as OrderDetailResponse;
          assert.ok('error' in body.temporal);
          assert.equal(body.temporal.error.code, 'workflow_not_found');
          const cancel = await idle.call('POST', `/api/orders/${order.id}/cancel`);
          assert.equal(cancel.status, 404, cancel.text);
          assert.equal(errorOf(cancel).code, 'workflow_not_found');
          await launch();
          await sqlStatus(order.id, 'processed');
        } finally {
          await idle.close();
        }
      });

      void test('with Temporal unreachable readyz is 503 naming temporal only, with Retry-After', async () => {
        const answer = await down.call('GET', '/readyz');
        assert.equal(answer.status, 503);
        assert.equal(answer.headers.get('retry-after'), '5');
        const error = errorOf(answer);
        assert.equal(error.code, 'not_ready');
        assert.deepEqual(
          error.details?.map((d) => d.path),
          ['temporal'],
        );
      });

      void test('with Temporal unreachable cancel is 503 and stats still answer from SQL', async () => {
        const order = await system.db.orders.create(newOrder());
        const cancel = await down.call('POST', `/api/orders/${order.id}/cancel`);
        assert.equal(cancel.status, 503);
        assert.equal(errorOf(cancel).code, 'temporal_unavailable');
        assert.equal(cancel.headers.get('retry-after'), '5');

        const stats = await down.call('GET', '/api/stats');
        assert.equal(stats.status, 200, stats.text);
        const body = stats.body as StatsResponse;
        assert.equal(body.byStatus.temporal, null);
        assert.match(body.byStatus.temporalError ?? '', /unreachable/);
        assert.ok(body.byStatus.sql.queued >= 1);
      });

      void test('a launcher pass with Temporal down stops at the first failure; the entries wait out a backoff', async () => {
        const orders = [newOrder(), newOrder()];
        for (const order of orders) await system.db.orders.create(order);
        const at = new Date();
        const result = await launch(unreachableTemporal(), at);
        assert.equal(result.unavailable, true);
        assert.deepEqual(
          { started: result.started, recorded: result.recorded, failed: result.failed },
          { started: 0, recorded: 0, failed: result.claimed },
        );
        assert.ok(result.claimed >= 2, JSON.stringify(result));
        for (const order of orders) {
          assert.equal((await system.db.orders.get(order.id))?.workflowStartedAt, null);
        }
        // Within the backoff (the first is 1 s) nothing is claimed again.
        assert.equal((await launch(devServer().client, new Date(at.getTime() + 500))).claimed, 0);
        await launch(devServer().client, later(120_000));
        for (const order of orders) await sqlStatus(order.id, 'processed');
      });

      void test('a workflow that already ran is only recorded by the launcher, never run again', async () => {
        // Started, then the launcher "crashed" before recording the start.
        const order = await system.db.orders.create(newOrder());
        await startOrderWorkflow(
          devServer().client,
          { taskQueue: system.taskQueue, settings: orderWorkflowSettings(down.deps.config) },
          order,
        );
        const handle = devServer().client.workflow.getHandle(workflowIdForOrder(order.id));
        await handle.result();
        const { runId } = await handle.describe();
        const result = await launch();
        assert.ok(result.recorded >= 1, JSON.stringify(result));
        assert.ok((await system.db.orders.get(order.id))?.workflowStartedAt);
        const after = await handle.describe();
        assert.equal(after.runId, runId);
        assert.equal(after.status.name, 'COMPLETED');
      });

      void test('an entry held by a launcher that died is claimed again once its lease runs out', async () => {
        const order = newOrder();
        await system.db.orders.create(order);
        const now = new Date();
        const lease = down.deps.config.RECONCILE_AFTER;
        const held = await system.db.launches.claim(now, new Date(now.getTime() + lease), 1000);
        assert.ok(held.some((c) => c.orderId === order.id));
        await launch(devServer().client, now);
        assert.equal((await system.db.orders.get(order.id))?.workflowStartedAt, null);
        await launch(devServer().client, later(lease + 1000));
        await sqlStatus(order.id, 'processed');
      });

      void test('with the database down an order is 503 with Retry-After, and nothing is written or started', async () => {
        const outage = await databaseOutage(url);
        const taskQueue = `orders-outage-${randomUUID()}`;
        const api = await startApi({
          db: outage.db,
          temporal: devServer().client,
          env: { TEMPORAL_TASK_QUEUE: taskQueue },
        });
        const customerId = `cust-${randomUUID()}`;
        try {
          await outage.cut();
          const answer = await api.call('POST', '/api/orders', { json: orderBody({ customerId }) });
          assert.equal(answer.status, 503, answer.text);
          assert.equal(errorOf(answer).code, 'database_unavailable');
          assert.equal(answer.headers.get('retry-after'), '5');
          if (outage.visibleToReads) {
            const ready = await api.call('GET', '/readyz');
            assert.equal(ready.status, 503);
            assert.deepEqual(
              errorOf(ready).details?.map((d) => d.path),
              ['database'],
            );
            assert.equal((await api.call('GET', '/api/orders')).status, 503);
          }
          await outage.restore();

          const rows = await system.db.orders.list({ customerId, limit: 10 });
          assert.equal(rows.length, 0, 'no row was written');
          const workflows = await devServer().client.workflow.count(`TaskQueue = '${taskQueue}'`);
          assert.equal(workflows.count, 0, 'no workflow was started');
          const retried = await api.call('POST', '/api/orders', {
            json: orderBody({ customerId }),
          });
          assert.equal(retried.status, 201, 'once the database is back, orders are accepted');
        } finally {
          await api.close();
          await outage.close();
        }
      });
    });
  }
});
