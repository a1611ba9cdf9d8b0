/**
 * No order lost: the API process is killed (SIGKILL) right after writing an order's row and its
 * outbox entry, before it answers or launches anything; after a restart, the launcher starts the
 * workflow from the outbox and the order is processed.
 * The API runs as a real child process from its entry point, as `npm start` runs it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { OrderResponse } from '../../api/schemas';
import { workflowIdForOrder } from '../../domain/temporal';
import { credentialFor, type TestCredential } from '../support/credentials';
import { DATABASES } from '../support/database';
import { startTestSystem, type TestSystem } from '../support/system';
import { createDevServerEnv } from '../support/temporal';
import { waitFor } from '../support/wait';
import { orderBody } from './harness';
import { TEST_CODEC_KEYS } from '../support/codec';

const ROOT = resolve(__dirname, '../..');
const children = new Set<ChildProcess>();

interface ApiProcess {
  child: ChildProcess;
  url: string;
}

/** Starts `api/main.ts` and waits for the line saying where it listens. */
async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TEMPORAL_CODEC_KEYS: TEST_CODEC_KEYS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the API did not start: ${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /API listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        done(match[1]);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`the API exited (${signal ?? code}) before listening: ${output}`));
    });
  });
  return { child, url };
}

const exitOf = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
};

void describe('crash between the order row and the workflow start', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await env?.teardown();
  });

  for (const target of DATABASES) {
    void describe(`with ${target.name}`, () => {
      let url: string;
      let system: TestSystem;
      let client: TestCredential;

      before(async () => {
        url = await target.url();
        system = await startTestSystem({
          env,
          databaseUrl: url,
          settings: { maxPaymentAttempts: 2 },
        });
        client = await credentialFor(system.db, 'client');
      });
      after(async () => {
        await system?.stop();
      });

      const apiEnv = (extra: Record<string, string>) => ({
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: system.taskQueue,
        API_HOST: '127.0.0.1',
        API_PORT: '0',
        PAYMENT_MAX_ATTEMPTS: '2',
        LOG_LEVEL: 'warn',
        RECONCILE_AFTER: '1s',
        RECONCILE_EVERY: '500ms',
        ...extra,
      });

      void test('an API killed after the insert loses no order: after a restart it is processed', async () => {
        const key = randomUUID();
        const body = orderBody();
        const post = (api: ApiProcess) =>
          fetch(`${api.url}/api/orders`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'idempotency-key': key,
              ...client.headers,
            },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(15_000),
          });

        const doomed = await startApiProcess(apiEnv({ API_FAULT_CRASH_AFTER_INSERT: '1' }));
        await assert.rejects(post(doomed), 'the connection dies with the process');
        assert.deepEqual(await exitOf(doomed.child), { code: null, signal: 'SIGKILL' });

        const [row] = await system.db.orders.list({
          customerId: String(body.customerId),
          limit: 5,
        });
        assert.ok(row, 'the row was written before the crash');
        assert.equal(row.status, 'queued');
        assert.equal(row.workflowStartedAt, null);
        await assert.rejects(
          env.client.workflow.getHandle(workflowIdForOrder(row.id)).describe(),
          WorkflowNotFoundError,
          'the workflow was never started',
        );

        const restarted = await startApiProcess(apiEnv({}));
        const processed = await waitFor(
          'the launcher to start the order and the order to be processed',
          () => system.db.orders.get(row.id),
          (order) => order?.status === 'processed',
          { timeoutMs: 30_000, everyMs: 200 },
        );
        assert.ok(processed?.workflowStartedAt);

        // The client retrying its request with the same key gets the same order, processed.
        const replay = await post(restarted);
        assert.equal(replay.status, 200);
        const replayed = (await replay.json()) as OrderResponse;
        assert.equal(replayed.id, row.id);
        assert.equal(replayed.status, 'processed');

        restarted.child.kill('SIGTERM');
        assert.deepEqual(await exitOf(restarted.child), { code: 0, signal: null });
      });
    });
  }
});
