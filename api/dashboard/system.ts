/**
 * `GET /api/system`: what the operator needs to tell which resource runs short. Temporal's view
 * of the workers (pollers, backlog, how long the oldest task has waited to start), the running
 * workflows, the database size and, with the demo tools on, the finance simulator's mode and the
 * load generator. Each part is read on its own: one unreachable dependency is reported, the
 * others still show. Without a simulator to ask (demo tools off, or a real finance package that
 * has no `/mode`), the finance part says so instead of reporting an error.
 */
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { Router } from 'express';
import { ORDER_WORKFLOW_TYPE, paymentTaskQueue } from '../../domain/temporal';
import { guardOf } from '../auth';
import { temporalTimeout, type ApiDeps } from '../deps';
import {
  ApiError,
  isDatabaseUnavailable,
  isTemporalUnavailable,
  methodNotAllowed,
} from '../errors';
import type { DemoTools } from '../demo';
import { isNoSimulator, type FinanceModeState } from '../demo/finance';
import type { LoadStatus } from '../demo/load';
import type { SystemResponse } from '../schemas';

const { TaskQueueType, RateLimitSource } = temporal.api.enums.v1;

export const SYSTEM_PATH = '/api/system';

export interface TaskQueueHealth {
  name: string;
  /** What the queue carries, for a person. */
  role: string;
  kind: 'workflow' | 'activity';
  pollers: number;
  lastPollAt: string | null;
  /** Tasks waiting for a worker. */
  backlog: number;
  /** Age of the oldest waiting task: the schedule-to-start delay a new task would see. */
  backlogAgeMs: number;
  addRatePerSecond: number;
  dispatchRatePerSecond: number;
  /** Set when the worker caps this queue (e.g. PAYMENT_RATE_PER_SECOND on payments). */
  workerRateLimitPerSecond: number | null;
}

export interface SystemHealth {
  temporal: { namespace: string; uiUrl: string } & (
    { runningWorkflows: number; taskQueues: TaskQueueHealth[] } | Unreachable
  );
  database: { quotaBytes: number | null } & ({ dialect: string; sizeBytes: number } | Unreachable);
  /** Accepted orders whose workflow the launcher has not started yet, and the oldest one's age. */
  launches: { waiting: number; oldestSeconds: number | null } | Unreachable;
  finance: FinanceModeState | Unreachable | NoSimulator;
  /** Null when the demo tools are off: there is no load generator. */
  load: LoadStatus | null;
  /** Whether the demo scenarios are on (DEMO_SCENARIOS); the page hides them when not. */
  demo: boolean;
  generatedAt: string;
}

/** No finance simulator to read a mode from; `reason` says why, for a person. */
export interface NoSimulator {
  simulator: false;
  reason: string;
}

const DEMO_OFF: NoSimulator = {
  simulator: false,
  reason: 'no simulator: the demo scenarios are off (DEMO_SCENARIOS)',
};
const REAL_PACKAGE: NoSimulator = {
  simulator: false,
  reason: 'no simulator: the finance package has no control endpoints',
};

/** A part of the system that did not answer; the rest of the answer still stands. */
export interface Unreachable {
  error: string;
}

type Int64 = number | { toNumber(): number } | null | undefined;
const toNumber = (value: Int64): number =>
  typeof value === 'number' ? value : (value?.toNumber() ?? 0);

async function describeQueue(
  client: Client,
  queue: { name: string; role: string; kind: 'workflow' | 'activity' },
): Promise<TaskQueueHealth> {
  const answer = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue.name },
    taskQueueType:
      queue.kind === 'workflow'
        ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportStats: true,
  });
  const pollers = answer.pollers ?? [];
  const lastPoll = Math.max(0, ...pollers.map((p) => optionalTsToMs(p.lastAccessTime) ?? 0));
  const limit = answer.effectiveRateLimit;
  return {
    ...queue,
    pollers: pollers.length,
    lastPollAt: lastPoll > 0 ? new Date(lastPoll).toISOString() : null,
    backlog: toNumber(answer.stats?.approximateBacklogCount),
    backlogAgeMs: optionalTsToMs(answer.stats?.approximateBacklogAge) ?? 0,
    addRatePerSecond: answer.stats?.tasksAddRate ?? 0,
    dispatchRatePerSecond: answer.stats?.tasksDispatchRate ?? 0,
    workerRateLimitPerSecond:
      limit?.rateLimitSource === RateLimitSource.RATE_LIMIT_SOURCE_WORKER
        ? (limit.requestsPerSecond ?? null)
        : null,
  };
}

