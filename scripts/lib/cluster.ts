/**
 * A Temporal cluster as production runs it: the frontend, history, matching and worker services,
 * each its own `temporal-server` process (built by `provision.sh --cluster`), on PostgreSQL for
 * persistence and SQL visibility. The schemas are set up and upgraded with `temporal-sql-tool`,
 * each service's configuration is rendered from `scripts/cluster/config.template.yaml` with free
 * loopback ports, and the namespace and the workflows' search attributes are registered. Any
 * service can be SIGKILLed and started again; with `tls` the frontend takes mTLS only.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { parse, stringify } from 'yaml';
import { ensureSearchAttributes } from '../../clients/temporal';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { createPostgresCluster, type PostgresCluster } from './postgres';
import { httpOk, portInUse, Service, until } from './processes';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, '.tools/bin');
/** The server, its sql tool and the Web UI server, as `provision.sh --cluster` installs them. */
export const TEMPORAL_SERVER = join(BIN, 'temporal-server');
export const TEMPORAL_SQL_TOOL = join(BIN, 'temporal-sql-tool');
export const TEMPORAL_UI_SERVER = join(BIN, 'temporal-ui-server');
const SCHEMAS = join(ROOT, '.tools/temporal-server/schema');
const TEMPLATE = join(ROOT, 'scripts/cluster/config.template.yaml');
const DYNAMIC_CONFIG = join(ROOT, 'scripts/cluster/dynamicconfig.yaml');

const run = promisify(execFile);

/** The server's four services, in the order they are started and listed. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/** PEM files for a frontend that accepts mTLS only; one CA signs every certificate. */
export interface ClusterTls {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** The certificate the system worker (and this module's admin connection) presents. */
  clientCert: string;
  clientKey: string;
  /** The name in the server certificate: clients check the frontend against it. */
  serverName: string;
}

export interface ClusterOptions {
  /** Configuration, logs (`temporal-<service>.log`) and, without `postgres`, nothing else. */
  dir: string;
  /** Run on this PostgreSQL; without it a throwaway one is created and destroyed by `stop()`. */
  postgres?: PostgresCluster;
  /** Frontend gRPC port; without it, a free one. */
  frontendPort?: number;
  namespace?: string;
  /** How long closed workflows are kept; the namespace is registered with it. */
  retentionDays?: number;
  tls?: ClusterTls;
  /** Web UI port; without it, no UI (also when the UI server was not built). */
  uiPort?: number;
  /** The API's codec endpoint, for the Web UI to decode the encrypted payloads; none: off. */
  uiCodecEndpoint?: string;
  historyShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface TemporalCluster {
  /** The frontend, `127.0.0.1:<port>`. */
  address: string;
  namespace: string;
  /** The environment a client of this cluster needs (domain/config.ts): address, TLS files. */
  clientEnv: Record<string, string>;
  services: Record<ClusterService, Service>;
  /** Each service's Prometheus `/metrics`. */
  metricsUrls: Record<ClusterService, string>;
  /** The Web UI, when it runs. */
  uiUrl: string | null;
  postgres: PostgresCluster;
  /** Starts a stopped service again and waits until it answers. */
  restart(service: ClusterService): Promise<void>;
  /** Services that exited without being asked to, in order. */
  unexpectedExits: string[];
  logFiles(): string[];
  /** Stops every service (and destroys the PostgreSQL it created). */
  stop(): Promise<void>;
}

/** `${NAME}` placeholders filled in; a placeholder without a value is a bug in the caller. */
function render(template: string, values: Record<string, string | number>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`config template: no value for \${${name}}`);
    return String(value);
  });
}

function provisioned(path: string): string {
  if (!existsSync(path))
    throw new Error(`${path} is missing: run \`npm run provision -- --cluster\``);
  return path;
}

interface PgTarget {
  host: string;
  port: string;
  user: string;
  password: string;
}

