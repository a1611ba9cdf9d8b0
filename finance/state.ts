/**
 * Everything the simulated finance package remembers, in memory: what was charged per idempotency
 * key, the current mode, and the one-shot faults queued for the next payment calls.
 */
import type {
  ChargeRecord,
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
  requests: number;
  /** Counted rather than derived from `charge`, so a double charge would show up as 2. */
  charges: number;
  charge: StoredCharge | null;
}

function withDefaults(settings: FinanceModeSettings): ModeSettings {
  const { mode, failureRate = 0.5, latencyMs = 2000 } = settings;
  return { mode, failureRate, latencyMs };
}

export class FinanceState {
  private settings: ModeSettings = withDefaults({ mode: 'normal' });
  private queuedFaults: FinanceFault[] = [];
  private readonly keys = new Map<string, KeyHistory>();

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

  noteRequest(key: string): void {
    this.history(key).requests += 1;
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

  private history(key: string): KeyHistory {
    let history = this.keys.get(key);
    if (!history) {
      history = { requests: 0, charges: 0, charge: null };
      this.keys.set(key, history);
    }
    return history;
  }
}
