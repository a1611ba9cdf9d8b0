/**
 * Everything the simulated finance package remembers, in memory: what was charged per idempotency
 * key, the current mode, and the one-shot faults queued for the next payment calls.
 */
import type {
  ChargeRecord,
  KeyActivity,
  FinanceFault,
  FinanceModeSettings,
  PaymentReceipt,
  PaymentRequest,
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
  private queuedFaults: FinanceFault[] = [];
  private readonly keys = new Map<string, KeyHistory>();
  private readonly hangs: HungRequest[] = [];

  get modeSettings(): ModeSettings {
    return { ...this.settings };
  }

  /** Replaces the settings as a whole: values left out go back to their defaults. */
  setMode(settings: FinanceModeSettings): ModeSettings {
    this.settings = withDefaults(settings);
    return this.modeSettings;
  }

  get faults(): FinanceFault[] {
    return [...this.queuedFaults];
  }

  queueFaults(faults: FinanceFault[]): void {
    this.queuedFaults.push(...faults);
  }

  clearFaults(): void {
    this.queuedFaults = [];
  }

  /** The fault for the payment call being handled now, if one is queued. */
  takeFault(): FinanceFault | undefined {
    return this.queuedFaults.shift();
  }

  noteHang(key: string | null, at: Date = new Date()): void {
    this.hangs.push({ idempotencyKey: key, at: at.toISOString() });
  }

  get hung(): HungRequest[] {
    return [...this.hangs];
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

  chargeRecord(key: string): ChargeRecord {
    const history = this.keys.get(key);
    return {
      idempotencyKey: key,
      requests: history?.requests ?? 0,
      charges: history?.charges ?? 0,
      receipt: history?.charge?.receipt ?? null,
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
      history = { orderId: null, requestedAt: [], requests: 0, charges: 0, charge: null };
      this.keys.set(key, history);
    }
    return history;
  }
}