function pgTarget(url: string): PgTarget {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

/**
 * Creates the database when it is new and sets up the schema's first version, then upgrades it
 * to the newest version this server ships: run on every start, so a newer server upgrades a
 * persistent cluster's data in place.
 */
async function setUpSchema(
  postgres: PostgresCluster,
  database: string,
  schema: 'temporal' | 'visibility',
): Promise<void> {
  const target = pgTarget(postgres.url);
  const tool = (args: string[]) =>
    run(
      provisioned(TEMPORAL_SQL_TOOL),
      ['--plugin', 'postgres12', '--ep', target.host, '-p', target.port, '-u', target.user].concat([
        '--db',
        database,
        ...args,
      ]),
      // The password goes by environment, never on a command line that `ps` shows.
      { env: { ...process.env, SQL_PASSWORD: target.password }, timeout: 120_000 },
    );
  const admin = new PgClient({ connectionString: postgres.url });
  await admin.connect();
  let exists: boolean;
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    exists = (found.rowCount ?? 0) > 0;
  } finally {
    await admin.end();
  }
  if (!exists) {
    await tool(['create-database', '--defaultdb', 'postgres']);
    await tool(['setup-schema', '-v', '0.0']);
  }
  await tool(['update-schema', '-d', join(SCHEMAS, schema, 'versioned')]);
}

type Ports = Record<
  | 'FRONTEND_PORT'
  | 'FRONTEND_MEMBERSHIP_PORT'
  | 'FRONTEND_HTTP_PORT'
  | 'HISTORY_PORT'
  | 'HISTORY_MEMBERSHIP_PORT'
  | 'MATCHING_PORT'
  | 'MATCHING_MEMBERSHIP_PORT'
  | 'WORKER_PORT'
  | 'WORKER_MEMBERSHIP_PORT',
  number
>;

/**
 * A free loopback port below 32768: the server stores membership ports in a PostgreSQL smallint,
 * and the kernel's ephemeral ports (what `freeLoopbackPort` gets) lie above it.
 */
async function freeMembershipPort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error('no free loopback port below 32768');
}

async function choosePorts(frontendPort?: number): Promise<Ports> {
  const free = freeLoopbackPort;
  return {
    FRONTEND_PORT: frontendPort ?? (await free()),
    FRONTEND_MEMBERSHIP_PORT: await freeMembershipPort(),
    FRONTEND_HTTP_PORT: await free(),
    HISTORY_PORT: await free(),
    HISTORY_MEMBERSHIP_PORT: await freeMembershipPort(),
    MATCHING_PORT: await free(),
    MATCHING_MEMBERSHIP_PORT: await freeMembershipPort(),
    WORKER_PORT: await free(),
    WORKER_MEMBERSHIP_PORT: await freeMembershipPort(),
  };
}

/** The server's TLS section: mTLS on the frontend only; the services talk plainly among themselves. */
function tlsSection(tls: ClusterTls): Record<string, unknown> {
  return {
    frontend: {
      server: {
        certFile: tls.serverCert,
        keyFile: tls.serverKey,
        requireClientAuth: true,
        clientCaFiles: [tls.ca],
      },
    },
    systemWorker: {
      certFile: tls.clientCert,
      keyFile: tls.clientKey,
      client: { serverName: tls.serverName, rootCaFiles: [tls.ca] },
    },
  };
}

/** Registers the namespace if it is new; an existing one is left as it is. */
async function registerNamespace(
  connection: Connection,
  namespace: string,
  retentionDays: number,
): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000),
    });
  } catch (error) {
    if (!/already exists|already registered/i.test(String(error))) throw error;
  }
}

