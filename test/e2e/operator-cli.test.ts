/**
 * Operators who work from the Temporal CLI (or the Web UI, which sends the same requests): the
 * `cancel` and `retry` signals and the `cancelOrder` / `retryOrder` updates, sent with the real
 * CLI to real workflows on the dev server, follow the same rules as the API. What the workflows
 * store is encrypted: the CLI reads and writes it through the API's codec endpoint.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { paymentIdempotencyKey } from '../../activities/orders';
import type { Order, OrderWorkflowResult } from '../../domain/order';
import { UPDATES, workflowIdForOrder } from '../../domain/temporal';
import { startApi, type RunningApi } from '../api/harness';
import { freshSqliteUrl } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { devServerForSuite, TEMPORAL_CLI } from '../support/temporal';
import { waitFor } from '../support/wait';

const run = promisify(execFile);

void describe('operator actions from the Temporal CLI', () => {
  const devServer = devServerForSuite();
  let system: TestSystem;
  let api: RunningApi;
  /** A viewer's API key: the CLI presents it as `--codec-auth`. */
  let codecAuth: string;

  before(async () => {
    system = await startTestSystem({
      env: devServer(),
      databaseUrl: freshSqliteUrl(),
      settings: { maxPaymentAttempts: 2 },
    });
    api = await startApi({
      db: system.db,
      temporal: devServer().client,
      env: { TEMPORAL_TASK_QUEUE: system.taskQueue },
    });
    codecAuth = `Bearer ${(await system.db.credentials.addKey('cli', 'viewer')).secret}`;
  });
  beforeEach(() => system.finance.reset());
  after(async () => {
    await api?.close();
    await system?.stop();
  });

  /** `temporal workflow <args…> --workflow-id order-<id>`, without the codec. */
  const rawCli = (order: Order, ...args: string[]) =>
    run(TEMPORAL_CLI, [
      'workflow',
      ...args,
      '--workflow-id',
      workflowIdForOrder(order.id),
      '--address',
      devServer().address,
    ]);
  /** The same through the API's codec endpoint, as the operator's docs show it. */
  const cli = (order: Order, ...args: string[]) =>
    rawCli(order, ...args, '--codec-endpoint', `${api.url}/api/codec`, '--codec-auth', codecAuth);
  const statusBecomes = (order: Order, status: Order['status']) =>
    waitFor(
      `order ${order.id} to be ${status}`,
      () => system.db.orders.get(order.id),
      (row) => row?.status === status,
    );

  /** The workflow's input in the JSON of `workflow show`: its payload's data, from base64. */
  const startInput = (json: string) => {
    const { events } = JSON.parse(json) as {
      events: {
        workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } };
      }[];
    };
    const data = events[0]?.workflowExecutionStartedEventAttributes?.input.payloads[0]?.data ?? '';
    return Buffer.from(data, 'base64').toString('utf8');
  };

  void test('without the codec the CLI shows ciphertext; with it, the order', async () => {
    const customerId = `cust-cli-${Date.now()}`;
    const { order, handle } = await system.place({ customerId });
    await handle.result();
    const plain = await rawCli(order, 'show', '--output', 'json');
    assert.ok(!plain.stdout.includes(customerId), 'the customer id in clear without the codec');
    // The CLI prints metadata in base64: this is `binary/encrypted`.
    assert.ok(plain.stdout.includes(Buffer.from('binary/encrypted').toString('base64')));
    const decoded = await cli(order, 'show', '--output', 'json');
    assert.ok(startInput(decoded.stdout).includes(customerId), decoded.stdout.slice(0, 500));
    assert.ok(!startInput(plain.stdout).includes(customerId));
  });

  void test('the cancel signal with a reason cancels a failed order; the reason is stored', async () => {
    const { order, handle } = await system.place({ amount: '0.00' });
    await statusBecomes(order, 'failed');
    await cli(
      order,
      'signal',
      '--name',
      'cancel',
      '--input',
      '{"reason":"cancelled from the CLI"}',
    );
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'cancelled');
    const row = await statusBecomes(order, 'cancelled');
    assert.equal(row?.cancelReason, 'cancelled from the CLI');
  });

  void test('the retry signal charges a failed order again, once', async () => {
    await system.finance.setMode({ mode: 'down' });
    const { order, handle } = await system.place();
    await statusBecomes(order, 'failed');
    await system.finance.reset();
    await cli(order, 'signal', '--name', 'retry');
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    assert.equal((await system.finance.charges(paymentIdempotencyKey(order.id))).charges, 1);
  });

  void test('a retry update that does not apply is refused with the reason, and changes nothing', async () => {
    await system.finance.setMode({ mode: 'slow', latencyMs: 1_500 });
    const { order, handle } = await system.place();
    await assert.rejects(
      cli(order, 'update', 'execute', '--name', UPDATES.retry),
      (error: Error & { stderr?: string }) => {
        assert.match(
          `${error.message}\n${error.stderr ?? ''}`,
          /Only a failed order can be retried; this order is (queued|processing)/,
        );
        return true;
      },
    );
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'processed');
    assert.equal(result.attempts, 1);
  });

  void test('the cancel update is accepted with the answer the API gives', async () => {
    const { order, handle } = await system.place({ amount: '0.00' });
    await statusBecomes(order, 'failed');
    const { stdout } = await cli(
      order,
      'update',
      'execute',
      '--name',
      UPDATES.cancel,
      '--input',
      '{"reason":"update from the CLI"}',
    );
    assert.match(stdout, /Cancel accepted/);
    const result: OrderWorkflowResult = await handle.result();
    assert.equal(result.status, 'cancelled');
    assert.equal(result.cancelReason, 'update from the CLI');
  });
});
