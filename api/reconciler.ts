/**
 * No order lost: an order whose row was written but whose workflow was never recorded as started
 * (the API died in between, or Temporal was unreachable) gets its workflow started here.
 * Starting twice is harmless: the workflow id is the order id.
 */
import type { ApiDeps } from './deps';
import { isTemporalUnavailable } from './errors';
import { launchOrderWorkflow } from './workflows';

/** Orders per pass: a backlog after an outage drains over a few passes, not one long burst. */
export const RECONCILE_BATCH = 100;

export interface ReconcileResult {
  started: number;
  /** The workflow existed already; only the row was behind. */
  recorded: number;
  failed: number;
}

type ReconcileDeps = Pick<
  ApiDeps,
  'db' | 'temporal' | 'config' | 'log' | 'clock' | 'temporalTimeoutMs'
>;

/** One pass over orders older than RECONCILE_AFTER that have no recorded workflow. */
export async function reconcileOrders(
  deps: ReconcileDeps,
  { batch = RECONCILE_BATCH }: { batch?: number } = {},
): Promise<ReconcileResult> {
  const now = (deps.clock ?? (() => new Date()))();
  const cutoff = new Date(now.getTime() - deps.config.RECONCILE_AFTER);
  const orders = await deps.db.orders.listUnstarted(cutoff, batch);
  const result: ReconcileResult = { started: 0, recorded: 0, failed: 0 };
  for (const order of orders) {
    try {
      const { outcome } = await launchOrderWorkflow(deps, order, { mayExist: true });
      result[outcome === 'started' ? 'started' : 'recorded'] += 1;
      deps.log.info('reconciler started an order workflow', { orderId: order.id, outcome });
    } catch (error) {
      result.failed += 1;
      deps.log.warn('reconciler could not start an order workflow', {
        orderId: order.id,
        reason: error instanceof Error ? error.message : String(error),
      });
      // Temporal is down: the rest of the batch would fail the same way; try next pass.
      if (isTemporalUnavailable(error)) break;
    }
  }
  return result;
}

export interface ReconcilerLoop {
  stop(): Promise<void>;
}

/**
 * Runs a pass now and then every RECONCILE_EVERY after the previous pass ends, so passes never
 * overlap. Several API processes may each run one; they only repeat each other's idempotent work.
 */
export function startReconciler(deps: ReconcileDeps): ReconcilerLoop {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const pass = async (): Promise<void> => {
    try {
      const result = await reconcileOrders(deps);
      if (result.started + result.recorded + result.failed > 0) {
        deps.log.info('reconciler pass', { ...result });
      }
    } catch (error) {
      deps.log.warn('reconciler pass failed', {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  };
  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().then(() => schedule(deps.config.RECONCILE_EVERY));
    }, delay);
  };
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
