/**
 * The benchmark's plain baseline: the engine's own limit for four steps. Four no-op activities in
 * a row on one task queue, default retries, no search attributes — nothing of the order
 * workflow's shape, so ours ÷ this says what our whole design costs on top of Temporal.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface PlainActivities {
  plainStep(step: number): Promise<void>;
}

const { plainStep } = proxyActivities<PlainActivities>({ startToCloseTimeout: '10s' });

/** Four activities, one after the other. */
export async function plainOrder(): Promise<void> {
  for (let step = 1; step <= 4; step++) await plainStep(step);
}
