/**
 * The bulk-action workflow's side effects: reading its items, applying the action to one order
 * through the same path as `POST /api/orders/:id/<action>`, and recording outcomes and state.
 */
import { ApplicationFailure } from '@temporalio/activity';
import {
  applyOrderAction,
  OrderActionFailure,
  type OrderActionDeps,
} from '../clients/order-actions';
import type { BulkActionRepository } from '../db/bulk';
import type { OrderRepository } from '../db/orders';
import type { BulkItemRef, BulkItemResult, BulkState } from '../domain/bulk';
import type { OrderAction } from '../domain/order';
import type { Logger } from '../observability/logger';

export interface BulkActivityDeps {
  bulk: BulkActionRepository;
  orders: OrderRepository;
  /** How to reach the order workflows: the API's settings (task queue, workflow settings). */
  actions: Omit<OrderActionDeps, 'orders'>;
  log: Logger;
}

export interface BulkItemInput {
  batchId: string;
  seq: number;
  orderId: string;
  action: OrderAction;
  reason?: string;
}

/** The failure type of an action that could not be decided now (Temporal or a worker away). */
export const BULK_ITEM_UNDECIDED = 'BulkItemUndecided';

/** One Update id per item: a retried activity gets the first attempt's answer back. */
export function bulkItemUpdateId(batchId: string, seq: number): string {
  return `bulk-${batchId}-${seq}`;
}

export function createBulkActivities({ bulk, orders, actions, log }: BulkActivityDeps) {
  return {
    nextBulkItems: ({
      batchId,
      afterSeq,
      limit,
    }: {
      batchId: string;
      afterSeq: number;
      limit: number;
    }): Promise<BulkItemRef[]> => bulk.nextItems(batchId, afterSeq, limit),

    /**
     * Applies the action to one order once. An outcome already recorded (an earlier attempt got
     * that far) is answered as it is; otherwise the order's workflow decides, and its refusal is
     * recorded with its reason. When nothing could be decided the activity fails, to be retried.
     */
    applyBulkItem: async (input: BulkItemInput): Promise<BulkItemResult> => {
      const { batchId, seq, orderId, action } = input;
      const item = await bulk.item(batchId, seq);
      if (!item) {
        throw ApplicationFailure.nonRetryable(`bulk action ${batchId} has no item ${seq}`);
      }
      if (item.outcome) return { outcome: item.outcome, detail: item.detail };
      const order = await orders.get(orderId);
      if (!order) {
        return bulk.recordOutcome(batchId, seq, {
          outcome: 'refused',
          detail: 'The order no longer exists',
        });
      }
      let result: BulkItemResult;
      try {
        const { accepted } = await applyOrderAction({ ...actions, orders }, action, order, {
          reason: input.reason,
          updateId: bulkItemUpdateId(batchId, seq),
        });
        result = { outcome: 'applied', detail: accepted.message };
      } catch (error) {
        if (!(error instanceof OrderActionFailure)) throw error;
        if (error.kind !== 'refused' && error.kind !== 'not_started') {
          throw ApplicationFailure.create({ type: BULK_ITEM_UNDECIDED, message: error.message });
        }
        result = { outcome: 'refused', detail: error.message };
      }
      const recorded = await bulk.recordOutcome(batchId, seq, result);
      log.info('bulk action item done', { batchId, seq, orderId, action, ...recorded });
      return recorded;
    },

    /** The item could not be acted on after every retry: recorded `failed` with the error. */
    recordBulkItemFailure: ({
      batchId,
      seq,
      detail,
    }: {
      batchId: string;
      seq: number;
      detail: string;
    }): Promise<BulkItemResult> => bulk.recordOutcome(batchId, seq, { outcome: 'failed', detail }),

    recordBulkState: async ({
      batchId,
      state,
    }: {
      batchId: string;
      state: BulkState;
    }): Promise<void> => {
      await bulk.setState(batchId, state);
      log.info('bulk action state', { batchId, state });
    },
  };
}

export type BulkActivities = ReturnType<typeof createBulkActivities>;
