import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ALERT_TESTS_FILE,
  ALERTS_FILE,
  OPERATIONS_DOC,
  PROMETHEUS_CONFIG,
  PROMTOOL,
  markdownAnchors,
  readRules,
  readYaml,
} from './support';

function promtool(...args: string[]): { status: number | null; output: string } {
  if (!existsSync(PROMTOOL)) {
    assert.fail(
      `promtool is missing at ${PROMTOOL}: run npm run provision -- --promtool (npm test does it)`,
    );
  }
  const run = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Where compose mounts the scrape token for Prometheus (a Docker secret). */
const SCRAPE_TOKEN_FILE = '/run/secrets/metrics_token';

void test('the alert rules and the Prometheus config pass promtool check', () => {
  const rules = promtool('check', 'rules', ALERTS_FILE);
  assert.equal(rules.status, 0, rules.output);
  // promtool checks that the scrape token's file exists: the config as compose mounts it, with
  // that one path pointed at a file of this run (the rules beside it, as in the container).
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-config-'));
  try {
    const text = readFileSync(PROMETHEUS_CONFIG, 'utf8');
    assert.ok(text.includes(SCRAPE_TOKEN_FILE), 'the API is scraped with the token file');
    writeFileSync(join(dir, 'metrics_token'), 'a-scrape-token-for-the-config-check\n');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      text.replace(SCRAPE_TOKEN_FILE, join(dir, 'metrics_token')),
    );
    copyFileSync(ALERTS_FILE, join(dir, 'alerts.yml'));
    const config = promtool('check', 'config', join(dir, 'prometheus.yml'));
    assert.equal(config.status, 0, config.output);
    assert.match(config.output, /1 rule files found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('every alert fires when it should and stays quiet on its near misses (promtool test rules)', () => {
  const result = promtool('test', 'rules', ALERT_TESTS_FILE);
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /SUCCESS/);
});

void test('the rule tests catch a loosened threshold', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
  try {
    const rules = readFileSync(ALERTS_FILE, 'utf8');
    const loosened = rules.replace(
      'orders:queue_growth:increase10m > 30',
      'orders:queue_growth:increase10m > 50',
    );
    assert.notEqual(loosened, rules, 'the queue threshold was not found in alerts.yml');
    writeFileSync(join(dir, 'alerts.yml'), loosened);
    copyFileSync(ALERT_TESTS_FILE, join(dir, 'alerts.test.yml'));
    const result = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
    assert.notEqual(result.status, 0, 'promtool passed a queue alert that no longer fires at 40');
    assert.match(result.output, /a queue growing by 40 per 10 minutes pages/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('every alert has a severity, a summary, a description with its values and a runbook section', () => {
  const anchors = markdownAnchors(readFileSync(OPERATIONS_DOC, 'utf8'));
  const alerts = readRules().filter((rule) => rule.alert);
  assert.ok(alerts.length >= 8, `only ${alerts.length} alerts`);
  for (const rule of alerts) {
    const name = rule.alert ?? '';
    assert.match(rule.labels?.severity ?? '', /^(critical|warning)$/, `${name}: severity`);
    assert.ok(rule.annotations?.summary, `${name}: summary`);
    const description = rule.annotations?.description ?? '';
    // An absent() alert has no value to show; every other one says what it measured.
    if (!rule.expr.trimStart().startsWith('absent(')) {
      assert.match(description, /\$value|\$labels/, `${name}: description shows no value`);
    }
    const runbook = rule.annotations?.runbook_url ?? '';
    assert.equal(runbook, `docs/operations.md#${name.toLowerCase()}`, `${name}: runbook_url`);
    assert.ok(anchors.has(name.toLowerCase()), `docs/operations.md has no "${name}" section`);
  }
});

interface AlertRuleTest {
  alertname: string;
  exp_alerts?: unknown[];
}

void test('every alert is tested both firing and staying quiet', () => {
  const file = readYaml<{ tests: { alert_rule_test?: AlertRuleTest[] }[] }>(ALERT_TESTS_FILE);
  const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const rule of readRules().filter((r) => r.alert)) {
    const mine = cases.filter((c) => c.alertname === rule.alert);
    assert.ok(
      mine.some((c) => (c.exp_alerts ?? []).length > 0),
      `${rule.alert} is never tested firing`,
    );
    assert.ok(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `${rule.alert} is never tested staying quiet`,
    );
  }
});
