/**
 * One bulk action: applies an operator's retry or cancel to every item written when the batch was
 * confirmed, in order, at the batch's rate (a durable timer between orders), through the same
 * order Update as a single action (the `applyBulkItem` activity). Pause, resume and cancel are Updates; progress is a query. The run
 * continues as new every `itemsPerRun` items (or when Temporal suggests it), carrying its counts.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BulkActivities } from '../activities/bulk';
import type {
  BulkActionInput,
  BulkCounts,
  BulkItemRef,
  BulkItemResult,
  BulkProgress,
  BulkState,
} from '../domain/bulk';
import { BULK_QUERIES, BULK_UPDATES } from '../domain/temporal';
import { bulkItemActivity, shortActivity } from './policies';

/** The type of the failure a control's validator refuses with; its message is the reason. */
export const BULK_CONTROL_REFUSED = 'BulkControlRefused';

export const pauseBulkUpdate = defineUpdate<BulkProgress>(BULK_UPDATES.pause);
export const resumeBulkUpdate = defineUpdate<BulkProgress>(BULK_UPDATES.resume);
export const cancelBulkUpdate = defineUpdate<BulkProgress>(BULK_UPDATES.cancel);
export const bulkProgressQuery = defineQuery<BulkProgress>(BULK_QUERIES.progress);

export async function bulkAction(input: BulkActionInput): Promise<BulkProgress> {
  const { batchId, action } = input;
  const { nextBulkItems, recordBulkState, recordBulkItemFailure } =
    proxyActivities<BulkActivities>(shortActivity);
  const { applyBulkItem } = proxyActivities<BulkActivities>(bulkItemActivity);

  const counts: BulkCounts = {
    ...(input.progress?.counts ?? { applied: 0, refused: 0, failed: 0 }),
  };
  let afterSeq = input.progress?.afterSeq ?? 0;
  let paused = input.progress?.paused ?? false;
  let cancelled = false;
  let finished = false;

  const state = (): BulkState =>
    cancelled ? 'cancelled' : finished ? 'completed' : paused ? 'paused' : 'running';
  const progress = (): BulkProgress => ({
    batchId,
    action,
    state: state(),
    counts: { ...counts },
    ratePerSecond: input.ratePerSecond,
    afterSeq,
  });
  const refuse = (message: string): never => {
    throw ApplicationFailure.create({ type: BULK_CONTROL_REFUSED, message });
  };
  const mustBeLive = () => {
    if (cancelled) refuse('The batch is already cancelled');
    if (finished) refuse('The batch has already completed');
  };
  /** SQL's copy of the state, for listings and for when the workflow has closed. */
  let recorded: BulkState | null = null;
  const record = async () => {
    const now = state();
    if (now === recorded) return;
    recorded = now;
    await recordBulkState({ batchId, state: now });
  };

  setHandler(bulkProgressQuery, progress);
  setHandler(
    pauseBulkUpdate,
    () => {
      paused = true;
      return progress();
    },
    {
      validator: () => {
        mustBeLive();
        if (paused) refuse('The batch is already paused');
      },
      description: 'Stop after the order in hand; nothing more is touched until resumed.',
    },
  );
  setHandler(
    resumeBulkUpdate,
    () => {
      paused = false;
      return progress();
    },
    {
      validator: () => {
        mustBeLive();
        if (!paused) refuse('The batch is not paused');
      },
      description: 'Carry on from the next order.',
    },
  );
  setHandler(
    cancelBulkUpdate,
    () => {
      cancelled = true;
      return progress();
    },
    {
      validator: mustBeLive,
      description: 'Stop for good after the order in hand; the rest stay untouched.',
    },
  );

  async function applyOne(item: BulkItemRef): Promise<BulkItemResult> {
    try {
      return await applyBulkItem({
        batchId,
        seq: item.seq,
        orderId: item.orderId,
        action,
        ...(input.reason ? { reason: input.reason } : {}),
      });
    } catch (error) {
      // The activity gave up (its retries are spent): the order could not be acted on.
      const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
      const detail = cause instanceof Error ? cause.message : String(cause);
      return recordBulkItemFailure({ batchId, seq: item.seq, detail });
    }
  }

  const pauseMs = input.ratePerSecond > 0 ? Math.ceil(1000 / input.ratePerSecond) : 0;
  let handledThisRun = 0;
  batches: for (;;) {
    await record();
    await condition(() => !paused || cancelled);
    await record();
    if (cancelled) break;
    const page = await nextBulkItems({ batchId, afterSeq, limit: input.pageSize });
    if (page.length === 0) {
      finished = true;
      break;
    }
    for (const item of page) {
      await record();
      await condition(() => !paused || cancelled);
      await record();
      if (cancelled) break batches;
      const result = await applyOne(item);
      counts[result.outcome] += 1;
      afterSeq = item.seq;
      handledThisRun += 1;
      if (handledThisRun >= input.itemsPerRun || workflowInfo().continueAsNewSuggested) {
        // Let an accepted pause or cancel finish before this run's history is closed.
        await condition(allHandlersFinished);
        if (cancelled) break batches;
        log.info('bulk action continues as new', { batchId, afterSeq, counts });
        return continueAsNew<typeof bulkAction>({
          ...input,
          progress: { afterSeq, counts, paused },
        });
      }
      // The rate's gap between orders; a cancel ends it at once.
      if (pauseMs > 0) await condition(() => cancelled, pauseMs);
    }
  }
  await record();
  await condition(allHandlersFinished);
  log.info('bulk action finished', { batchId, state: state(), counts });
  return progress();
}
