/**
 * What the worker's `/healthz` answers: whether this process can do its job right now. It is
 * healthy only while both workers run with their pollers up, the Temporal frontend answers on the
 * worker's own connection, and the orders database answers a ping: a worker that cannot reach one
 * of them takes tasks it cannot finish, or none at all, while its process looks alive.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NativeConnection } from '@temporalio/worker';
import type { Database } from '../db';
import type { Logger } from '../observability/logger';
import type { OrderWorkers } from './workers';

/** An orchestrator's probe would rather hear "unhealthy" than wait on a hung pool or channel. */
const CHECK_TIMEOUT_MS = 2_000;

/** One dependency's check; the reason stays generic, the log has the driver's message. */
export interface DependencyCheck {
  ok: boolean;
  error?: string;
}

/** The SDK's view of one worker: run state and the state of its two pollers. */
export interface WorkerCheck {
  ok: boolean;
  state: string;
  workflowPoller: string;
  activityPoller: string;
}

/** The body of `/healthz`; `status` decides between 200 and 503. */
export interface WorkerHealth {
  status: 'ok' | 'unhealthy';
  workers: Record<string, WorkerCheck>;
  temporal: DependencyCheck;
  database: DependencyCheck;
  checkedAt: string;
}

async function check(
  what: string,
  run: () => Promise<unknown>,
  log: Logger,
): Promise<DependencyCheck> {
  try {
    const outcome = await Promise.race([
      run().then(() => 'ok' as const),
      sleep(CHECK_TIMEOUT_MS, 'timeout' as const, { ref: false }),
    ]);
    if (outcome === 'ok') return { ok: true };
    log.warn('health check failed', { check: what, error: 'timeout' });
    return { ok: false, error: `no answer within ${CHECK_TIMEOUT_MS} ms` };
  } catch (error) {
    log.warn('health check failed', {
      check: what,
      error: error instanceof Error ? error.message.slice(0, 500) : String(error),
    });
    return { ok: false, error: 'the check failed; the worker log has the error' };
  }
}

/** Builds the `/healthz` check over the worker's own workers, connection and database. */
export function workerHealthCheck(deps: {
  workers: Pick<OrderWorkers, 'status'>;
  connection: Pick<NativeConnection, 'withDeadline' | 'workflowService'>;
  db: Pick<Database, 'ping'>;
  log: Logger;
}): () => Promise<WorkerHealth> {
  const { workers, connection, db, log } = deps;
  return async () => {
    const [temporal, database] = await Promise.all([
      check(
        'temporal',
        () =>
          connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
            connection.workflowService.getSystemInfo({}),
          ),
        log,
      ),
      check('database', () => db.ping(), log),
    ]);
    const states = Object.entries(workers.status()).map(([name, { status: s, pollers }]) => {
      const polling = {
        workflow: s.workflowPollerState === 'POLLING',
        activity: s.activityPollerState === 'POLLING',
      };
      const ok = s.runState === 'RUNNING' && pollers.every((kind) => polling[kind]);
      const worker: WorkerCheck = {
        ok,
        state: s.runState,
        workflowPoller: s.workflowPollerState,
        activityPoller: s.activityPollerState,
      };
      return [name, worker] as const;
    });
    const healthy = temporal.ok && database.ok && states.every(([, s]) => s.ok);
    return {
      status: healthy ? 'ok' : 'unhealthy',
      workers: Object.fromEntries(states),
      temporal,
      database,
      checkedAt: new Date().toISOString(),
    };
  };
}
