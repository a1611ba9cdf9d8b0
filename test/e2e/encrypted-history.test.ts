/**
 * What the Temporal server keeps of an order: read straight from it, without the codec, as
 * anyone with access to Temporal (its database, its Web UI, the CLI) would. No customer id,
 * amount, product or decline reason may be there in clear; with the keys, all of it is. Real
 * workers with the codec on the dev server, a real finance simulator and SQLite.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING, EncryptionCodec } from '../../clients/codec';
import { isOrderStatus } from '../../domain/order';
import { workflowIdForOrder } from '../../domain/temporal';
import {
  FEWER_ROUND_TRIPS_PATCH,
  SETTLE_PAYMENTS_PATCH,
  VERIFY_CUSTOMER_PATCH,
} from '../../workflows/processOrder';
import { keyringOf, TEST_CODEC_KEYS } from '../support/codec';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

const PATCHES = [VERIFY_CUSTOMER_PATCH, SETTLE_PAYMENTS_PATCH, FEWER_ROUND_TRIPS_PATCH];

/** The fields of core's local-activity marker data: an activity's identity and timing only. */
const LOCAL_ACTIVITY_MARKER_FIELDS = new Set([
  'seq',
  'attempt',
  'activity_id',
  'activity_type',
  'complete_time',
  'backoff',
  'original_schedule_time',
]);

function isLocalActivityMarkerData(data: string): boolean {
  try {
    const parsed = JSON.parse(data) as unknown;
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      'activity_type' in parsed &&
      Object.keys(parsed).every((key) => LOCAL_ACTIVITY_MARKER_FIELDS.has(key))
    );
  } catch {
    return false;
  }
}

const { GetWorkflowExecutionHistoryResponse, DescribeWorkflowExecutionResponse } =
  temporal.api.workflowservice.v1;

const tag = randomUUID().slice(0, 8);
/** Distinctive values, so a match can only come from this test's orders. */
const SECRETS = {
  customerId: `cust-private-${tag}`,
  product: `Gizmo-${tag}`,
  amount: '987.65',
  amountCents: '98765',
  declineReason: 'must be greater than zero',
};

const isPayload = (value: object): value is Payload =>
  'metadata' in value && typeof value.metadata === 'object' && value.metadata !== null;

/**
 * Every payload anywhere in a decoded gRPC message, but search attributes: the server indexes
 * those, so they stay in clear (and are checked on their own).
 */
function payloadsIn(value: unknown, found: Payload[] = []): Payload[] {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return found;
  if (isPayload(value) && (value.data instanceof Uint8Array || value.data === undefined)) {
    found.push(value);
    return found;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key !== 'searchAttributes') payloadsIn(child, found);
  }
  return found;
}

/** Which secrets appear in `bytes` or `json`, in any form a reader would see them. */
function secretsIn(bytes: Uint8Array, json: string): string[] {
  const buffer = Buffer.from(bytes);
  return Object.entries(SECRETS)
    .filter(([, secret]) => buffer.includes(secret) || json.includes(secret))
    .map(([name]) => name);
}

