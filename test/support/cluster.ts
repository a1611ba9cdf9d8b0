/**
 * The system scaled out on the project's Temporal cluster, for the cluster tests: the cluster
 * (scripts/lib/cluster.ts) on a throwaway PostgreSQL, two workers and two APIs
 * (scripts/lib/stack.ts), the orders in a PostgreSQL database of their own. Logs are kept under
 * test-results/<name>/.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { openDatabase, type Database } from '../../db';
import { ORDER_WORKFLOW_TYPE, orderIdFromWorkflowId, orderStatusKey } from '../../domain/temporal';
import {
  startTemporalCluster,
  type ClusterTls,
  type TemporalCluster,
} from '../../scripts/lib/cluster';
import { createPostgresCluster, type PostgresCluster } from '../../scripts/lib/postgres';
import { startScaledStack, type ScaledStack } from '../../scripts/lib/stack';

const RESULTS = resolve(__dirname, '../../test-results');

export interface ClusterSystem {
  cluster: TemporalCluster;
  stack: ScaledStack;
  /** The orders database (its own PostgreSQL server, with a password). */
  orders: PostgresCluster;
  db: Database;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the cluster, then the services against it; everything is stopped again on failure. */
export async function startClusterSystem(options: {
  name: string;
  tls?: ClusterTls;
  workers?: number;
  apis?: number;
  ordersPassword: string;
  env?: Record<string, string>;
}): Promise<ClusterSystem> {
  const dir = join(RESULTS, options.name);
  rmSync(dir, { recursive: true, force: true });
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.stop();
  };
  try {
    const cluster = await startTemporalCluster({
      dir: join(dir, 'temporal'),
      ...(options.tls ? { tls: options.tls } : {}),
    });
    started.push(cluster);
    const orders = await createPostgresCluster({ password: options.ordersPassword });
    started.push({ stop: () => orders.destroy() });
    const stack = await startScaledStack({
      dir,
      databaseUrl: orders.url,
      temporalEnv: cluster.clientEnv,
      workers: options.workers ?? 2,
      apis: options.apis ?? 2,
      env: { LOG_LEVEL: 'info', ...options.env },
    });
    started.push(stack);
    const db = await openDatabase(orders.url);
    started.push({ stop: () => db.close() });
    return { cluster, stack, orders, db, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Each order workflow of the task queue with its `OrderStatus` as the visibility store (SQL
 * visibility on PostgreSQL) lists it: what the dashboard and the Web UI see, which is updated
 * after the workflow's own state, so callers poll until it has caught up.
 */
export async function visibleOrderStatuses(
  client: Client,
  taskQueue: string,
): Promise<Map<string, string | null>> {
  const statuses = new Map<string, string | null>();
  const query = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND TaskQueue = '${taskQueue}'`;
  for await (const workflow of client.workflow.list({ query })) {
    const orderId = orderIdFromWorkflowId(workflow.workflowId);
    if (orderId) statuses.set(orderId, workflow.typedSearchAttributes.get(orderStatusKey) ?? null);
  }
  return statuses;
}

/** The orders whose visibility status differs from `expected`, once it has caught up (≤ 60 s). */
export async function visibilityDisagreements(
  client: Client,
  taskQueue: string,
  expected: Map<string, string | null>,
): Promise<{ orderId: string; expected: string | null; visible: string | null }[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const visible = await visibleOrderStatuses(client, taskQueue);
    const wrong = [...expected].flatMap(([orderId, status]) =>
      visible.get(orderId) === status
        ? []
        : [{ orderId, expected: status, visible: visible.get(orderId) ?? null }],
    );
    if (wrong.length === 0 || Date.now() > deadline) return wrong;
    await sleep(1000);
  }
}
