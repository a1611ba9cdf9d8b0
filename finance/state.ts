/**
 * Everything the simulated finance package remembers, in memory: what was charged and refunded
 * per idempotency key, which keys have a request in progress, the current mode, and the one-shot
 * faults queued for the next calls to the money endpoints.
 */
import type {
  ChargeRecord,
  KeyActivity,
  FaultEndpoint,
  FinanceFault,
  FinanceModeSettings,
  PaymentReceipt,
  PaymentRequest,
  RefundReceipt,
} from '../domain/finance';

/** Mode settings with every default filled in, as `GET /mode` reports them. */
export type ModeSettings = Required<FinanceModeSettings>;

export interface StoredCharge {
  request: PaymentRequest;
  receipt: PaymentReceipt;
}

interface KeyHistory {
  orderId: string | null;
  requestedAt: string[];
  requests: number;
  /** Counted rather than derived from `charge`, so a double charge would show up as 2. */
  charges: number;
  charge: StoredCharge | null;
  /** Counted like `charges`, so a double refund would show up as 2. */
  refunds: number;
  refund: RefundReceipt | null;
}

/** A payment call that was left hanging (the `hang` fault), for tests that act while one is. */
export interface HungRequest {
  idempotencyKey: string | null;
  at: string;
}

function withDefaults(settings: FinanceModeSettings): ModeSettings {
  const { mode, failureRate = 0.5, latencyMs = 2000 } = settings;
  return { mode, failureRate, latencyMs };
}

export class FinanceState {
  private settings: ModeSettings = withDefaults({ mode: 'normal' });
  private queuedFaults: { fault: FinanceFault; endpoint: FaultEndpoint }[] = [];
  private readonly keys = new Map<string, KeyHistory>();
  private readonly hangs: HungRequest[] = [];
  /** Requests in progress per payment key: from arrival until the charge decision. */
  private readonly pendingPayments = new Map<string, number>();
  /** Requests in progress per refund key. */
  private readonly pendingRefunds = new Map<string, number>();
  /** Refunds by their own idempotency key. */
  private readonly refundsByKey = new Map<string, RefundReceipt>();

  get modeSettings(): ModeSettings {
    return { ...this.settings };
  }

  /** Replaces the settings as a whole: values left out go back to their defaults. */
  setMode(settings: FinanceModeSettings): ModeSettings {
    this.settings = withDefaults(settings);
    return this.modeSettings;
  }

  /** The queued faults in order, whichever endpoint each is for. */
  get faults(): FinanceFault[] {
    return this.queuedFaults.map(({ fault }) => fault);
  }

  /** Queues faults for the next calls of one money endpoint (`any`: of whichever comes first). */
  queueFaults(faults: FinanceFault[], endpoint: FaultEndpoint = 'payment'): void {
    this.queuedFaults.push(...faults.map((fault) => ({ fault, endpoint })));
  }

  clearFaults(): void {
    this.queuedFaults = [];
  }

  /** The first fault queued for this endpoint's call being handled now, if any. */
  takeFault(endpoint: Exclude<FaultEndpoint, 'any'>): FinanceFault | undefined {
    const index = this.queuedFaults.findIndex(
      (queued) => queued.endpoint === endpoint || queued.endpoint === 'any',
    );
    if (index < 0) return undefined;
    return this.queuedFaults.splice(index, 1)[0]?.fault;
  }

  noteHang(key: string | null, at: Date = new Date()): void {
    this.hangs.push({ idempotencyKey: key, at: at.toISOString() });
  }

  get hung(): HungRequest[] {
    return [...this.hangs];
  }

  /**
   * Marks a payment request with this key as in progress; the returned function ends it and is
   * safe to call more than once, since a request can end by an answer and by a closed connection.
   */
  beginPayment(key: string): () => void {
    return begin(this.pendingPayments, key);
  }

  /** True while a payment request with this key is in progress. */
  isPaymentPending(key: string): boolean {
    return this.pendingPayments.has(key);
  }

  /** Marks a refund request with this refund key as in progress; see `beginPayment`. */
  beginRefund(key: string): () => void {
    return begin(this.pendingRefunds, key);
  }

  /** True while a refund request with this refund key is in progress. */
  isRefundPending(key: string): boolean {
    return this.pendingRefunds.has(key);
  }

  get pending(): string[] {
    return [...this.pendingPayments.keys()];
  }

  get pendingRefundKeys(): string[] {
    return [...this.pendingRefunds.keys()];
  }

  noteRequest(key: string, orderId: string | null, at: Date = new Date()): void {
    const history = this.history(key);
    history.requests += 1;
    history.orderId ??= orderId;
    history.requestedAt.push(at.toISOString());
  }

  chargeFor(key: string): StoredCharge | null {
    return this.keys.get(key)?.charge ?? null;
  }

  recordCharge(charge: StoredCharge): void {
    const history = this.history(charge.request.idempotencyKey);
    history.charges += 1;
    history.charge = charge;
  }

  refundFor(paymentKey: string): RefundReceipt | null {
    return this.keys.get(paymentKey)?.refund ?? null;
  }

  refundByKey(refundKey: string): RefundReceipt | null {
    return this.refundsByKey.get(refundKey) ?? null;
  }

  recordRefund(refund: RefundReceipt): void {
    const history = this.history(refund.paymentKey);
    history.refunds += 1;
    history.refund = refund;
    this.refundsByKey.set(refund.idempotencyKey, refund);
  }

  chargeRecord(key: string): ChargeRecord {
    const history = this.keys.get(key);
    return {
      idempotencyKey: key,
      requests: history?.requests ?? 0,
      charges: history?.charges ?? 0,
      receipt: history?.charge?.receipt ?? null,
      refunds: history?.refunds ?? 0,
      refund: history?.refund ?? null,
    };
  }

  activity(): KeyActivity[] {
    return [...this.keys.keys()].map((key) => {
      const { orderId, requestedAt } = this.history(key);
      return { ...this.chargeRecord(key), orderId, requestedAt: [...requestedAt] };
    });
  }

  private history(key: string): KeyHistory {
    let history = this.keys.get(key);
    if (!history) {
      history = {
        orderId: null,
        requestedAt: [],
        requests: 0,
        charges: 0,
        charge: null,
        refunds: 0,
        refund: null,
      };
      this.keys.set(key, history);
    }
    return history;
  }
}

function begin(counts: Map<string, number>, key: string): () => void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  };
}
