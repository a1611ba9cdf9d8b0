import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { METRICS } from '../../observability/metrics';
import {
  allPanels,
  exportedSeriesNames,
  metricNamesIn,
  readDashboard,
  readRules,
  readYaml,
  ROOT,
  temporalSdkMetricNames,
} from './support';

void test('the metric-name reader finds metrics and skips functions, labels, keywords and durations', () => {
  assert.deepEqual(
    metricNamesIn(
      'histogram_quantile(0.99, sum by (le, task_queue) (rate(payment_duration_seconds_bucket{job="worker", le!="+Inf"}[$__rate_interval])))',
    ),
    ['payment_duration_seconds_bucket'],
  );
  assert.deepEqual(
    metricNamesIn(
      'a_total - (b_total or vector(0)) > 30 and on () c offset 10m unless ignoring (instance) d:rec:rate5m',
    ),
    ['a_total', 'b_total', 'c', 'd:rec:rate5m'],
  );
});

void test('the exported names include every metric of observability/metrics.ts and the SDK list', async () => {
  const exported = await exportedSeriesNames();
  for (const name of Object.values(METRICS)) assert.ok(exported.has(name), name);
  assert.ok(exported.has('payment_duration_seconds_bucket'));
  assert.ok(exported.has('process_resident_memory_bytes'));
  // The SDK names were read from a real worker's scrape; these are the ones the alerts need.
  const sdk = temporalSdkMetricNames();
  for (const name of [
    'temporal_num_pollers',
    'temporal_activity_schedule_to_start_latency',
    'temporal_worker_task_slots_available',
  ]) {
    assert.ok(sdk.includes(name), `${name} missing from observability/temporal-sdk-metrics.txt`);
  }
  assert.ok(
    sdk.every((name) => /^temporal_[a-z_]+$/.test(name)),
    sdk.join(', '),
  );
});

void test('every Grafana panel queries only metrics the services export', async () => {
  const exported = await exportedSeriesNames();
  const dashboard = readDashboard();
  const variables = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
  const queried = allPanels(dashboard.panels).filter((panel) => panel.type !== 'row');
  assert.ok(queried.length >= 10, `only ${queried.length} panels`);
  for (const panel of queried) {
    assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has no query`);
    assert.equal(panel.datasource?.uid, 'prometheus', `panel "${panel.title}": datasource`);
    for (const target of panel.targets ?? []) {
      const expr = target.expr ?? '';
      assert.ok(expr, `panel "${panel.title}" target ${target.refId}: empty query`);
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `panel "${panel.title}": no metric in ${expr}`);
      for (const name of names) {
        assert.ok(exported.has(name), `panel "${panel.title}" queries unknown metric ${name}`);
      }
      for (const [, variable] of expr.matchAll(/\$(?!__)(\w+)/g)) {
        assert.ok(variables.has(variable ?? ''), `panel "${panel.title}": undefined $${variable}`);
      }
    }
  }
});

void test('the dashboard shows the series the issue asks for', () => {
  const exprs = allPanels(readDashboard().panels)
    .flatMap((panel) => panel.targets ?? [])
    .map((target) => target.expr ?? '')
    .join('\n');
  for (const name of [
    'orders_created_total',
    'orders_processed_total',
    'orders_queue_depth',
    'orders_failed_total',
    'payment_attempts_total',
    'payment_attempt_failures_total',
    'payment_duration_seconds_bucket',
    'finance_request_duration_seconds_bucket',
    'temporal_num_pollers',
    'temporal_activity_schedule_to_start_latency_bucket',
    'temporal_worker_task_slots_used',
    'database_size_bytes',
    'database_quota_bytes',
  ]) {
    assert.ok(exprs.includes(name), `no panel shows ${name}`);
  }
});

void test('every alert and recording rule uses only exported metrics or recorded series', async () => {
  const exported = await exportedSeriesNames();
  const rules = readRules();
  const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
  for (const rule of rules) {
    const name = rule.alert ?? rule.record ?? '?';
    const used = metricNamesIn(rule.expr);
    assert.ok(used.length > 0, `${name}: no metric in ${rule.expr}`);
    for (const metric of used) {
      assert.ok(
        exported.has(metric) || recorded.has(metric),
        `${name} uses ${metric}, which no service exports and no rule records`,
      );
    }
  }
});

void test('the Grafana datasource the panels use is the provisioned Prometheus', () => {
  const provisioning = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(
    join(ROOT, 'observability/grafana/provisioning/datasources/prometheus.yml'),
  );
  const prometheus = provisioning.datasources.find((d) => d.type === 'prometheus');
  assert.equal(prometheus?.uid, 'prometheus');
  assert.equal(prometheus?.url, 'http://prometheus:9090');
});
