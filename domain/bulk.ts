/**
 * Bulk actions: one operator action (retry or cancel) applied to every order a filter matched
 * when the batch was confirmed. Shared by the batch workflow, its activities and the API.
 */
import type { PaymentFailureKind } from './errors';
import type { OrderAction, OrderStatus } from './order';

/** Which orders a listing, an export or a batch covers; every field narrows it. */
export interface OrderFilter {
  statuses?: OrderStatus[];
  failureKinds?: PaymentFailureKind[];
  customerId?: string;
  product?: string;
  /** `createdAt` (when the API accepted the order) at or after this ISO instant. */
  placedFrom?: string;
  /** `createdAt` at or before this ISO instant. */
  placedTo?: string;
  /** Orders picked by hand on the dashboard. */
  orderIds?: string[];
  /** Only orders this identity placed (a client reads its own orders only). */
  placedBy?: string;
}

export const BULK_STATES = ['running', 'paused', 'cancelled', 'completed', 'not_started'] as const;
/** `not_started`: confirmed, but Temporal could not be reached to start its workflow. */
export type BulkState = (typeof BULK_STATES)[number];

/** A batch that will not move again. */
export function isFinishedBulkState(state: BulkState): boolean {
  return state === 'cancelled' || state === 'completed' || state === 'not_started';
}

export const BULK_OUTCOMES = ['applied', 'refused', 'failed'] as const;
/** `refused` carries the workflow's reason; `failed` the error that made the action impossible. */
export type BulkOutcome = (typeof BULK_OUTCOMES)[number];

/** Items done so far, by outcome. */
export interface BulkCounts {
  applied: number;
  refused: number;
  failed: number;
}

/** What the batch workflow starts with, and what each continue-as-new carries on with. */
export interface BulkActionInput {
  batchId: string;
  action: OrderAction;
  reason?: string;
  /** Orders acted on per second; the workflow sleeps 1 / rate between orders. */
  ratePerSecond: number;
  /** Items read per activity call. */
  pageSize: number;
  /** Items one run handles before it continues as new, keeping its history bounded. */
  itemsPerRun: number;
  /** Carried across continue-as-new. */
  progress?: { afterSeq: number; counts: BulkCounts; paused: boolean };
}

/** One item as the workflow sees it. */
export interface BulkItemRef {
  seq: number;
  orderId: string;
}

/** The result of applying the action to one item. */
export interface BulkItemResult {
  outcome: BulkOutcome;
  detail: string | null;
}

/** The progress query's answer. */
export interface BulkProgress {
  batchId: string;
  action: OrderAction;
  state: BulkState;
  counts: BulkCounts;
  ratePerSecond: number;
  /** The last item handled; items are handled in `seq` order. */
  afterSeq: number;
}
