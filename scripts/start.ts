/**
 * Start-up supervisor for `npm start`: the Temporal dev server (with its Web UI), the finance
 * simulator, the worker and the API, on embedded defaults; with `--monitoring` also Prometheus,
 * Alertmanager and the alert receiver. It waits for each part to be ready, prints where to look,
 * and stops everything when one part dies or on Ctrl-C.
 *
 * With `--cluster` (`npm run cluster`) Temporal is the project's cluster instead
 * (scripts/lib/cluster.ts): frontend, history, matching and worker services on a PostgreSQL that
 * keeps its data in `.data/cluster/`, with the Web UI server when it was built.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { codecKeyring, encryptedDataConverter } from '../clients/codec';
import { ensureSearchAttributes } from '../clients/temporal';
import { openDatabase } from '../db';
import { ensureFirstAdmin } from '../db/credentials';
import { temporalConnectionOptions } from '../clients/temporal-connection';
import { formatCodecKey } from '../domain/codec-keys';
import { ConfigError, loadConfig, type Config } from '../domain/config';
import { freeLoopbackPort } from '../worker/metricsServer';
import { startMonitoring } from './lib/monitoring';
import { httpOk, portInUse, Service, tsxArgs, until } from './lib/processes';
import { startTemporalCluster, type TemporalCluster } from './lib/cluster';
import { createPostgresCluster, type PostgresCluster } from './lib/postgres';
import { devServerArgs, TEMPORAL_CLI } from './lib/temporal-dev-server';

const ROOT = resolve(__dirname, '..');
const DATA = join(ROOT, '.data');
const LOGS = join(DATA, 'logs');
const MONITORING = process.argv.includes('--monitoring');
/** Prometheus' and Alertmanager's usual ports, and the receiver's next to them. */
const MONITORING_PORTS = { prometheus: 9090, alertmanager: 9093, receiver: 9095 };

const parts: Service[] = [];
let stopping = false;
/** In `--cluster` mode: the cluster and its PostgreSQL, stopped after the parts. */
const clusterMode = process.argv.includes('--cluster');
const cluster: { temporal?: TemporalCluster; postgres?: PostgresCluster } = {};

function say(message: string): void {
  console.log(`[start] ${message}`);
}

/** Stops everything when the part exits by itself, and at the end. */
function supervise(part: Service): void {
  part.onUnexpectedExit = (code, signal) => {
    if (stopping) return;
    console.error(
      `[start] ${part.name} exited (${signal ?? `code ${code}`}); last lines of ${part.spec.logFile}:`,
    );
    console.error(part.tail());
    void stopAll(1);
  };
  parts.push(part);
}

function launch(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const part = new Service({
    name,
    command,
    args,
    env,
    cwd: ROOT,
    logFile: join(LOGS, `${name}.log`),
  });
  supervise(part);
  part.start();
}

async function stopAll(exitCode: number): Promise<never> {
  stopping = true;
  // Reverse order: the API and worker go first, the Temporal server last.
  for (const part of [...parts].reverse()) {
    if (!part.running) continue;
    say(`stopping ${part.name}`);
    await part.stop();
  }
  if (cluster.temporal) say('stopping the Temporal cluster');
  await cluster.temporal?.stop();
  await cluster.postgres?.stop();
  process.exit(exitCode);
}

/** Waits for a part; while the exit handler is already shutting everything down, waits forever. */
async function ready(what: string, check: () => Promise<boolean>): Promise<void> {
  await until(what, async () => {
    if (stopping) await new Promise(() => undefined);
    return check();
  });
}

/**
 * The development key, made on the first start and kept with the data it encrypts (mode 600):
 * histories recorded before a restart still decode after it.
 */
function developmentCodecKeys(): string {
  const file = join(DATA, 'temporal-codec-keys');
  if (!existsSync(file)) {
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, formatCodecKey('dev-1', randomBytes(32)), { mode: 0o600 });
    say(`generated a development encryption key for Temporal payloads in ${file}`);
  }
  return readFileSync(file, 'utf8').trim();
}

/** The API's codec endpoint, as the Web UI (in the browser) reaches it. */
function codecEndpoint(config: Config): string {
  const host = config.API_HOST === '0.0.0.0' ? '127.0.0.1' : config.API_HOST;
  return `http://${host}:${config.API_PORT}/api/codec`;
}

