/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked as far as this machine
 * allows: the Compose CLI's own `docker compose config` (provisioned into .tools/bin, it parses,
 * interpolates and validates the file against the Compose Spec without an engine) resolves it,
 * and the resolved stack is checked for what a safe default needs — ports on loopback unless
 * BIND_ADDRESS says otherwise, no default password, Grafana behind its sign-in, the Temporal
 * server version the tests run, the image's `production` target — and for the parts, the app
 * services' configuration against the config schema, ports, scaling and the files it mounts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configSchema, loadConfig } from '../../domain/config';
import { TEMPORAL_CLI } from '../support/temporal';
import { COMPOSE_FILE, PROMETHEUS_CONFIG, ROOT, readYaml } from './support';

const COMPOSE_CLI = join(ROOT, '.tools/bin/docker-compose');

interface Port {
  host_ip?: string;
  published?: string;
  target: number;
}

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  container_name?: string;
  environment?: Record<string, string | null>;
  ports?: Port[];
  expose?: string[];
  volumes?: { type: string; source?: string }[];
  profiles?: string[];
  healthcheck?: { test?: string[] };
}

/** Distinct values for the variables the file requires, so each can be traced to its use. */
const REQUIRED = {
  MSSQL_SA_PASSWORD: 'Sa-secret-1',
  TEMPORAL_DB_PASSWORD: 'temporal-secret-2',
  GRAFANA_ADMIN_PASSWORD: 'grafana-secret-3',
  ADMIN_PASSWORD: 'admin-secret-password-4',
  METRICS_TOKEN: 'metrics-secret-token-5-0123456789abcdef',
  TEMPORAL_CODEC_KEYS: 'compose-5:BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=',
};

/** An empty .env, so a developer's own .env cannot change what the test sees. */
const EMPTY_ENV_FILE = join(mkdtempSync(join(tmpdir(), 'compose-')), '.env');
writeFileSync(EMPTY_ENV_FILE, '');

/** `docker compose config` with only `vars` (and PATH) in its environment, every profile on. */
function composeConfig(vars: Record<string, string>): { status: number | null; output: string } {
  assert.ok(
    existsSync(COMPOSE_CLI),
    `the Compose CLI is missing at ${COMPOSE_CLI}: run npm run provision -- --compose (npm test does it)`,
  );
  const result = spawnSync(
    COMPOSE_CLI,
    [
      '-f',
      COMPOSE_FILE,
      '--env-file',
      EMPTY_ENV_FILE,
      '--profile',
      '*',
      'config',
      '--format',
      'json',
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...vars } },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function resolved(vars: Record<string, string> = {}): Record<string, Service> {
  const result = composeConfig({ ...REQUIRED, ...vars });
  assert.equal(result.status, 0, `docker compose config failed:\n${result.output}`);
  return (JSON.parse(result.output) as { services: Record<string, Service> }).services;
}

const services = resolved();
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

function environmentOf(name: string): Record<string, string> {
  const env = services[name]?.environment ?? {};
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value ?? '']));
}

void test('the file passes the Compose CLI validation, and fails naming each missing secret', () => {
  assert.notEqual(composeConfig({}).status, 0, 'the stack must not start without its secrets');
  // Compose stops at the first missing one: leave out each in turn.
  for (const variable of Object.keys(REQUIRED)) {
    const rest = Object.fromEntries(Object.entries(REQUIRED).filter(([name]) => name !== variable));
    const missing = composeConfig(rest);
    assert.notEqual(missing.status, 0, `the stack starts without ${variable}`);
    assert.match(missing.output, new RegExp(`required variable ${variable} is missing a value`));
  }
  assert.ok(Object.keys(services).length > 0);
});

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
    'receiver',
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
});

void test("app services run the compiled entry points of the image's production target", () => {
  for (const name of APP_SERVICES) {
    const service = services[name] ?? {};
    assert.equal(service.build?.context, ROOT, `${name} is not built from the repository`);
    assert.equal(service.build?.target, 'production', `${name} is not the production target`);
    const entry = service.command?.[0] ?? '';
    const source = /^dist\/(.+)\.js$/.exec(entry)?.[1];
    assert.ok(source, `${name} runs ${entry}, not a compiled dist/ entry point`);
    assert.ok(existsSync(join(ROOT, `${source}.ts`)), `${name}: no ${source}.ts to compile`);
  }
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const production = dockerfile.slice(dockerfile.search(/^FROM .* AS production$/m));
  assert.ok(production.startsWith('FROM'), 'the Dockerfile has no production stage');
  assert.match(dockerfile, /^RUN npm ci --omit=dev /m, 'runtime dependencies only');
  assert.match(dockerfile, /^RUN node --import tsx scripts\/build\.ts$/m, 'the npm run build step');
  assert.match(production, /^COPY --from=deps \/app\/node_modules /m);
  assert.match(production, /^COPY --from=build \/app\/dist /m);
  assert.match(production, /^ENTRYPOINT \["node"\]$/m);
  assert.doesNotMatch(production, /tsx/, 'the production stage runs no TypeScript loader');
  assert.match(dockerfile, /^ARG NODE_VERSION=24$/m);
  // The app image must not carry local state or tools into production.
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const path of ['node_modules', '.tools', '.data', '.env', 'test', 'dist']) {
    assert.ok(ignored.includes(path), `.dockerignore does not exclude ${path}`);
  }
});

