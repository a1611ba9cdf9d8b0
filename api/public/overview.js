// @ts-check
/* global ResizeObserver */
/** The numbers at the top: status tiles, the per-minute chart and the system health panel. */
import { uPlot } from './chart-lib.js';
import {
  byId,
  formatBytes,
  formatDuration,
  formatRate,
  formatTime,
  h,
  statusLabel,
} from './dom.js';

/**
 * @typedef {import('./types.js').Stats} Stats
 * @typedef {import('./types.js').SystemHealth} SystemHealth
 * @typedef {import('./types.js').TaskQueueHealth} TaskQueueHealth
 */

/**
 * One tile per status the API counts (a new status, like `rejected`, appears by itself), SQL and
 * Temporal side by side so a divergence shows; then what Temporal reports running.
 * @param {Stats} stats
 * @param {SystemHealth | null} system
 */
export function renderTiles(stats, system) {
  const { sql, temporal } = stats.byStatus;
  const tiles = Object.entries(sql).map(([status, count]) => {
    const seen = temporal ? /** @type {Record<string, number>} */ (temporal)[status] : undefined;
    const compare =
      seen === undefined
        ? h('p', { class: 'compare' }, 'Temporal: n/a')
        : h(
            'p',
            { class: seen === count ? 'compare' : 'compare diverges' },
            `Temporal: ${seen}`,
            seen === count ? '' : ' (differs)',
          );
    return h(
      'div',
      { class: `tile status-${status}`, 'data-status': status },
      h('h3', {}, statusLabel(status)),
      h('p', { class: 'count' }, count),
      compare,
    );
  });
  const running =
    system && 'runningWorkflows' in system.temporal ? system.temporal.runningWorkflows : null;
  tiles.push(
    h(
      'div',
      { class: 'tile temporal', 'data-status': 'running' },
      h('h3', {}, 'Running workflows'),
      h('p', { class: 'count' }, running ?? '—'),
      h('p', { class: 'compare' }, 'Temporal, open executions'),
    ),
  );
  byId('tiles').replaceChildren(...tiles);
}

/** @type {import('uplot') | null} */
let plot = null;
const CHART_HEIGHT = 240;
const SUMMARY_MINUTES = 10;

/** @param {HTMLElement} container */
function createPlot(container) {
  const created = plotFor(container);
  new ResizeObserver(() => created.setSize(sizeOf(container))).observe(container);
  return created;
}

/** @param {HTMLElement} container */
function sizeOf(container) {
  return { width: Math.max(200, container.clientWidth), height: CHART_HEIGHT };
}

/** @param {HTMLElement} container */
function plotFor(container) {
  return new uPlot(
    {
      ...sizeOf(container),
      scales: { x: { time: true } },
      series: [
        { label: 'Minute' },
        { label: 'Created', stroke: '#1f5fbf', width: 2 },
        { label: 'Processed', stroke: '#1a7f37', width: 2 },
        { label: 'Queue change', stroke: '#c2410c', width: 2, dash: [6, 4] },
      ],
      axes: [{}, { label: 'orders / min' }],
    },
    [[], [], [], []],
    container,
  );
}

/**
 * Created, processed, and their difference per minute: above zero, the queue is growing.
 * @param {Stats['perMinute']} perMinute
 */
export function renderChart(perMinute) {
  const container = byId('chart');
  plot ??= createPlot(container);
  const minutes = perMinute.map((m) => Date.parse(m.minute) / 1000);
  const created = perMinute.map((m) => m.created);
  const processed = perMinute.map((m) => m.processed);
  plot.setData([minutes, created, processed, created.map((c, i) => c - (processed[i] ?? 0))]);
  byId('chart-summary').textContent = summary(perMinute.slice(-SUMMARY_MINUTES));
}

/** @param {Stats['perMinute']} recent */
function summary(recent) {
  const created = recent.reduce((sum, m) => sum + m.created, 0);
  const processed = recent.reduce((sum, m) => sum + m.processed, 0);
  const change = created - processed;
  const trend =
    change > 0
      ? `the queue grew by ${change}`
      : change < 0
        ? `the queue shrank by ${-change}`
        : 'the queue held steady';
  return `Last ${SUMMARY_MINUTES} minutes: ${created} created, ${processed} processed; ${trend}.`;
}

/**
 * @param {string} label
 * @param {string | number} value
 * @param {string} [key]
 */
function fact(label, value, key) {
  return h('div', key ? { 'data-fact': key } : {}, h('dt', {}, label), h('dd', {}, value));
}

/** @param {SystemHealth} system */
function databaseFact(system) {
  const { database } = system;
  if ('error' in database) return fact('Database', database.error, 'database');
  const quota = database.quotaBytes
    ? ` of ${formatBytes(database.quotaBytes)} (${Math.round((100 * database.sizeBytes) / database.quotaBytes)}%)`
    : '';
  return fact(
    `Database (${database.dialect})`,
    `${formatBytes(database.sizeBytes)}${quota}`,
    'database',
  );
}

/** @param {SystemHealth} system */
function financeFact(system) {
  const { finance } = system;
  if ('error' in finance) return fact('Finance package', finance.error, 'finance');
  // A real finance package (or the demo tools off): there is no simulator mode to show.
  if ('simulator' in finance) return fact('Finance package', finance.reason, 'finance');
  const detail =
    finance.mode === 'flaky'
      ? ` (${Math.round(finance.failureRate * 100)}% fail)`
      : finance.mode === 'slow'
        ? ` (+${formatDuration(finance.latencyMs)})`
        : '';
  return fact('Finance package', `${finance.mode}${detail}`, 'finance');
}

/** @param {SystemHealth} system */
function loadFact(system) {
  const { load } = system;
  if (!load) return fact('Load generator', 'off (demo scenarios are off)', 'load');
  const counts = `placed ${load.placed}, refused ${load.failed}, skipped ${load.skipped}`;
  const text = load.running
    ? `${formatRate(load.ratePerSecond)} until ${formatTime(load.endsAt)}; ${counts}`
    : load.scenario
      ? `stopped; last run ${counts}`
      : 'stopped';
  return fact(
    'Load generator',
    load.lastError ? `${text} (last error: ${load.lastError})` : text,
    'load',
  );
}

/** @param {TaskQueueHealth} queue */
function queueRow(queue) {
  return h(
    'tr',
    { 'data-queue': queue.role },
    h('th', { scope: 'row' }, queue.role, h('span', { class: 'hint mono' }, ` ${queue.kind}`)),
    h('td', {}, queue.pollers === 0 ? 'none: no worker!' : queue.pollers),
    h('td', {}, queue.backlog),
    h('td', {}, queue.backlog > 0 ? formatDuration(queue.backlogAgeMs) : '—'),
    h(
      'td',
      {},
      `${formatRate(queue.addRatePerSecond)} / ${formatRate(queue.dispatchRatePerSecond)}`,
    ),
    h(
      'td',
      {},
      queue.workerRateLimitPerSecond === null ? '—' : formatRate(queue.workerRateLimitPerSecond),
    ),
  );
}

/** @param {SystemHealth} system */
export function renderSystem(system) {
  const { temporal } = system;
  byId('system-facts').replaceChildren(
    fact(
      'Running workflows',
      'error' in temporal ? temporal.error : temporal.runningWorkflows,
      'running',
    ),
    databaseFact(system),
    financeFact(system),
    loadFact(system),
  );
  const rows =
    'error' in temporal
      ? [h('tr', {}, h('td', { colspan: '6' }, temporal.error))]
      : temporal.taskQueues.map(queueRow);
  byId('queues').replaceChildren(...rows);
}
