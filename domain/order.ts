import type { PaymentFailureKind } from './errors';

/**
 * Orders as the rest of the system sees them. The SQL row is the read model; the workflow decides
 * what happens next. Statuses are listed once here and nowhere else.
 */
export const ORDER_STATUSES = [
  'queued',
  'processing',
  'processed',
  'failed',
  'cancelled',
  'rejected',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * `failed` is final for the read model's counts, but the workflow stays open for a while so an
 * operator can retry it; `processed`, `cancelled` and `rejected` (by customer verification, a
 * business decision) close the workflow.
 */
export const FINAL_STATUSES: readonly OrderStatus[] = [
  'processed',
  'failed',
  'cancelled',
  'rejected',
];

/** Only a failed order can be charged again. */
export function canRetry(status: OrderStatus): boolean {
  return status === 'failed';
}

/** Anything not yet closed can be cancelled; a charged, cancelled or rejected order cannot. */
export function canCancel(status: OrderStatus): boolean {
  return status !== 'processed' && status !== 'cancelled' && status !== 'rejected';
}

/**
 * Why an operator's action does not apply to an order in `status`, or null if it does: the rule
 * the workflow applies to updates and signals, and the API to an order whose workflow closed.
 */
export function statusRefusal(action: OrderAction, status: OrderStatus): string | null {
  if (action === 'retry') {
    return canRetry(status) ? null : `Only a failed order can be retried; this order is ${status}`;
  }
  return canCancel(status) ? null : `A ${status} order cannot be cancelled`;
}

export function isOrderStatus(value: string): value is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(value);
}

export interface NewOrder {
  customerId: string;
  product: string;
  quantity: number;
  /** Decimal string with two places, e.g. "25.00": money is never a binary float here. */
  amount: string;
  /** ISO 4217 code, upper case. */
  currency: string;
  /** ISO-8601 instant in UTC (`...Z`). */
  datePlaced: string;
}

export interface Order extends NewOrder {
  id: string;
  status: OrderStatus;
  failureReason: string | null;
  /** Payment attempts actually made against the finance package, over all retries. */
  attempts: number;
  paymentReference: string | null;
  /** The operator's reason, when the order was cancelled with one. */
  cancelReason: string | null;
  /** Set when money taken for a cancelled order was given back. */
  refundReference: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the workflow needs to process one order; everything else it reads through activities. */
export interface OrderWorkflowInput {
  orderId: string;
  customerId: string;
  amount: string;
  currency: string;
  datePlaced: string;
  settings: OrderWorkflowSettings;
  /**
   * Set when an operator acts on a failed order whose workflow already closed: the new run
   * carries on from the stored state (its status versions continue after `fromVersion`, it does
   * not verify the customer again) and applies the action first.
   */
  resume?: OrderResume;
}

/** What a new run of a closed order's workflow starts from. */
export interface OrderResume {
  action: OrderAction;
  /** With `cancel`: the operator's reason. */
  reason?: string;
  /** The SQL row's status version: the new run's writes must be newer. */
  fromVersion: number;
  /** Payment attempts already made, so the count stays right across runs. */
  attempts: number;
}

/** What an operator can do to an order, through the API, an update or a signal. */
export type OrderAction = 'cancel' | 'retry';

/** The answer of the cancel and retry updates: the workflow accepted the action. */
export interface OrderActionAccepted {
  orderId: string;
  action: OrderAction;
  /** The order's status when the action was accepted. */
  status: OrderStatus;
  message: string;
}

/**
 * Operational knobs chosen by whoever starts the workflow (from config), carried in the input so
 * the workflow stays deterministic and a replay uses the values the run started with.
 */
export interface OrderWorkflowSettings {
  /** Payment attempts per round before the order is marked failed (≥ 1). */
  maxPaymentAttempts: number;
  /** How long a failed order waits for an operator's retry or cancel before its workflow closes. */
  failedOrderWaitMs: number;
}

/** One status change, written to SQL by an activity and mirrored into the search attribute. */
export interface StatusChange {
  orderId: string;
  status: OrderStatus;
  /**
   * Increases with every change the workflow makes. A write with a version not newer than the row's
   * is ignored, so a late duplicate of an activity can never move an order backwards.
   */
  version: number;
  failureReason?: string | null;
  /** With `failed`: the class of failure, for metrics and alerts. */
  failureKind?: PaymentFailureKind;
  paymentReference?: string | null;
  /** With `cancelled`: the operator's reason, if one was given. */
  cancelReason?: string | null;
  /** With `cancelled`: the refund of money taken before the cancel took effect. */
  refundReference?: string | null;
}

/** What the workflow's `status` query answers. */
export interface OrderWorkflowState {
  orderId: string;
  status: OrderStatus;
  /** Payment attempts the workflow has seen complete (successful or not), over all rounds. */
  attempts: number;
  lastFailure: string | null;
  paymentReference: string | null;
  cancelReason: string | null;
  refundReference: string | null;
  /** An accepted cancel or retry the workflow is carrying out; null when none. */
  pendingAction: OrderAction | null;
  /** ISO timestamps of each status the workflow entered, in order. */
  history: { status: OrderStatus; at: string }[];
}

export interface OrderWorkflowResult {
  orderId: string;
  status: Extract<OrderStatus, 'processed' | 'failed' | 'cancelled' | 'rejected'>;
  paymentReference: string | null;
  failureReason: string | null;
  attempts: number;
  cancelReason?: string | null;
  refundReference?: string | null;
}
