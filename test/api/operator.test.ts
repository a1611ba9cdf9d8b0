/**
 * Operator actions over HTTP, end to end: the token, then cancel and retry sent as workflow
 * signals to real workflows on the Temporal dev server, with the finance simulator failing and
 * recovering on cue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { ActionAcceptedResponse, OrderDetailResponse, OrderResponse } from '../../api/schemas';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';
import type { TestSystem } from '../support/system';
import { devServerForSuite } from '../support/temporal';
import { waitFor } from '../support/wait';
import { errorOf, orderBody, startApi, startSystemWithApi, type RunningApi } from './harness';

void describe('operator actions', () => {
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

      const place = async (via: RunningApi = api) => {
        const answer = await via.call('POST', '/api/orders', { json: orderBody() });
        assert.equal(answer.status, 201, answer.text);
        return answer.body as OrderResponse;
      };
      const detail = async (id: string, via: RunningApi = api) => {
        const answer = await via.call('GET', `/api/orders/${id}`);
        assert.equal(answer.status, 200, answer.text);
        return answer.body as OrderDetailResponse;
      };
      const statusBecomes = (id: string, status: OrderResponse['status']) =>
        waitFor(
          `order ${id} to be ${status}`,
          () => detail(id),
          (o) => o.status === status,
          { timeoutMs: 30_000, everyMs: 200 },
        );
      const act = (
        action: 'cancel' | 'retry',
        id: string,
        headers: Record<string, string> = {},
        json?: unknown,
      ) =>
        api.call('POST', `/api/orders/${id}/${action}`, {
          headers,
          ...(json === undefined ? {} : { json }),
        });
      const charges = async (id: string) =>
        (await system.finance.charges(paymentIdempotencyKey(id))).charges;

      void test('cancel and retry without a credential are 401, with a wrong one 401, as a viewer 403', async () => {
        const order = await place();
        const none = (action: 'cancel' | 'retry', id: string) =>
          api.call('POST', `/api/orders/${id}/${action}`, { as: null });
        for (const action of ['cancel', 'retry'] as const) {
          const missing = await none(action, order.id);
          assert.equal(missing.status, 401);
          assert.equal(errorOf(missing).code, 'unauthorized');
          assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
          const basic = await act(action, order.id, { authorization: 'Basic b3A6b3A=' });
          assert.equal(basic.status, 401);
          const wrong = await act(action, order.id, { authorization: 'Bearer not-the-token' });
          assert.equal(wrong.status, 401);
          assert.equal(errorOf(wrong).code, 'unauthorized');
          const viewer = await api.call('POST', `/api/orders/${order.id}/${action}`, {
            as: 'viewer',
          });
          assert.equal(viewer.status, 403);
          assert.equal(errorOf(viewer).code, 'forbidden');
        }
        // Without a credential, an unknown order is not revealed as unknown.
        assert.equal((await none('cancel', randomUUID())).status, 401);
      });

      void test('cancel and retry of an unknown order are 404', async () => {
        for (const action of ['cancel', 'retry'] as const) {
          const answer = await act(action, randomUUID());
          assert.equal(answer.status, 404);
          assert.equal(errorOf(answer).code, 'order_not_found');
        }
      });

      void test('an order whose workflow does not exist answers 404 workflow_not_found', async () => {
        const order = await system.db.orders.create(newOrder());
        const answer = await act('cancel', order.id);
        assert.equal(answer.status, 404);
        assert.equal(errorOf(answer).code, 'workflow_not_found');
      });

      void test('a processed order can be neither retried nor cancelled: 409 with the reason', async () => {
        const order = await place();
        await statusBecomes(order.id, 'processed');
        const retry = await act('retry', order.id);
        assert.equal(retry.status, 409);
        assert.equal(errorOf(retry).code, 'not_retryable');
        assert.match(errorOf(retry).message, /only a failed order can be retried.*processed/i);
        const cancel = await act('cancel', order.id);
        assert.equal(cancel.status, 409);
        assert.equal(errorOf(cancel).code, 'not_cancellable');
        assert.match(errorOf(cancel).message, /processed/);
      });

      void test('an order still processing cannot be retried: 409', async () => {
        await system.finance.queueFaults('hang');
        const order = await place();
        await waitFor(
          'the payment call to be in flight',
          () => system.finance.charges(paymentIdempotencyKey(order.id)),
          (record) => record.requests === 1,
        );
        const retry = await act('retry', order.id);
        assert.equal(retry.status, 409);
        assert.match(errorOf(retry).message, /processing/);
        // Cleanup, and cancel of an in-flight payment: it is stopped, nothing is charged.
        assert.equal((await act('cancel', order.id)).status, 202);
        await statusBecomes(order.id, 'cancelled');
        assert.equal(await charges(order.id), 0);
      });

      void test('a failed order is retried after finance recovers: 202, then processed and charged once', async () => {
        await system.finance.setMode({ mode: 'down' });
        const order = await place();
        const failed = await statusBecomes(order.id, 'failed');
        assert.equal(failed.attempts, 2);
        assert.match(failed.failureReason ?? '', /gave up after 2 attempts/);

        await system.finance.setMode({ mode: 'normal' });
        const retry = await act('retry', order.id);
        assert.equal(retry.status, 202, retry.text);
        const accepted = retry.body as ActionAcceptedResponse;
        assert.deepEqual(accepted, {
          orderId: order.id,
          workflowId: `order-${order.id}`,
          action: 'retry',
          status: 'failed',
          message: 'Retry accepted: the payment is tried again',
        });

        const processed = await statusBecomes(order.id, 'processed');
        assert.match(processed.paymentReference ?? '', /^PAY-/);
        assert.equal(processed.attempts, 3);
        assert.equal(await charges(order.id), 1);
      });

      void test('a cancelled failed order is never charged, and cannot be cancelled again', async () => {
        await system.finance.setMode({ mode: 'down' });
        const order = await place();
        await statusBecomes(order.id, 'failed');
        await system.finance.setMode({ mode: 'normal' });

        const cancel = await act(
          'cancel',
          order.id,
          {},
          {
            reason: 'customer changed their mind',
          },
        );
        assert.equal(cancel.status, 202, cancel.text);
        const cancelled = await statusBecomes(order.id, 'cancelled');
        assert.ok(!('error' in cancelled.temporal));
        assert.equal(cancelled.temporal.executionStatus, 'COMPLETED');
        assert.equal(await charges(order.id), 0);

        assert.equal(cancelled.cancelReason, 'customer changed their mind');
        assert.equal(cancelled.refundReference, null);
        const again = await act('cancel', order.id);
        assert.equal(again.status, 409);
        assert.equal(errorOf(again).code, 'not_cancellable');
        assert.equal(errorOf(again).message, 'A cancelled order cannot be cancelled');
        const retry = await act('retry', order.id);
        assert.equal(retry.status, 409);
      });

      void test('a cancel while the package is charging (it charges after we hung up): 202, then cancelled and refunded', async () => {
        await system.finance.queueFaults('late-charge');
        const order = await place();
        await waitFor(
          'the payment call to be in progress at the finance package',
          () => system.finance.pending(),
          (keys) => keys.includes(paymentIdempotencyKey(order.id)),
        );
        const cancel = await act('cancel', order.id, {}, { reason: 'ordered twice' });
        assert.equal(cancel.status, 202, cancel.text);
        assert.match((cancel.body as ActionAcceptedResponse).message, /refunded/);
        const cancelled = await statusBecomes(order.id, 'cancelled');
        assert.equal(cancelled.cancelReason, 'ordered twice');
        assert.match(cancelled.refundReference ?? '', /^REF-/);
        const record = await system.finance.charges(paymentIdempotencyKey(order.id));
        assert.equal(record.charges, 1);
        assert.equal(record.refunds, 1);
        assert.equal(record.refund?.refundReference, cancelled.refundReference);
      });

      void test('a failed order whose workflow closed can still be retried, then cancelled orders stay closed', async () => {
        const brief = await startApi({
          db: system.db,
          temporal: devServer().client,
          env: {
            TEMPORAL_TASK_QUEUE: system.taskQueue,
            PAYMENT_MAX_ATTEMPTS: '1',
            FAILED_ORDER_WAIT: '1s',
          },
        });
        try {
          await system.finance.setMode({ mode: 'down' });
          const order = await place(brief);
          const closed = await waitFor(
            `order ${order.id}'s workflow to close while failed`,
            () => detail(order.id, brief),
            (o) =>
              o.status === 'failed' &&
              !('error' in o.temporal) &&
              o.temporal.executionStatus === 'COMPLETED',
            { timeoutMs: 30_000, everyMs: 200 },
          );
          assert.equal(closed.attempts, 1);
          await system.finance.reset();
          const retry = await brief.call('POST', `/api/orders/${order.id}/retry`, {});
          assert.equal(retry.status, 202, retry.text);
          assert.match((retry.body as ActionAcceptedResponse).message, /new run/);
          const processed = await statusBecomes(order.id, 'processed');
          assert.equal(processed.attempts, 2);
          assert.equal(await charges(order.id), 1);
        } finally {
          await brief.close();
        }
      });

      void test('while payment backs off the order shows attempt, last failure and next retry; cancel stops it uncharged', async () => {
        // Ten attempts: the order stays in backoff long enough to be looked at.
        const patient = await startApi({
          db: system.db,
          temporal: devServer().client,
          env: { TEMPORAL_TASK_QUEUE: system.taskQueue, PAYMENT_MAX_ATTEMPTS: '10' },
        });
        try {
          await system.finance.setMode({ mode: 'down' });
          const order = await place(patient);
          const backingOff = await waitFor(
            'the payment to back off after its second attempt',
            () => detail(order.id, patient),
            (o) =>
              !('error' in o.temporal) &&
              (o.temporal.payment?.attempt ?? 0) >= 2 &&
              o.temporal.payment?.nextRetryAt !== null,
            { timeoutMs: 30_000, everyMs: 100 },
          );
          assert.ok(!('error' in backingOff.temporal));
          const payment = backingOff.temporal.payment;
          assert.ok(payment);
          assert.match(payment.lastFailure ?? '', /503/);
          assert.equal(backingOff.temporal.lastFailure, payment.lastFailure);
          assert.ok(Date.parse(payment.nextRetryAt ?? '') > Date.now() - 5_000);
          assert.equal(backingOff.status, 'processing');
          assert.ok(backingOff.attempts >= 1);

          const cancel = await patient.call('POST', `/api/orders/${order.id}/cancel`, {});
          assert.equal(cancel.status, 202, cancel.text);
          await system.finance.setMode({ mode: 'normal' });
          await statusBecomes(order.id, 'cancelled');
          assert.equal(await charges(order.id), 0);
        } finally {
          await patient.close();
        }
      });
    });
  }
});