void describe('customer data in Temporal', () => {
  let env: TestWorkflowEnvironment;
  const devServer = () => env;
  let system: TestSystem;
  const codec = new EncryptionCodec(keyringOf(TEST_CODEC_KEYS));
  const ids: Record<'processed' | 'failed', string> = { processed: '', failed: '' };

  before(async () => {
    env = await createDevServerEnv();
    system = await startTestSystem({
      env: devServer(),
      databaseUrl: freshSqliteUrl(),
      settings: { maxPaymentAttempts: 2 },
    });
    const processed = await system.place({
      customerId: SECRETS.customerId,
      product: SECRETS.product,
      amount: SECRETS.amount,
    });
    await processed.handle.result();
    // The finance package refuses a zero amount: the decline reason lands in failures.
    const failed = await system.place({
      customerId: SECRETS.customerId,
      product: SECRETS.product,
      amount: '0.00',
    });
    await waitFor(
      'the zero-amount order to fail',
      () => system.db.orders.get(failed.order.id),
      (row) => row?.status === 'failed',
    );
    ids.processed = processed.order.id;
    ids.failed = failed.order.id;
  });
  after(async () => {
    await system?.stop();
    await env?.teardown();
  });

  const rawHistory = (orderId: string) =>
    devServer().connection.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: workflowIdForOrder(orderId) },
    });

  void test('the history as the server stores it has no customer data in clear; decrypted, it has', async () => {
    for (const [which, orderId] of Object.entries(ids)) {
      const response = await rawHistory(orderId);
      const bytes = GetWorkflowExecutionHistoryResponse.encode(response).finish();
      const json = JSON.stringify(historyToJSON(response.history ?? {}));
      assert.deepEqual(secretsIn(bytes, json), [], `${which} order: secrets in the raw history`);

      const payloads = payloadsIn(response.history);
      assert.ok(payloads.length > 5, `${which} order: payloads found`);
      for (const payload of payloads) {
        const encoding = Buffer.from(payload.metadata?.encoding ?? []).toString();
        if (encoding === ENCRYPTED_ENCODING) continue;
        // The SDK's core writes two kinds of marker data itself, past the codec: a patch marker
        // names the patch; a local activity's marker says which activity ran and when (its
        // result, the order's data, is a payload of its own and is encrypted).
        const data = Buffer.from(payload.data ?? []).toString();
        assert.ok(
          PATCHES.some((id) => data === JSON.stringify({ id, deprecated: false })) ||
            isLocalActivityMarkerData(data),
          `${which} order: a payload in ${encoding} that is not core's marker data: ${data}`,
        );
      }
      // The same history through the codec: the order is all there.
      const decoded = await codec.decode(payloads);
      const clear = Buffer.concat(decoded.map((payload) => Buffer.from(payload.data ?? [])));
      const expected =
        which === 'processed' ? ['customerId', 'amount'] : ['customerId', 'declineReason'];
      for (const name of expected) {
        const secret = SECRETS[name as keyof typeof SECRETS];
        assert.ok(clear.includes(secret), `${which} order: ${name} decrypts`);
      }
    }
  });

  void test('failure messages and stack traces are stored encrypted', async () => {
    const response = await rawHistory(ids.failed);
    const failures = (response.history?.events ?? []).flatMap((event) => {
      const failure = event.activityTaskFailedEventAttributes?.failure;
      return failure ? [failure] : [];
    });
    assert.ok(failures.length > 0, 'the zero-amount order has a failed payment attempt');
    for (const failure of failures) {
      assert.equal(failure.message, 'Encoded failure');
      assert.equal(failure.stackTrace, '');
      assert.ok(failure.encodedAttributes, 'the message travels in an encoded payload');
    }
    // What a reader with the keys sees: the package's reason.
    const state = await devServer()
      .client.workflow.getHandle(workflowIdForOrder(ids.failed))
      .query<{ lastFailure: string | null }>('status');
    assert.match(state.lastFailure ?? '', new RegExp(SECRETS.declineReason));
  });

  void test('the summary is encrypted, search attributes carry only the status, no memo', async () => {
    for (const [which, orderId] of Object.entries(ids)) {
      const raw = await devServer().connection.workflowService.describeWorkflowExecution({
        namespace: 'default',
        execution: { workflowId: workflowIdForOrder(orderId) },
      });
      const bytes = DescribeWorkflowExecutionResponse.encode(raw).finish();
      assert.deepEqual(secretsIn(bytes, ''), [], `${which} order: secrets in the description`);

      const summary = raw.executionConfig?.userMetadata?.summary;
      assert.ok(summary, `${which} order has a summary`);
      assert.equal(Buffer.from(summary.metadata?.encoding ?? []).toString(), ENCRYPTED_ENCODING);
      assert.deepEqual(raw.workflowExecutionInfo?.memo?.fields ?? {}, {});

      const attributes = raw.workflowExecutionInfo?.searchAttributes?.indexedFields ?? {};
      const { customAttributes } =
        await devServer().connection.operatorService.listSearchAttributes({
          namespace: 'default',
        });
      const custom = Object.keys(attributes).filter((name) => name in (customAttributes ?? {}));
      assert.deepEqual(custom, ['OrderStatus']);
      const status = JSON.parse(
        Buffer.from(attributes.OrderStatus?.data ?? []).toString(),
      ) as string;
      assert.ok(isOrderStatus(status), `OrderStatus is a status, not "${status}"`);

      // With the codec, the summary reads as the UI shows it.
      const description = await devServer()
        .client.workflow.getHandle(workflowIdForOrder(orderId))
        .describe();
      assert.match((await description.staticSummary()) ?? '', new RegExp(SECRETS.customerId));
    }
  });
});
