// @ts-check
/* global document, location, window, setTimeout, clearTimeout */
/**
 * The dashboard: polls the API every few seconds and redraws. When the API or Temporal does not
 * answer, a banner says so and the last numbers stay, marked with their time: never a silent
 * freeze.
 */
import { BulkPanel } from './bulk.js';
import { DetailPanel } from './detail.js';
import { byId, formatTime } from './dom.js';
import { api, ApiError } from './http.js';
import { Operator } from './operator.js';
import { OrderList } from './orders.js';
import { atLeast, Session, sessionEnded } from './session.js';
import { renderChart, renderSystem, renderTiles } from './overview.js';

/**
 * @typedef {import('./types.js').Stats} Stats
 * @typedef {import('./types.js').SystemHealth} SystemHealth
 */

const REFRESH_MS = 2000;

/** @type {SystemHealth | null} */
let system = null;
/** @type {string | null} */
let lastUpdate = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

const orders = new OrderList();
const operator = new Operator(() => void refresh());
const detail = new DetailPanel(
  () => operator.canOperate,
  () => void refresh(),
);
// Nothing to read without a session: the page shows the sign-in form and stops polling.
const session = new Session((user) => {
  operator.apply(user);
  byId('main').hidden = user === null;
  byId('signed-out').hidden = user !== null;
  byId('admin-link').hidden = user?.role !== 'admin';
  if (user) void refresh();
  else clearTimeout(timer);
});
orders.onChange = () => void refresh();
// Only an operator (or admin) may run a batch; the API refuses anyone else as well.
const bulk = new BulkPanel(orders, () => atLeast(session.user, 'operator'));

/** @param {unknown} error */
function problemOf(error) {
  if (error instanceof ApiError && error.status === 0) return 'The API is unreachable.';
  if (error instanceof ApiError && error.code === 'database_unavailable') {
    return 'The database is unavailable.';
  }
  if (error instanceof ApiError && error.code === 'temporal_unavailable') {
    return 'Temporal is unreachable.';
  }
  return `The API answered with an error: ${error instanceof Error ? error.message : String(error)}`;
}

/** What is wrong right now, worst first; an empty list hides the banner. */
function problems(/** @type {PromiseSettledResult<unknown>[]} */ results) {
  const found = new Set(
    results.flatMap((result) => (result.status === 'rejected' ? [problemOf(result.reason)] : [])),
  );
  if (system && 'error' in system.temporal) found.add('Temporal is unreachable.');
  if (system && 'error' in system.finance) found.add('The finance package is unreachable.');
  if (system && 'error' in system.database) found.add('The database is unavailable.');
  return [...found];
}

/** @param {string[]} found */
function showBanner(found) {
  const banner = byId('banner');
  banner.hidden = found.length === 0;
  banner.classList.toggle('severe', found.includes('The API is unreachable.'));
  const since = lastUpdate ? ` Showing the numbers of ${formatTime(lastUpdate)}.` : '';
  banner.textContent = found.length ? `${found.join(' ')}${since} Retrying…` : '';
  document.body.dataset.health = found.length ? 'degraded' : 'ok';
}

async function loadStats() {
  /** @type {Stats} */
  const stats = await api('/api/stats');
  renderTiles(stats, system);
  orders.knowStatuses(Object.keys(stats.byStatus.sql));
  renderChart(stats.perMinute);
  lastUpdate = stats.generatedAt;
  byId('updated').textContent = `Updated ${formatTime(stats.generatedAt)}.`;
  // The SQL numbers are shown all the same; the banner says Temporal's are missing.
  if (stats.byStatus.temporalError) throw new ApiError(503, 'temporal_unavailable', '');
}

async function loadSystem() {
  /** @type {SystemHealth} */
  const health = await api('/api/system');
  system = health;
  renderSystem(health);
  operator.showLoad(health.load);
  operator.showPanels(health.demo);
}

async function route() {
  const match = /^#\/orders\/(.+)$/.exec(location.hash);
  if (match?.[1]) await detail.open(decodeURIComponent(match[1]));
}

/** One round of reads; the next is scheduled only when this one is done, so they never pile up. */
async function refresh() {
  clearTimeout(timer);
  if (!session.user) return;
  const results = await Promise.allSettled([
    loadSystem(),
    loadStats(),
    orders.refresh(),
    detail.refresh(),
    bulk.refresh(),
  ]);
  if (results.some((result) => result.status === 'rejected' && sessionEnded(result.reason))) {
    session.ended();
    return;
  }
  showBanner(problems(results));
  timer = setTimeout(() => void refresh(), REFRESH_MS);
}

window.addEventListener('hashchange', () => void route());
await session.load();
if (session.user) await route();
