/**
 * The service on a Temporal cluster as production runs one: frontend, history, matching and
 * worker services as separate processes on PostgreSQL (scripts/lib/cluster.ts), the frontend
 * taking mTLS only, with certificates this test makes. Two worker processes and two API
 * processes connect with their client certificate; orders placed through both APIs are all
 * processed, and SQL, the workflow's own status and the `OrderStatus` search attribute in SQL
 * visibility agree. Without a certificate, or with one from another CA, the frontend refuses the
 * worker, the API and a plain client.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import type { OrderWorkflowState } from '../../domain/order';
import { QUERIES, workflowIdForOrder } from '../../domain/temporal';
import { CLUSTER_SERVICES } from '../../scripts/lib/cluster';
import { orderBody, placeOrderReliably } from '../../scripts/lib/load';
import type { ServiceSpec } from '../../scripts/lib/processes';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { makeCertificates, type TestCertificates } from '../support/certificates';
import {
  startClusterSystem,
  visibilityDisagreements,
  type ClusterSystem,
} from '../support/cluster';

const ORDERS = 40;

/** A second copy of a running part, configured the same but without the client certificate. */
function withoutCertificate(
  spec: ServiceSpec,
  env: NodeJS.ProcessEnv,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

void describe('on a Temporal cluster with an mTLS frontend', { timeout: 600_000 }, () => {
  let certs: TestCertificates;
  let certDir: string;
  let system: ClusterSystem;

  before(
    async () => {
      certDir = mkdtempSync(join(tmpdir(), 'orders-certs-'));
      certs = await makeCertificates(certDir);
      system = await startClusterSystem({
        name: 'cluster-e2e',
        tls: certs,
        ordersPassword: 'cluster-e2e-orders-pw',
      });
    },
    { timeout: 240_000 },
  );
  after(async () => {
    await system?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  void test('orders placed through both APIs are processed by both workers; SQL = workflow = visibility', async () => {
    const { stack, db } = system;
    const placed = await Promise.all(
      Array.from({ length: ORDERS }, (_, index) =>
        placeOrderReliably(
          stack.apiUrls[index % stack.apiUrls.length] ?? '',
          stack.clientToken,
          60_000,
          orderBody(),
        ),
      ),
    );
    const orderIds = placed.flatMap((order) => (order.orderId ? [order.orderId] : []));
    assert.equal(orderIds.length, ORDERS, 'every order was accepted');

    const deadline = Date.now() + 120_000;
    let rows = await db.orders.getMany(orderIds);
    while (rows.some((row) => row.status !== 'processed') && Date.now() < deadline) {
      await sleep(500);
      rows = await db.orders.getMany(orderIds);
    }
    assert.deepEqual(
      rows.filter((row) => row.status !== 'processed').map((row) => [row.id, row.status]),
      [],
      'every order processed',
    );

    const sql = new Map(rows.map((row) => [row.id, row.status as string | null]));
    for (const orderId of orderIds) {
      const state = await stack.client.workflow
        .getHandle(workflowIdForOrder(orderId))
        .query<OrderWorkflowState>(QUERIES.status);
      assert.equal(state.status, sql.get(orderId), `workflow status of ${orderId}`);
    }
    assert.deepEqual(
      await visibilityDisagreements(stack.client, stack.taskQueue, sql),
      [],
      'OrderStatus in SQL visibility agrees with SQL',
    );

    // Both worker processes did part of the work: the task queue spreads it over their pollers.
    for (const worker of stack.workers) {
      const log = readFileSync(stack.part(worker).spec.logFile, 'utf8');
      assert.ok(
        orderIds.some((id) => log.includes(id)),
        `${worker} processed some of the orders`,
      );
    }
  });

  void test('every service of the cluster serves its own Prometheus metrics', async () => {
    for (const service of CLUSTER_SERVICES) {
      const response = await fetch(system.cluster.metricsUrls[service]);
      assert.equal(response.status, 200, `${service} /metrics`);
      assert.match(await response.text(), /^# TYPE /m, `${service} serves Prometheus text`);
    }
  });

  void test('without a client certificate, or with one of another CA, the frontend refuses', async () => {
    const { cluster } = system;
    const attempts = {
      'no TLS at all': { TEMPORAL_ADDRESS: cluster.address },
      'TLS without a client certificate': {
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_TLS_CA: certs.ca,
        TEMPORAL_TLS_SERVER_NAME: certs.serverName,
      },
      'a client certificate of another CA': {
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_TLS_CA: certs.ca,
        TEMPORAL_TLS_CERT: certs.strangerCert,
        TEMPORAL_TLS_KEY: certs.strangerKey,
        TEMPORAL_TLS_SERVER_NAME: certs.serverName,
      },
    };
    for (const [what, config] of Object.entries(attempts)) {
      await assert.rejects(async () => {
        const connection = await Connection.connect({
          ...temporalConnectionOptions(config),
          connectTimeout: 3000,
        });
        try {
          await connection.workflowService.getSystemInfo({});
        } finally {
          await connection.close();
        }
      }, `a client with ${what} is refused`);
    }
    // And with the right certificate the same call works.
    const connection = await Connection.connect(
      temporalConnectionOptions({ ...cluster.clientEnv, TEMPORAL_ADDRESS: cluster.address }),
    );
    await connection.workflowService.getSystemInfo({});
    await connection.close();
  });

  void test('a worker process without its certificate cannot connect and exits with the reason', async () => {
    const { stack, cluster } = system;
    const worker = withoutCertificate(stack.part('worker-1').spec, {
      TEMPORAL_ADDRESS: cluster.address,
      WORKER_METRICS_PORT: String(await freeLoopbackPort()),
    });
    let output = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => worker.kill('SIGKILL'), 60_000);
    const [code] = (await once(worker, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 1, `the worker exits 1; its output:\n${output}`);
    assert.match(output, /worker failed:/);
  });

  void test('an API without its certificate is not ready (temporal), one with it is', async () => {
    const { stack } = system;
    for (const url of stack.apiUrls) {
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200, `${url} with its certificate is ready`);
    }
    const port = await freeLoopbackPort();
    const api = withoutCertificate(stack.part('api-1').spec, { API_PORT: String(port) });
    // Its output is not needed; reading it keeps a full pipe from stalling the process.
    api.stdout.resume();
    api.stderr.resume();
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      let answer: Response | null = null;
      while (Date.now() < deadline) {
        answer = await fetch(`${url}/readyz`).catch(() => null);
        if (answer) break;
        await sleep(250);
      }
      assert.ok(answer, 'the API answered');
      assert.equal(answer.status, 503);
      const body = (await answer.json()) as { error: { code: string; details?: unknown } };
      assert.match(JSON.stringify(body), /temporal/);
    } finally {
      api.kill('SIGKILL');
      await once(api, 'exit');
    }
  });
});
