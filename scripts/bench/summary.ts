/**
 * The benchmark's throughput figures across its alternating runs: each figure as the median of
 * its runs with their spread, the ratios between kinds of run, and CPU per order of each process.
 */
/** What a throughput run measured. */
export type RunKind = 'plain' | 'shape' | 'ours';

export interface Throughput {
  /** CPU seconds each process spent during the run: where the time goes. */
  cpuSeconds: Record<string, number>;
  orders: number;
  completed: number;
  /** Orders that were refused, or did not end as expected within the wait. */
  problems: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
}

/** One throughput run of one kind, in one round, on an empty or a seeded orders table. */
export interface Run extends Throughput {
  kind: RunKind;
  table: 'empty' | 'seeded';
  round: number;
  /** Resident memory of the Node processes right after the run. */
  rssMb: Record<string, number>;
}

/** A figure over several runs: the median, and the lowest and highest run. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: number[]): Spread {
  const finite = values.filter(Number.isFinite);
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    values,
  };
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** The runs of one kind on one table, summed up. */
export interface KindFigures {
  kind: RunKind;
  table: 'empty' | 'seeded';
  runs: number;
  perSecond: Spread;
  latencyP50Ms: Spread;
  /** Median over the runs of each process's CPU milliseconds per completed order. */
  cpuMsPerOrder: Record<string, number>;
}

export function kindFigures(runs: Run[], kind: RunKind, table: Run['table']): KindFigures {
  const mine = runs.filter((run) => run.kind === kind && run.table === table);
  const processes = [...new Set(mine.flatMap((run) => Object.keys(run.cpuSeconds)))];
  const cpuMsPerOrder = Object.fromEntries(
    processes.map((name) => [
      name,
      median(mine.map((run) => ((run.cpuSeconds[name] ?? 0) * 1000) / Math.max(1, run.completed))),
    ]),
  );
  return {
    kind,
    table,
    runs: mine.length,
    perSecond: spread(mine.map((run) => run.perSecond)),
    latencyP50Ms: spread(mine.map((run) => run.latencyMs.p50)),
    cpuMsPerOrder,
  };
}

/**
 * `top` ÷ `bottom`: the ratio of their medians, with the spread of the ratios round by round
 * (the two runs of one round shared a system and the minutes they ran in).
 */
export function ratioOf(runs: Run[], top: Selector, bottom: Selector): Spread {
  const rounds = [...new Set(runs.map((run) => run.round))];
  const pick = (selector: Selector, round?: number) =>
    runs.filter(
      (run) =>
        run.kind === selector.kind &&
        run.table === selector.table &&
        (round === undefined || run.round === round),
    );
  const byRound = rounds.flatMap((round) => {
    const [a] = pick(top, round);
    const [b] = pick(bottom, round);
    return a && b ? [a.perSecond / b.perSecond] : [];
  });
  const medianOf = (selector: Selector) => median(pick(selector).map((run) => run.perSecond));
  const finite = byRound.filter(Number.isFinite);
  return {
    median: medianOf(top) / medianOf(bottom),
    min: Math.min(...finite),
    max: Math.max(...finite),
    values: byRound,
  };
}

interface Selector {
  kind: RunKind;
  table: Run['table'];
}

export interface Ratios {
  /** Ours ÷ the plain baseline (four no-op activities on one queue), table empty. */
  plain: Spread;
  /** Ours ÷ the same-shape baseline, table empty. */
  shape: Spread;
  /** Ours at the seeded table ÷ ours at the empty one. */
  growth: Spread;
  /** At the seeded table: ours ÷ the plain baseline run beside it, free of drift between rounds. */
  seededPlain: Spread;
  /**
   * The plain baseline's CPU per order ÷ ours (every service process, the load client left out):
   * the throughput ratio when both are CPU-bound on the same cores, whatever share of the
   * machine other work leaves them (a busy machine favours the path with more processes).
   */
  plainCpu: Spread;
}

/** CPU milliseconds per completed order of every process but the load client. */
function serviceCpuMsPerOrder(run: Run): number {
  const seconds = Object.entries(run.cpuSeconds)
    .filter(([name]) => name !== 'bench')
    .reduce((sum, [, value]) => sum + value, 0);
  return (seconds * 1000) / Math.max(1, run.completed);
}

function cpuRatio(runs: Run[]): Spread {
  const empty = runs.filter((run) => run.table === 'empty');
  const rounds = [...new Set(empty.map((run) => run.round))];
  const byRound = rounds.flatMap((round) => {
    const plain = empty.find((run) => run.kind === 'plain' && run.round === round);
    const ours = empty.find((run) => run.kind === 'ours' && run.round === round);
    return plain && ours ? [serviceCpuMsPerOrder(plain) / serviceCpuMsPerOrder(ours)] : [];
  });
  const medianOf = (kind: RunKind) =>
    median(empty.filter((run) => run.kind === kind).map(serviceCpuMsPerOrder));
  const finite = byRound.filter(Number.isFinite);
  return {
    median: medianOf('plain') / medianOf('ours'),
    min: Math.min(...finite),
    max: Math.max(...finite),
    values: byRound,
  };
}

export function ratios(runs: Run[]): Ratios {
  const ours = { kind: 'ours', table: 'empty' } as const;
  const seeded = { kind: 'ours', table: 'seeded' } as const;
  return {
    plain: ratioOf(runs, ours, { kind: 'plain', table: 'empty' }),
    shape: ratioOf(runs, ours, { kind: 'shape', table: 'empty' }),
    growth: ratioOf(runs, seeded, ours),
    seededPlain: ratioOf(runs, seeded, { kind: 'plain', table: 'seeded' }),
    plainCpu: cpuRatio(runs),
  };
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** `median (min–max)`. */
export function formatSpread(figure: Spread, digits = 1): string {
  return `${fixed(figure.median, digits)} (${fixed(figure.min, digits)}–${fixed(figure.max, digits)})`;
}

const LABELS: Record<RunKind, string> = {
  plain: 'plain baseline (4 no-op activities, 1 queue)',
  shape: 'same-shape baseline (our activity calls, no-ops)',
  ours: 'orders via the API',
};

/** The throughput and CPU tables, one line per kind of run. */
export function printThroughput(figures: KindFigures[], seedRows: number): void {
  const label = (figure: KindFigures) =>
    `${LABELS[figure.kind]}${figure.table === 'seeded' ? `, ${seedRows.toLocaleString('en')} rows` : ''}`;
  console.log(
    `  ${'run'.padEnd(62)}${'runs'.padStart(5)}${'orders/s median (min–max)'.padStart(28)}${'p50 ms'.padStart(9)}`,
  );
  for (const figure of figures) {
    console.log(
      `  ${label(figure).padEnd(62)}${String(figure.runs).padStart(5)}${formatSpread(figure.perSecond).padStart(28)}${fixed(figure.latencyP50Ms.median, 0).padStart(9)}`,
    );
  }
  const names = [...new Set(figures.flatMap((figure) => Object.keys(figure.cpuMsPerOrder)))];
  console.log(
    `\nCPU ms per order, by process (median of the runs)\n  ${'run'.padEnd(62)}${names.map((name) => name.padStart(18)).join('')}${'all'.padStart(8)}`,
  );
  for (const figure of figures) {
    const all = Object.values(figure.cpuMsPerOrder).reduce((sum, ms) => sum + ms, 0);
    console.log(
      `  ${label(figure).padEnd(62)}${names.map((name) => fixed(figure.cpuMsPerOrder[name] ?? 0).padStart(18)).join('')}${fixed(all).padStart(8)}`,
    );
  }
}
