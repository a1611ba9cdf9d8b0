/**
 * Shared by the observability tests: file locations, YAML/JSON readers, the metric names the
 * services really export, and a small PromQL reader that lists the metric names a query uses.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parse } from 'yaml';
import { createApiMetrics, createWorkerMetrics } from '../../observability/metrics';

export const ROOT = resolve(__dirname, '../..');
export const PROMETHEUS_DIR = join(ROOT, 'observability/prometheus');
export const ALERTS_FILE = join(PROMETHEUS_DIR, 'alerts.yml');
export const ALERT_TESTS_FILE = join(PROMETHEUS_DIR, 'alerts.test.yml');
export const PROMETHEUS_CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
export const DASHBOARD_FILE = join(ROOT, 'observability/grafana/dashboards/orders.json');
export const SDK_METRICS_FILE = join(ROOT, 'observability/temporal-sdk-metrics.txt');
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const OPERATIONS_DOC = join(ROOT, 'docs/operations.md');
export const PROMTOOL = join(ROOT, '.tools/bin/promtool');

/** YAML with merge keys (`<<: *anchor`), as Docker Compose reads it. */
export function readYaml<T>(file: string): T {
  return parse(readFileSync(file, 'utf8'), { merge: true }) as T;
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function readRules(): Rule[] {
  const file = readYaml<{ groups: { name: string; rules: Rule[] }[] }>(ALERTS_FILE);
  return file.groups.flatMap((group) => group.rules);
}

/** A panel of the Grafana dashboard (rows hold panels of their own). */
export interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  panels: Panel[];
  templating?: { list: { name: string }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every panel, those inside rows included. */
export function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

const HISTOGRAM_SERIES = ['_bucket', '_sum', '_count'];

/**
 * The Temporal SDK's metric names as its Runtime exports them (found by scraping a real worker).
 * Every histogram among them is a `*_latency` (durations, in milliseconds by default).
 */
export function temporalSdkMetricNames(): string[] {
  return readFileSync(SDK_METRICS_FILE, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Every series name a scrape of the API or a worker can contain: our metrics and Node's default
 * metrics (read from the registries the services build, so nothing is listed by hand), the
 * Temporal SDK's, and the series Prometheus adds itself (`up`, `ALERTS`).
 */
export async function exportedSeriesNames(): Promise<Set<string>> {
  const names = new Set<string>(['up', 'ALERTS', 'ALERTS_FOR_STATE']);
  // Node's default metrics, which both entry points register next to ours.
  const nodeDefaults = new Registry();
  collectDefaultMetrics({ register: nodeDefaults });
  const worker = createWorkerMetrics();
  const api = createApiMetrics({
    countByStatus: () => Promise.resolve({ queued: 1, processing: 1, processed: 1 }),
    databaseSizeBytes: () => Promise.resolve(1024),
    databaseQuotaBytes: 4096,
  });
  for (const registry of [nodeDefaults, worker.registry, api.registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram') {
        for (const suffix of HISTOGRAM_SERIES) names.add(`${metric.name}${suffix}`);
      }
      if (String(metric.type) === 'summary') {
        for (const suffix of ['_sum', '_count']) names.add(`${metric.name}${suffix}`);
      }
    }
  }
  for (const name of temporalSdkMetricNames()) {
    names.add(name);
    if (name.endsWith('_latency')) {
      for (const suffix of HISTOGRAM_SERIES) names.add(`${name}${suffix}`);
    }
  }
  return names;
}

const PROMQL_KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL query (or a Grafana target with `$variables`) selects: identifiers
 * that are not functions, keywords, label names, durations or numbers.
 */
export function metricNamesIn(query: string): string[] {
  const text = query
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, '5m') // Grafana variables: $bin, $__rate_interval
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  const token = /(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[smhdwy]*)|([A-Za-z_:][\w:]*)(\s*\()?/g;
  for (const match of text.matchAll(token)) {
    const [, numberOrDuration, identifier, call] = match;
    if (numberOrDuration || !identifier || call) continue;
    if (PROMQL_KEYWORDS.has(identifier.toLowerCase())) continue;
    names.add(identifier);
  }
  return [...names];
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

export function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading?.[1]) anchors.add(headingAnchor(heading[1]));
  }
  return anchors;
}