/** Soft failures: an unreachable part becomes `{ error }` and the rest of the answer stands. */
async function settle<T>(
  read: () => Promise<T>,
  isDown: (error: unknown) => boolean,
  message: string,
): Promise<T | Unreachable> {
  try {
    return await read();
  } catch (error) {
    if (isDown(error)) return { error: message };
    throw error;
  }
}

/** The simulator's mode, or why there is none (demo tools off, or a real finance package). */
async function financeMode(demo: DemoTools | null): Promise<FinanceModeState | NoSimulator> {
  if (!demo) return DEMO_OFF;
  try {
    return await demo.finance.mode();
  } catch (error) {
    if (isNoSimulator(error)) return REAL_PACKAGE;
    throw error;
  }
}

/** `GET /api/system`, reading the demo tools' parts only when they are on. */
export function systemRouter(deps: ApiDeps, demo: DemoTools | null): Router {
  const { temporal: client, config, db } = deps;
  const queue = config.TEMPORAL_TASK_QUEUE;
  const queues = [
    { name: queue, role: 'order workflows', kind: 'workflow' as const },
    { name: queue, role: 'status writes', kind: 'activity' as const },
    { name: paymentTaskQueue(queue), role: 'payments', kind: 'activity' as const },
  ];
  const escapedQueue = queue.replace(/'/g, "\\'");
  const running = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND TaskQueue = '${escapedQueue}' AND ExecutionStatus = 'Running'`;
  const withinDeadline = <T>(read: () => Promise<T>) =>
    client.withDeadline(Date.now() + temporalTimeout(deps), read);

  const temporalHealth = async () => {
    const [count, taskQueues] = await withinDeadline(() =>
      Promise.all([
        client.workflow.count(running),
        Promise.all(queues.map((q) => describeQueue(client, q))),
      ]),
    );
    return { runningWorkflows: count.count, taskQueues };
  };

  const router = Router();
  router
    .route(SYSTEM_PATH)
    .get(guardOf(deps)('GET', SYSTEM_PATH), async (_req, res) => {
      const [temporalPart, database, launches, financeState] = await Promise.all([
        settle(temporalHealth, isTemporalUnavailable, 'Temporal is unreachable'),
        settle(
          async () => ({ dialect: db.dialect, sizeBytes: await db.sizeBytes() }),
          isDatabaseUnavailable,
          'The database is unreachable',
        ),
        settle(
          async () => {
            const { waiting, oldestAcceptedAt } = await db.launches.backlog();
            const age = oldestAcceptedAt ? (Date.now() - oldestAcceptedAt.getTime()) / 1000 : null;
            return { waiting, oldestSeconds: age === null ? null : Math.max(0, age) };
          },
          isDatabaseUnavailable,
          'The database is unreachable',
        ),
        settle(
          () => financeMode(demo),
          (error) => error instanceof ApiError,
          'The finance package is unreachable',
        ),
      ]);
      // Typed by the schema the OpenAPI document shows, and by the interface the page reads.
      const body: SystemHealth & SystemResponse = {
        temporal: {
          namespace: config.TEMPORAL_NAMESPACE,
          uiUrl: config.TEMPORAL_UI_URL,
          ...temporalPart,
        },
        database: { ...database, quotaBytes: config.DATABASE_QUOTA_BYTES ?? null },
        launches,
        finance: financeState,
        load: demo ? demo.load.status() : null,
        demo: demo !== null,
        generatedAt: new Date().toISOString(),
      };
      res.json(body);
    })
    .all(methodNotAllowed('GET', 'HEAD'));
  return router;
}