export async function startTemporalCluster(options: ClusterOptions): Promise<TemporalCluster> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const namespace = options.namespace ?? 'default';
  const postgres =
    options.postgres ??
    (await createPostgresCluster({ password: randomBytes(12).toString('hex') }));
  const ownsPostgres = options.postgres === undefined;
  const target = pgTarget(postgres.url);
  const ports = await choosePorts(options.frontendPort);
  const address = `127.0.0.1:${ports.FRONTEND_PORT}`;
  const grpcPorts: Record<Exclude<ClusterService, 'worker'>, number> = {
    frontend: ports.FRONTEND_PORT,
    history: ports.HISTORY_PORT,
    matching: ports.MATCHING_PORT,
  };
  const metricsPorts = {} as Record<ClusterService, number>;
  for (const name of CLUSTER_SERVICES) metricsPorts[name] = await freeLoopbackPort();

  const services = {} as Record<ClusterService, Service>;
  const unexpectedExits: string[] = [];
  const stopAll = async () => {
    for (const name of [...CLUSTER_SERVICES].reverse()) await services[name]?.stop();
    await ui?.stop();
  };
  let ui: Service | null = null;
  const clientEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    ...(options.tls
      ? {
          TEMPORAL_TLS_CA: options.tls.ca,
          TEMPORAL_TLS_CERT: options.tls.clientCert,
          TEMPORAL_TLS_KEY: options.tls.clientKey,
          TEMPORAL_TLS_SERVER_NAME: options.tls.serverName,
        }
      : {}),
  };
  const connect = () =>
    Connection.connect({
      ...temporalConnectionOptions({
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TLS_CA: clientEnv.TEMPORAL_TLS_CA,
        TEMPORAL_TLS_CERT: clientEnv.TEMPORAL_TLS_CERT,
        TEMPORAL_TLS_KEY: clientEnv.TEMPORAL_TLS_KEY,
        TEMPORAL_TLS_SERVER_NAME: clientEnv.TEMPORAL_TLS_SERVER_NAME,
      }),
      connectTimeout: 2000,
    });

  const readiness: Record<ClusterService, () => Promise<boolean>> = {
    frontend: async () => {
      const connection = await connect();
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    history: () => portInUse('127.0.0.1', grpcPorts.history),
    matching: () => portInUse('127.0.0.1', grpcPorts.matching),
    // The worker service serves no gRPC; it is up once it has joined the membership ring.
    worker: () => portInUse('127.0.0.1', ports.WORKER_MEMBERSHIP_PORT),
  };
  async function restart(name: ClusterService): Promise<void> {
    const service = services[name];
    service.start();
    try {
      // A service that exits at start-up (a bad config, a port taken) fails at once.
      await until(
        `the Temporal ${name} service`,
        async () => !service.running || (await readiness[name]()),
        { timeoutMs: 90_000 },
      );
      if (!service.running) throw new Error(`the Temporal ${name} service exited at start-up`);
    } catch (error) {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; last lines of its log:\n${services[name].tail()}`,
      );
    }
  }

  try {
    await setUpSchema(postgres, 'temporal', 'temporal');
    await setUpSchema(postgres, 'temporal_visibility', 'visibility');

    const template = readFileSync(TEMPLATE, 'utf8');
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    for (const name of CLUSTER_SERVICES) {
      const config = parse(
        render(template, {
          ...ports,
          LOG_LEVEL: options.logLevel ?? 'warn',
          HISTORY_SHARDS: options.historyShards ?? 4,
          DB_NAME: 'temporal',
          VISIBILITY_DB_NAME: 'temporal_visibility',
          PG_PORT: target.port,
          PG_USER: target.user,
          PG_PASSWORD: JSON.stringify(target.password),
          METRICS_PORT: metricsPorts[name],
          DYNAMIC_CONFIG,
        }),
      ) as { global: Record<string, unknown> };
      if (options.tls) config.global.tls = tlsSection(options.tls);
      // `--env <service>` makes the server read `<service>.yaml`.
      writeFileSync(join(configDir, `${name}.yaml`), stringify(config), { mode: 0o600 });
      const service = new Service({
        name: `temporal-${name}`,
        command: provisioned(TEMPORAL_SERVER),
        args: ['--root', dir, '--config', 'config', '--env', name, '--allow-no-auth'].concat([
          'start',
          '--service',
          name,
        ]),
        env: process.env,
        cwd: dir,
        logFile: join(dir, `temporal-${name}.log`),
      });
      service.onUnexpectedExit = (code, signal) =>
        unexpectedExits.push(`${service.name} exited by itself (${signal ?? `code ${code}`})`);
      services[name] = service;
    }
    // Every service writes the cluster's metadata record at start-up when it is missing, and on
    // a new database two doing it at once make one of them exit: the first service starts alone.
    // The others then find it through PostgreSQL's membership table and start together.
    const [first, ...rest] = CLUSTER_SERVICES;
    await restart(first);
    await Promise.all(rest.map((name) => restart(name)));

    const connection = await connect();
    try {
      await until(
        `the namespace ${namespace}`,
        async () => {
          await registerNamespace(connection, namespace, options.retentionDays ?? 3);
          await connection.workflowService.describeNamespace({ namespace });
          await ensureSearchAttributes(connection, namespace);
          // Visibility answers too, so the first workflow list or count works.
          await connection.workflowService.countWorkflowExecutions({ namespace });
          return true;
        },
        { timeoutMs: 90_000, everyMs: 500 },
      );
    } finally {
      await connection.close();
    }

    if (options.uiPort !== undefined && existsSync(TEMPORAL_UI_SERVER)) {
      ui = startUi(dir, address, options.uiPort, options.tls, options.uiCodecEndpoint);
      const url = `http://127.0.0.1:${options.uiPort}`;
      await until('the Temporal Web UI', () => httpOk(url), { timeoutMs: 60_000 });
    }
  } catch (error) {
    await stopAll();
    if (ownsPostgres) await postgres.destroy();
    throw error;
  }

  const metricsUrls = Object.fromEntries(
    CLUSTER_SERVICES.map((name) => [name, `http://127.0.0.1:${metricsPorts[name]}/metrics`]),
  ) as Record<ClusterService, string>;
  return {
    address,
    namespace,
    clientEnv,
    services,
    metricsUrls,
    uiUrl: ui ? `http://127.0.0.1:${options.uiPort}` : null,
    postgres,
    restart,
    unexpectedExits,
    logFiles: () =>
      [...CLUSTER_SERVICES.map((name) => services[name].spec.logFile)].concat(
        ui ? [ui.spec.logFile] : [],
      ),
    async stop() {
      await stopAll();
      if (ownsPostgres) await postgres.destroy();
    },
  };
}

/** The Web UI server against the frontend, with the frontend's TLS settings when it has them. */
function startUi(
  dir: string,
  address: string,
  port: number,
  tls?: ClusterTls,
  codecEndpoint?: string,
): Service {
  const configDir = join(dir, 'ui-config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'cluster.yaml'),
    stringify({
      temporalGrpcAddress: address,
      host: '127.0.0.1',
      port,
      enableUi: true,
      defaultNamespace: 'default',
      // The browser sends the person's API session along: the endpoint decodes only for them.
      ...(codecEndpoint ? { codec: { endpoint: codecEndpoint, includeCredentials: true } } : {}),
      ...(tls
        ? {
            tls: {
              caFile: tls.ca,
              certFile: tls.clientCert,
              keyFile: tls.clientKey,
              serverName: tls.serverName,
              enableHostVerification: true,
            },
          }
        : {}),
    }),
  );
  const ui = new Service({
    name: 'temporal-ui',
    command: TEMPORAL_UI_SERVER,
    args: ['--root', dir, '--config', 'ui-config', '--env', 'cluster', 'start'],
    env: process.env,
    cwd: dir,
    logFile: join(dir, 'temporal-ui.log'),
  });
  ui.start();
  return ui;
}
