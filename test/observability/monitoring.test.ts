/**
 * The monitoring stack's generated configs (scripts/lib/monitoring.ts) and the alert receiver,
 * without running the system: what the live alert test relies on, checked in seconds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { createLogger } from '../../observability/logger';
import { readNotifications, startReceiver } from '../../observability/receiver/receiver';
import {
  alertmanagerConfig,
  alertRules,
  PROJECT_FILES,
  prometheusConfig,
  scaleExpr,
} from '../../scripts/lib/monitoring';
import { PROMTOOL, ROOT, type Rule } from './support';

const AMTOOL = join(ROOT, '.tools/bin/amtool');
const dir = mkdtempSync(join(tmpdir(), 'monitoring-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(tool: string, ...args: string[]): string {
  const result = spawnSync(tool, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, output);
  return output;
}

const read = (file: string) => readFileSync(file, 'utf8');

void test('windows, offsets and subqueries are divided, thresholds are not', () => {
  assert.equal(
    scaleExpr('increase(x[10m]) > 30 or (x unless x offset 10m)', 30),
    'increase(x[20s]) > 30 or (x unless x offset 20s)',
  );
  assert.equal(
    scaleExpr('max_over_time(rate(x[5m])[1h:1m])', 60),
    'max_over_time(rate(x[5s])[60s:1s])',
  );
  assert.equal(scaleExpr('rate(x[1m30s])', 60), 'rate(x[1500ms])');
});

void test("the compressed rules are the project's rules with shorter windows and for:, and pass promtool", () => {
  const original = parse(read(PROJECT_FILES.alerts)) as { groups: { rules: Rule[] }[] };
  const text = alertRules(read(PROJECT_FILES.alerts), 30, '10s');
  const compressed = parse(text) as { groups: { rules: Rule[] }[] };
  const before = original.groups.flatMap((g) => g.rules);
  const afterScaling = compressed.groups.flatMap((g) => g.rules);
  assert.equal(afterScaling.length, before.length);
  for (const [index, rule] of before.entries()) {
    const scaled = afterScaling[index];
    assert.equal(scaled?.alert ?? scaled?.record, rule.alert ?? rule.record);
    assert.deepEqual(scaled?.labels, rule.labels);
    assert.equal(scaled?.expr, scaleExpr(rule.expr, 30));
    if (rule.for) assert.match(scaled?.for ?? '', /^(10s|[1-9]\d+s)$/, `${rule.alert}: for`);
  }
  const file = join(dir, 'alerts.yml');
  writeFileSync(file, text);
  run(PROMTOOL, 'check', 'rules', file);
  assert.equal(alertRules(read(PROJECT_FILES.alerts)), read(PROJECT_FILES.alerts));
});

void test('the generated Prometheus config keeps every job of prometheus.yml, with local targets, and passes promtool', () => {
  const rules = join(dir, 'rules.yml');
  writeFileSync(rules, read(PROJECT_FILES.alerts));
  writeFileSync(join(dir, 'api-token'), 'a-scrape-token-that-is-long-enough-0123');
  const targets = {
    api: '127.0.0.1:1',
    worker: '127.0.0.1:2',
    temporal: '127.0.0.1:3',
    prometheus: '127.0.0.1:4',
    alertmanager: '127.0.0.1:5',
  };
  const text = prometheusConfig(read(PROJECT_FILES.prometheus), {
    targets,
    rulesFile: rules,
    alertmanager: '127.0.0.1:5',
    interval: '1s',
    credentialFiles: { api: join(dir, 'api-token') },
  });
  const config = parse(text) as {
    global: Record<string, string>;
    scrape_configs: {
      job_name: string;
      static_configs: { targets: string[] }[];
      authorization?: { type: string; credentials_file: string };
    }[];
  };
  const project = parse(read(PROJECT_FILES.prometheus)) as {
    scrape_configs: { job_name: string }[];
  };
  assert.deepEqual(
    config.scrape_configs.map((job) => job.job_name),
    project.scrape_configs.map((job) => job.job_name),
  );
  for (const job of config.scrape_configs) {
    assert.deepEqual(job.static_configs, [
      { targets: [targets[job.job_name as keyof typeof targets]] },
    ]);
    assert.equal(Object.keys(job).filter((key) => key.endsWith('_sd_configs')).length, 0);
  }
  assert.equal(config.global.scrape_interval, '1s');
  // The API's /metrics needs its scrape token: Prometheus reads it from the local file.
  assert.deepEqual(config.scrape_configs.find((job) => job.job_name === 'api')?.authorization, {
    type: 'Bearer',
    credentials_file: join(dir, 'api-token'),
  });
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, text);
  assert.match(run(PROMTOOL, 'check', 'config', file), /1 rule files found/);
  assert.throws(
    () =>
      prometheusConfig(read(PROJECT_FILES.prometheus), {
        targets: { api: 'x:1' },
        rulesFile: rules,
        alertmanager: 'x:2',
        credentialFiles: { api: join(dir, 'api-token') },
      }),
    /scrapes job "worker", which has no local target/,
  );
  assert.throws(
    () =>
      prometheusConfig(read(PROJECT_FILES.prometheus), {
        targets,
        rulesFile: rules,
        alertmanager: 'x:2',
      }),
    /scrapes job "api" with a credential/,
  );
});

void test('Alertmanager: the committed config and the generated one pass amtool; every receiver goes to the local receiver', () => {
  run(AMTOOL, 'check-config', PROJECT_FILES.alertmanager);
  const text = alertmanagerConfig(
    read(PROJECT_FILES.alertmanager),
    'http://127.0.0.1:9/alerts',
    30,
  );
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, text);
  run(AMTOOL, 'check-config', file);
  const config = parse(text) as {
    route: { group_wait: string; group_interval: string; routes: { repeat_interval: string }[] };
    receivers: { name: string; webhook_configs: { url: string }[] }[];
    inhibit_rules: unknown[];
  };
  const project = parse(read(PROJECT_FILES.alertmanager)) as typeof config;
  assert.deepEqual(
    config.receivers.map((r) => [r.name, r.webhook_configs.map((w) => w.url)]),
    project.receivers.map((r) => [r.name, ['http://127.0.0.1:9/alerts']]),
  );
  assert.equal(config.route.group_wait, '1s');
  assert.equal(config.route.group_interval, '10s');
  assert.equal(config.route.routes[0]?.repeat_interval, '480s');
  assert.deepEqual(config.inhibit_rules, project.inhibit_rules);
});

void test('the receiver records each notification, lists it, and forwards it to a chat webhook', async () => {
  const chat: string[] = [];
  let chatStatus = 200;
  const chatServer = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      chat.push(body);
      response.writeHead(chatStatus).end();
    });
  });
  await new Promise<void>((resolve) => chatServer.listen(0, '127.0.0.1', resolve));
  const chatUrl = `http://127.0.0.1:${(chatServer.address() as AddressInfo).port}/hook`;
  const file = join(dir, 'receiver', 'alerts.jsonl');
  const receiver = await startReceiver({
    host: '127.0.0.1',
    port: 0,
    file,
    chatWebhookUrl: chatUrl,
    log: createLogger({ service: 'receiver', silent: true }),
  });
  const post = (body: unknown) =>
    fetch(`${receiver.url}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const notification = {
    version: '4',
    receiver: 'team-chat',
    status: 'firing',
    groupLabels: { alertname: 'OrderFailed' },
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'OrderFailed', severity: 'warning', reason: 'rejected' },
        annotations: {
          summary: 'An order failed (rejected)',
          description: '1 order(s) failed with reason "rejected" in the last 10 minutes.',
          runbook_url: 'docs/operations.md#orderfailed',
        },
        startsAt: '2026-12-01T10:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus/graph',
        fingerprint: 'abc',
      },
    ],
  };
  try {
    assert.equal((await post(notification)).status, 200);
    assert.equal(chat.length, 1);
    const text = (JSON.parse(chat[0] ?? '{}') as { text: string }).text;
    assert.match(
      text,
      /^FIRING warning OrderFailed: An order failed \(rejected\) \(runbook: docs\/operations\.md#orderfailed\)\n {2}1 order/,
    );

    chatStatus = 500;
    assert.equal((await post({ ...notification, status: 'resolved' })).status, 502);
    assert.equal((await post({ hello: 'world' })).status, 400);

    const listed = (await (await fetch(`${receiver.url}/notifications`)).json()) as {
      notifications: { status: string; receiver: string; chat: string }[];
    };
    assert.deepEqual(
      listed.notifications.map((n) => [n.status, n.receiver, n.chat]),
      [
        ['firing', 'team-chat', 'sent'],
        ['resolved', 'team-chat', 'failed: chat webhook answered 500'],
      ],
    );
    assert.deepEqual(readNotifications(file), listed.notifications);
  } finally {
    await receiver.close();
    await new Promise((resolve) => chatServer.close(resolve));
  }
});