function hostPort(address: string): { host: string; port: number } {
  const url = new URL(`grpc://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

/** Another `npm start` (or anything else) on Temporal's ports: say so instead of failing later. */
async function assertTemporalPortsFree(host: string, grpc: number, ui: number): Promise<void> {
  for (const [what, p] of [
    ['Temporal gRPC', grpc],
    ['Temporal UI', ui],
  ] as const) {
    if (await portInUse(host, p)) {
      throw new Error(
        `${what} port ${host}:${p} is already in use: is another \`npm start\` running?`,
      );
    }
  }
}

async function startTemporal(config: Config, metricsPort: number | undefined): Promise<Client> {
  const { host, port } = hostPort(config.TEMPORAL_ADDRESS);
  const uiPort = new URL(config.TEMPORAL_UI_URL).port;
  await assertTemporalPortsFree(host, port, Number(uiPort));
  launch(
    'temporal',
    TEMPORAL_CLI,
    devServerArgs({
      ip: host,
      port,
      uiPort: Number(uiPort),
      dbFile: join(DATA, 'temporal.db'),
      namespace: config.TEMPORAL_NAMESPACE,
      metricsPort,
      uiCodecEndpoint: codecEndpoint(config),
    }),
    process.env,
  );
  let connection: Connection | undefined;
  await ready('the Temporal dev server', async () => {
    connection = await Connection.connect({
      ...temporalConnectionOptions(config),
      connectTimeout: 1000,
    });
    await connection.workflowService.getSystemInfo({});
    return true;
  });
  if (!connection) throw new Error('no Temporal connection');
  const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  if (added.length > 0) say(`registered search attributes: ${added.join(', ')}`);
  return supervisorClient(connection, config);
}

/**
 * The cluster on PostgreSQL under `.data/cluster/` (its password kept beside it, readable by this
 * user only), frontend on TEMPORAL_ADDRESS's port, Web UI on TEMPORAL_UI_URL's port.
 */
async function startCluster(config: Config): Promise<Client> {
  const { host, port } = hostPort(config.TEMPORAL_ADDRESS);
  if (host !== '127.0.0.1' && host !== 'localhost')
    throw new Error(`--cluster runs Temporal on 127.0.0.1; TEMPORAL_ADDRESS is ${host}:${port}`);
  const uiPort = Number(new URL(config.TEMPORAL_UI_URL).port);
  await assertTemporalPortsFree(host, port, uiPort);
  const dir = join(DATA, 'cluster');
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'postgres-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  cluster.postgres = await createPostgresCluster({ dir: join(dir, 'postgres'), password });
  cluster.temporal = await startTemporalCluster({
    dir: join(dir, 'temporal'),
    postgres: cluster.postgres,
    frontendPort: port,
    namespace: config.TEMPORAL_NAMESPACE,
    uiPort,
    uiCodecEndpoint: codecEndpoint(config),
  });
  for (const service of Object.values(cluster.temporal.services)) {
    service.onUnexpectedExit = (code, signal) => {
      if (stopping) return;
      console.error(`[start] ${service.name} exited (${signal ?? `code ${code}`}):`);
      console.error(service.tail());
      void stopAll(1);
    };
  }
  if (!cluster.temporal.uiUrl) say('no Web UI: the UI server was not built (see provision.sh)');
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return supervisorClient(connection, config);
}

