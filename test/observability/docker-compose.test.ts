/**
 * docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead:
 * the parts of the stack, the app services' configuration against the config schema, ports,
 * scaling, and the files it mounts or builds from.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configSchema, loadConfig } from '../../domain/config';
import { COMPOSE_FILE, PROMETHEUS_CONFIG, ROOT, readYaml } from './support';

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  container_name?: string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition?: string; required?: boolean }> | string[];
}

const compose = readYaml<{ services: Record<string, Service> }>(COMPOSE_FILE);
const services = compose.services;
const defaults = loadConfig({});

/** Standard variables read by Node or the OpenTelemetry SDK rather than by our config schema. */
const STANDARD_VARIABLES = new Set([
  'NODE_ENV',
  'NODE_OPTIONS',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_EXPORTER_OTLP_HEADERS',
]);

/** The app's services: built from the repository's Dockerfile. */
const APP_SERVICES = ['api', 'worker', 'finance'] as const;

/** Compose's interpolation with nothing set: `${A:-x}` → x, `${A}` → '', `$$` → `$`. */
function interpolate(value: string): string {
  const innermost = /\$\{([A-Za-z_]\w*)(?::?-([^${}]*))?\}/;
  const resolve = (part: string): string => {
    let text = part;
    while (innermost.test(text)) {
      text = text.replace(
        innermost,
        (_match: string, _name: string, fallback: string | undefined) => fallback ?? '',
      );
    }
    return text;
  };
  return value.split('$$').map(resolve).join('$');
}

function environmentOf(name: string): Record<string, string> {
  const env = services[name]?.environment ?? {};
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, interpolate(String(value ?? ''))]),
  );
}

function containerPorts(service: Service): number[] {
  return (service.ports ?? []).map((mapping) => Number(String(mapping).split(':').pop()));
}

void test('the stack has every part the issue lists', () => {
  for (const name of [
    'api',
    'worker',
    'finance',
    'temporal',
    'postgresql',
    'temporal-ui',
    'sqlserver',
    'orders-postgres',
    'prometheus',
    'alertmanager',
    'grafana',
    'jaeger',
  ]) {
    assert.ok(services[name], `no ${name} service`);
  }
  assert.match(services.temporal?.image ?? '', /^temporalio\/auto-setup:/);
  assert.match(services['temporal-ui']?.image ?? '', /^temporalio\/ui:/);
  assert.match(services.sqlserver?.image ?? '', /^mcr\.microsoft\.com\/mssql\/server:/);
  assert.deepEqual(services['orders-postgres']?.profiles, ['postgres']);
  assert.equal(services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED, 'true');
  for (const name of APP_SERVICES) {
    assert.equal(services[name]?.build, '.', `${name} is not built from the Dockerfile`);
  }
});

void test('app services set only variables the config schema knows, and their values parse', () => {
  const known = new Set(Object.keys(configSchema.shape));
  for (const name of APP_SERVICES) {
    const env = environmentOf(name);
    for (const variable of Object.keys(env)) {
      assert.ok(
        known.has(variable) || STANDARD_VARIABLES.has(variable),
        `${name} sets ${variable}, which domain/config.ts does not read`,
      );
    }
    assert.doesNotThrow(() => loadConfig(env), `${name}'s environment does not parse`);
  }
});

void test('app services listen on every interface and reach each other by service name', () => {
  assert.equal(environmentOf('api').API_HOST, '0.0.0.0');
  assert.equal(environmentOf('finance').FINANCE_HOST, '0.0.0.0');
  assert.equal(environmentOf('worker').WORKER_METRICS_HOST, '0.0.0.0');
  for (const name of ['api', 'worker'] as const) {
    const config = loadConfig(environmentOf(name));
    assert.match(config.DATABASE_URL, /^mssql:\/\/[^@]+@sqlserver:1433\/orders\?/, name);
    assert.equal(config.TEMPORAL_ADDRESS, `temporal:${defaults.TEMPORAL_ADDRESS.split(':')[1]}`);
    const finance = new URL(config.FINANCE_URL);
    assert.equal(finance.hostname, 'finance', `${name}: FINANCE_URL`);
    assert.equal(Number(finance.port), defaults.FINANCE_PORT, `${name}: FINANCE_URL port`);
    assert.equal(new URL(config.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').hostname, 'jaeger');
    assert.equal(config.TEMPORAL_TASK_QUEUE, defaults.TEMPORAL_TASK_QUEUE, name);
  }
});

void test('ports match the config defaults and the Prometheus scrape targets', () => {
  const api = loadConfig(environmentOf('api'));
  const finance = loadConfig(environmentOf('finance'));
  const worker = loadConfig(environmentOf('worker'));
  assert.equal(api.API_PORT, defaults.API_PORT);
  assert.deepEqual(containerPorts(services.api ?? {}), [defaults.API_PORT]);
  assert.equal(finance.FINANCE_PORT, defaults.FINANCE_PORT);
  assert.deepEqual(containerPorts(services.finance ?? {}), [defaults.FINANCE_PORT]);
  assert.equal(worker.WORKER_METRICS_PORT, defaults.WORKER_METRICS_PORT);
  assert.deepEqual(services.worker?.expose?.map(Number), [defaults.WORKER_METRICS_PORT]);

  const prometheus = readYaml<{
    scrape_configs: {
      job_name: string;
      static_configs?: { targets: string[] }[];
      dns_sd_configs?: { names: string[]; port: number }[];
    }[];
  }>(PROMETHEUS_CONFIG);
  const job = (name: string) => prometheus.scrape_configs.find((c) => c.job_name === name);
  assert.deepEqual(job('api')?.static_configs?.[0]?.targets, [`api:${defaults.API_PORT}`]);
  assert.deepEqual(job('worker')?.dns_sd_configs?.[0], {
    names: ['worker'],
    type: 'A',
    port: defaults.WORKER_METRICS_PORT,
    refresh_interval: '15s',
  });
});

void test('the worker can scale: no container name and no published host port', () => {
  const worker = services.worker ?? {};
  assert.equal(worker.container_name, undefined);
  assert.equal(worker.ports, undefined);
  for (const [name, service] of Object.entries(services)) {
    assert.equal(service.container_name, undefined, `${name} has a fixed container name`);
  }
});

void test('every mounted file and every entry point exists', () => {
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0] ?? '';
      if (!source.startsWith('.')) continue; // a named volume
      assert.ok(existsSync(join(ROOT, source)), `${name} mounts missing ${source}`);
    }
  }
  for (const name of APP_SERVICES) {
    const entry = services[name]?.command?.[0] ?? '';
    assert.ok(existsSync(join(ROOT, entry)), `${name} runs missing ${entry}`);
  }
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^FROM .* AS deps$/m);
  assert.match(dockerfile, /^COPY --from=deps /m);
  assert.match(dockerfile, /^ENTRYPOINT \["node", "--import", "tsx"\]$/m);
  // The app image must not carry local state or tools into production.
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const path of ['node_modules', '.tools', '.data', '.env', 'test']) {
    assert.ok(ignored.includes(path), `.dockerignore does not exclude ${path}`);
  }
});
