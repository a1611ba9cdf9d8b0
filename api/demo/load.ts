/**
 * The dashboard's load generator: places orders at a steady or rising rate for a bounded time, in
 * the API process. One run at a time; starting again replaces the run, so a scenario pressed twice
 * never doubles the load.
 */

export interface LoadPlan {
  scenario: string;
  /** Orders per second at the start. */
  ratePerSecond: number;
  /** Added to the rate every `stepEveryMs` (0 = steady), up to `maxRatePerSecond`. */
  stepPerSecond: number;
  stepEveryMs: number;
  maxRatePerSecond: number;
  durationMs: number;
}

export interface LoadStatus {
  running: boolean;
  scenario: string | null;
  /** Orders per second right now (0 when stopped). */
  ratePerSecond: number;
  maxRatePerSecond: number | null;
  startedAt: string | null;
  endsAt: string | null;
  /** Orders the API accepted, refused, or that were skipped while too many were in flight. */
  placed: number;
  failed: number;
  skipped: number;
  lastError: string | null;
}

/** Places one order; throws with a short message when the API refused it. */
export type PlaceOrder = () => Promise<void>;

const TICK_MS = 100;
/**
 * Requests in flight at once. When the API slows down the generator skips (and counts) orders
 * rather than piling up requests: the load stays bounded whatever happens downstream.
 */
const MAX_IN_FLIGHT = 20;

interface Run {
  plan: LoadPlan;
  placeOrder: PlaceOrder;
  startedAt: number;
  timer: NodeJS.Timeout | null;
  lastTick: number;
  /** Fractional orders owed: at 0.5/s one order is due every other second. */
  credit: number;
  inFlight: number;
  counts: { placed: number; failed: number; skipped: number };
  lastError: string | null;
}

export class LoadGenerator {
  /** The latest run, still going while it has a timer. */
  private run: Run | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  start(plan: LoadPlan, placeOrder: PlaceOrder): LoadStatus {
    this.stop();
    const startedAt = this.now();
    this.run = {
      plan,
      placeOrder,
      startedAt,
      // Unref'd: a running load never keeps the API process alive on shutdown.
      timer: setInterval(() => this.tick(), TICK_MS).unref(),
      lastTick: startedAt,
      // The first order goes at once, so the page shows the load has started.
      credit: 1,
      inFlight: 0,
      counts: { placed: 0, failed: 0, skipped: 0 },
      lastError: null,
    };
    this.tick();
    return this.status();
  }

  stop(): LoadStatus {
    if (this.run?.timer) clearInterval(this.run.timer);
    if (this.run) this.run.timer = null;
    return this.status();
  }

  status(): LoadStatus {
    const run = this.run;
    const running = run?.timer != null;
    return {
      running,
      scenario: run?.plan.scenario ?? null,
      ratePerSecond: run && running ? this.rateAt(run, this.now()) : 0,
      maxRatePerSecond: run?.plan.maxRatePerSecond ?? null,
      startedAt: run ? new Date(run.startedAt).toISOString() : null,
      endsAt: run ? new Date(run.startedAt + run.plan.durationMs).toISOString() : null,
      placed: run?.counts.placed ?? 0,
      failed: run?.counts.failed ?? 0,
      skipped: run?.counts.skipped ?? 0,
      lastError: run?.lastError ?? null,
    };
  }

  private rateAt(run: Run, at: number): number {
    const { plan } = run;
    const steps = plan.stepEveryMs > 0 ? Math.floor((at - run.startedAt) / plan.stepEveryMs) : 0;
    return Math.min(plan.maxRatePerSecond, plan.ratePerSecond + steps * plan.stepPerSecond);
  }

  private tick(): void {
    const run = this.run;
    if (!run?.timer) return;
    const at = this.now();
    if (at - run.startedAt >= run.plan.durationMs) {
      this.stop();
      return;
    }
    run.credit += (this.rateAt(run, at) * (at - run.lastTick)) / 1000;
    run.lastTick = at;
    for (; run.credit >= 1; run.credit -= 1) {
      if (run.inFlight >= MAX_IN_FLIGHT) run.counts.skipped += 1;
      else void this.send(run);
    }
  }

  /** Never rejects: a refused order is counted and shown, not thrown. */
  private async send(run: Run): Promise<void> {
    run.inFlight += 1;
    try {
      await run.placeOrder();
      run.counts.placed += 1;
    } catch (error) {
      run.counts.failed += 1;
      run.lastError = error instanceof Error ? error.message : String(error);
    } finally {
      run.inFlight -= 1;
    }
  }
}