/** The supervisor's own client, with the same codec as the worker and the API. */
function supervisorClient(connection: Connection, config: Config): Client {
  const dataConverter = encryptedDataConverter(codecKeyring(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
}

/** What the summary adds about the cluster: its services' logs and metrics. */
function clusterLines(): string {
  if (!cluster.temporal) return '';
  const { metricsUrls } = cluster.temporal;
  return `
    Temporal cluster   frontend ${cluster.temporal.address}, data in ${join(DATA, 'cluster')}
                       logs ${cluster.temporal.logFiles().join(', ')}
                       metrics ${Object.entries(metricsUrls)
                         .map(([service, url]) => `${service} ${url}`)
                         .join(', ')}`;
}

async function workerPolling(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers?.length ?? 0) > 0;
}

/**
 * How to sign in: a database without an admin gets one here, before the API starts, so the
 * password is printed on this terminal once (the API's own output goes to its log file).
 */
async function signInLine(config: Config): Promise<string> {
  const db = await openDatabase(config.DATABASE_URL);
  try {
    const created = await ensureFirstAdmin(db.credentials, config.ADMIN_PASSWORD);
    if (!created) return 'as a user you added (`npm run users -- list`)';
    return created.generated
      ? `as "${created.username}", password ${created.password}   (shown once: keep it)`
      : `as "${created.username}" with ADMIN_PASSWORD`;
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  // The demo tools are what `npm start` is for; a deployment leaves them off (api/demo). The
  // scrape token is made here so the monitoring stack can scrape the API it starts.
  const codecKeys = process.env.TEMPORAL_CODEC_KEYS || developmentCodecKeys();
  const env = {
    DEMO_SCENARIOS: 'on',
    ...process.env,
    METRICS_TOKEN: process.env.METRICS_TOKEN || randomBytes(24).toString('base64url'),
    TEMPORAL_CODEC_KEYS: codecKeys,
  };
  const config = loadConfig(env);
  mkdirSync(LOGS, { recursive: true });
  const signIn = await signInLine(config);

  if (MONITORING) {
    for (const [what, port] of Object.entries(MONITORING_PORTS)) {
      if (await portInUse('127.0.0.1', port)) {
        throw new Error(`${what} port 127.0.0.1:${port} is already in use`);
      }
    }
  }
  const temporalMetricsPort = MONITORING ? await freeLoopbackPort() : undefined;

  say(clusterMode ? 'starting the Temporal cluster' : 'starting the Temporal dev server');
  const client = await (clusterMode
    ? startCluster(config)
    : startTemporal(config, temporalMetricsPort));

  say('starting the finance simulator');
  launch('finance', process.execPath, tsxArgs('finance/main.ts'), env);
  await ready('the finance simulator', () => httpOk(new URL('/healthz', config.FINANCE_URL).href));

  say('starting the worker');
  launch('worker', process.execPath, tsxArgs('worker/main.ts'), env);
  await ready('the worker', () => workerPolling(client, config.TEMPORAL_TASK_QUEUE));

  say('starting the API');
  launch('api', process.execPath, tsxArgs('api/main.ts'), env);
  const api = `http://${config.API_HOST}:${config.API_PORT}`;
  await ready('the API', () => httpOk(`${api}/healthz`));

  let monitoringLines = '';
  if (MONITORING) {
    say('starting Prometheus, Alertmanager and the alert receiver');
    const local = (host: string) => (host === '0.0.0.0' ? '127.0.0.1' : host);
    const monitoring = await startMonitoring({
      dir: join(DATA, 'monitoring'),
      targets: {
        api: `${local(config.API_HOST)}:${config.API_PORT}`,
        worker: `${local(config.WORKER_METRICS_HOST)}:${config.WORKER_METRICS_PORT}`,
        temporal: `127.0.0.1:${temporalMetricsPort}`,
      },
      apiMetricsToken: env.METRICS_TOKEN,
      ports: MONITORING_PORTS,
    });
    for (const part of Object.values(monitoring.parts)) supervise(part);
    monitoringLines = `
    Prometheus         ${monitoring.prometheusUrl}/classic/graph   (alert list: /classic/alerts)
    Alertmanager       ${monitoring.alertmanagerUrl}/api/v2/alerts   (no UI in Debian's build)
    Alert receiver     ${monitoring.receiverUrl}/notifications   (record: ${monitoring.notificationsFile})`;
  }

  console.log(`
  Order processing is running.

    Dashboard & API    ${api}            (API reference: docs/api.md)
    Temporal Web UI    ${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows
                       payloads are encrypted; decoded through ${codecEndpoint(config)} (docs/security.md)
    Finance simulator  ${config.FINANCE_URL}      (PUT /mode to make it flaky, down or slow)
    Sign in            ${signIn}
    Database           ${config.DATABASE_URL}
    Logs               ${LOGS}/{${clusterMode ? '' : 'temporal,'}finance,worker,api}.log${monitoringLines}${clusterLines()}

  Place an order with an API key of your own (shown once):
    npm run users -- add-key my-shop
    curl -X POST ${api}/api/orders -H 'content-type: application/json' \\
      -H 'authorization: Bearer <the key>' \\
      -d '{"customerId":"cust-1","product":"Widget","quantity":2,"unitPrice":"12.50","currency":"GBP"}'

  Ctrl-C stops everything.
`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll(0));

main().catch((error: unknown) => {
  console.error(
    `[start] ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`,
  );
  void stopAll(1);
});