void test('every published port is on 127.0.0.1 unless BIND_ADDRESS says otherwise', () => {
  const published = Object.entries(services).flatMap(([name, s]) =>
    (s.ports ?? []).map((port) => ({ name, ...port })),
  );
  assert.ok(published.length >= 8, 'the operator-facing ports are published');
  for (const port of published) {
    assert.equal(
      port.host_ip,
      '127.0.0.1',
      `${port.name} publishes ${port.target} beyond loopback`,
    );
  }
  const opened = resolved({ BIND_ADDRESS: '0.0.0.0' });
  for (const [name, service] of Object.entries(opened)) {
    for (const port of service.ports ?? []) assert.equal(port.host_ip, '0.0.0.0', name);
  }
  // Only the worker calls the finance package; its control endpoints are demo tools.
  assert.equal(services.finance?.ports, undefined, 'the finance simulator is published');
  assert.notEqual(environmentOf('api').DEMO_SCENARIOS, 'on', 'demo scenarios are on');
});

void test('no password has a default: every secret comes from its variable', () => {
  const text = readFileSync(COMPOSE_FILE, 'utf8');
  // Every `${VAR…}` naming a secret is required (`:?`), never given a fallback (`:-`).
  for (const match of text.matchAll(/\$\{(\w*(?:PASSWORD|TOKEN|SECRET)\w*)(:?[-?])?([^}]*)\}/g)) {
    const [, name, operator, rest] = match;
    if (name === 'ORDERS_POSTGRES_PASSWORD') {
      // Only in the postgres profile; empty, the image refuses to initialise.
      assert.equal(`${operator}${rest}`, ':-', name);
      continue;
    }
    assert.equal(operator, ':?', `${name} has a fallback`);
  }
  assert.equal(environmentOf('sqlserver').MSSQL_SA_PASSWORD, REQUIRED.MSSQL_SA_PASSWORD);
  assert.equal(environmentOf('postgresql').POSTGRES_PASSWORD, REQUIRED.TEMPORAL_DB_PASSWORD);
  assert.equal(environmentOf('temporal').POSTGRES_PWD, REQUIRED.TEMPORAL_DB_PASSWORD);
  assert.equal(environmentOf('orders-postgres').POSTGRES_PASSWORD, '');
  assert.equal(environmentOf('api').ADMIN_PASSWORD, REQUIRED.ADMIN_PASSWORD);
  assert.equal(environmentOf('api').METRICS_TOKEN, REQUIRED.METRICS_TOKEN);
  for (const name of ['api', 'worker']) {
    assert.ok(
      environmentOf(name).DATABASE_URL?.includes(`:${REQUIRED.MSSQL_SA_PASSWORD}@`),
      `${name}'s DATABASE_URL does not take the sa password from MSSQL_SA_PASSWORD`,
    );
  }
  const grafana = environmentOf('grafana');
  assert.equal(grafana.GF_SECURITY_ADMIN_PASSWORD, REQUIRED.GRAFANA_ADMIN_PASSWORD);
  assert.equal(grafana.GF_AUTH_ANONYMOUS_ENABLED, 'false', 'Grafana allows anonymous viewers');
});

void test('Temporal runs the server version of the dev server the tests use', () => {
  const cli = spawnSync(TEMPORAL_CLI, ['--version'], { encoding: 'utf8' });
  const version = /Server (\d+\.\d+\.\d+)/.exec(cli.stdout)?.[1];
  assert.ok(version, `no server version in \`temporal --version\`: ${cli.stdout}${cli.stderr}`);
  assert.equal(services.temporal?.image, `temporalio/auto-setup:${version}`);
  assert.match(
    services['temporal-setup']?.image ?? '',
    new RegExp(`^temporalio/admin-tools:${version}-`),
  );
});

void test("the alert receiver Alertmanager posts to is a service of the stack, from the image's production target", () => {
  const receiver = services.receiver ?? {};
  assert.equal(receiver.build?.target, 'production');
  assert.deepEqual(receiver.command, ['dist/observability/receiver/main.js']);
  assert.ok(existsSync(join(ROOT, 'observability/receiver/main.ts')));
  const alertmanager = readFileSync(
    join(ROOT, 'observability/alertmanager/alertmanager.yml'),
    'utf8',
  );
  const port = environmentOf('receiver').RECEIVER_PORT;
  assert.match(alertmanager, new RegExp(`url: 'http://receiver:${port}/alerts'`));
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
  assert.deepEqual(
    services.api?.ports?.map((p) => p.target),
    [defaults.API_PORT],
  );
  assert.equal(finance.FINANCE_PORT, defaults.FINANCE_PORT);
  assert.equal(worker.WORKER_METRICS_PORT, defaults.WORKER_METRICS_PORT);
  assert.deepEqual(services.worker?.expose?.map(Number), [defaults.WORKER_METRICS_PORT]);
  assert.match(
    (services.worker?.healthcheck?.test ?? []).join(' '),
    new RegExp(`127\\.0\\.0\\.1:${defaults.WORKER_METRICS_PORT}/healthz`),
    "the worker's healthcheck asks its /healthz",
  );

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

void test('every mounted file exists', () => {
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      if (volume.type !== 'bind') continue;
      assert.ok(existsSync(volume.source ?? ''), `${name} mounts missing ${volume.source}`);
    }
  }
});
