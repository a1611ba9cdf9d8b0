/**
 * The whole system as separate processes on free loopback ports — the Temporal dev server (its
 * database in a file, so it survives a restart), the finance simulator, the worker and the API —
 * each started from its real entry point, for the benchmark and the fault suite. Any part can be
 * stopped, SIGKILLed and started again. `startScaledStack` runs several workers and APIs against
 * a Temporal of its own instead (the cluster, scripts/lib/cluster.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { codecKeyring, encryptedDataConverter } from '../../clients/codec';
import { ensureSearchAttributes } from '../../clients/temporal';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import { openDatabase } from '../../db';
import { formatCodecKey } from '../../domain/codec-keys';
import { loadConfig } from '../../domain/config';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { httpOk, Service, tsxArgs, until } from './processes';
import { devServerArgs, TEMPORAL_CLI } from './temporal-dev-server';

const ROOT = resolve(__dirname, '../..');

export type PartName = 'temporal' | 'finance' | 'worker' | 'api';

export interface StackOptions {
  /** Logs (`<part>.log`) and the Temporal database go here. */
  dir: string;
  databaseUrl: string;
  /** More configuration for the Node services (see domain/config.ts), e.g. PAYMENT_MAX_ATTEMPTS. */
  env?: Record<string, string>;
  /** Node flags for the Node services, e.g. `--cpu-prof` (the benchmark's `--profile`). */
  nodeArgs?: string[];
  /** The Temporal server also serves its own Prometheus metrics (for the monitoring stack). */
  temporalMetrics?: boolean;
}

/** The system's processes and how to reach them; `P` names the parts. */
export interface RunningSystem<P extends string> {
  parts: Record<P, Service>;
  /** The first API; `apiUrls` has every API process. */
  apiUrl: string;
  apiUrls: string[];
  financeUrl: string;
  /** The first worker's `/metrics`. */
  workerMetricsUrl: string;
  /** `host:port` of the Temporal server's /metrics, when `temporalMetrics` asked for it. */
  temporalMetricsTarget: string | null;
  temporalAddress: string;
  taskQueue: string;
  /** API keys made on the system's database before its APIs start (bearer tokens). */
  clientToken: string;
  viewerToken: string;
  operatorToken: string;
  /** The scrape token the APIs' `/metrics` take (METRICS_TOKEN). */
  metricsToken: string;
  /** A client of Temporal; it reconnects by itself after a server restart. */
  client: Client;
  /** Starts a stopped part again and waits until it answers. */
  restart(part: P): Promise<void>;
  /** Parts that exited without being asked to (a crash), in order. */
  unexpectedExits: string[];
  /** Every log file, for the secrets check. */
  logFiles(): string[];
  stop(): Promise<void>;
}

/** The system on its own dev server. */
export type Stack = RunningSystem<PartName>;

/** Names of a scaled-out system's parts: `finance`, `worker-1`…, `api-1`…. */
export type ScaledPartName = 'finance' | `worker-${number}` | `api-${number}`;

/** The system scaled out against a Temporal that runs on its own (the cluster). */
export type ScaledStack = RunningSystem<ScaledPartName> & {
  workers: ScaledPartName[];
  apis: ScaledPartName[];
  /** One part by name; throws for a name the system does not have. */
  part(name: ScaledPartName): Service;
};

export interface ScaledStackOptions extends StackOptions {
  /** How the Node services reach Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS files. */
  temporalEnv: Record<string, string>;
  workers: number;
  apis: number;
}

const START_ORDER: PartName[] = ['temporal', 'finance', 'worker', 'api'];

interface SystemIds {
  finance: number;
  taskQueue: string;
  metricsToken: string;
  /** A key of the system's own for what it stores in Temporal (TEMPORAL_CODEC_KEYS). */
  codecKeys: string;
}

type SystemKeys = Pick<RunningSystem<string>, 'clientToken' | 'viewerToken' | 'operatorToken'>;

/**
 * The keys the load client, the checks and the operators use, made on the system's database
 * (which this migrates first) the way `npm run users -- add-key` makes them.
 */
async function systemKeys(databaseUrl: string): Promise<SystemKeys> {
  const db = await openDatabase(databaseUrl);
  try {
    const key = async (name: string, role: 'client' | 'viewer' | 'operator') =>
      (await db.credentials.addKey(name, role)).secret;
    return {
      clientToken: await key('load', 'client'),
      viewerToken: await key('checks', 'viewer'),
      operatorToken: await key('operators', 'operator'),
    };
  } finally {
    await db.close();
  }
}

/** The environment every Node service of one system shares. */
function sharedEnv(options: StackOptions, temporalEnv: Record<string, string>, ports: SystemIds) {
  return {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    ...temporalEnv,
    TEMPORAL_TASK_QUEUE: ports.taskQueue,
    FINANCE_URL: `http://127.0.0.1:${ports.finance}`,
    FINANCE_PORT: String(ports.finance),
    METRICS_TOKEN: ports.metricsToken,
    TEMPORAL_CODEC_KEYS: ports.codecKeys,
    // One load client posts everything from one address.
    ORDER_RATE_LIMIT_PER_MINUTE: '1000000',
    ...options.env,
  } satisfies NodeJS.ProcessEnv;
}

async function newPorts(): Promise<SystemIds> {
  return {
    finance: await freeLoopbackPort(),
    taskQueue: `orders-${randomBytes(4).toString('hex')}`,
    metricsToken: randomBytes(24).toString('base64url'),
    codecKeys: formatCodecKey('stack', randomBytes(32)),
  };
}

/**
 * Starts the parts in order, each once the one before answers; a part that does not come up
 * stops everything started so far.
 */
async function launch<P extends string>(
  order: P[],
  parts: Record<P, Service>,
  readiness: Record<P, () => Promise<boolean>>,
  onStop: () => Promise<void>,
): Promise<Pick<RunningSystem<P>, 'restart' | 'unexpectedExits' | 'logFiles' | 'stop'>> {
  const unexpectedExits: string[] = [];
  for (const name of order) {
    const part = parts[name];
    part.onUnexpectedExit = (code, signal) =>
      unexpectedExits.push(`${part.name} exited by itself (${signal ?? `code ${code}`})`);
  }
  async function restart(part: P): Promise<void> {
    parts[part].start();
    try {
      await until(`the ${part}`, readiness[part], { timeoutMs: 90_000 });
    } catch (error) {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; last lines of its log:\n${parts[part].tail()}`,
      );
    }
  }
  async function stop(): Promise<void> {
    for (const name of [...order].reverse()) await parts[name].stop();
    await onStop();
  }
  try {
    for (const name of order) await restart(name);
  } catch (error) {
    await stop();
    throw error;
  }
  const logFiles = () => order.map((name) => parts[name].spec.logFile);
  return { restart, unexpectedExits, logFiles, stop };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const grpc = await freeLoopbackPort();
  const ports = await newPorts();
  const keys = await systemKeys(options.databaseUrl);
  const api = await freeLoopbackPort();
  const workerMetrics = await freeLoopbackPort();
  const temporalMetrics = options.temporalMetrics ? await freeLoopbackPort() : undefined;
  const temporalAddress = `127.0.0.1:${grpc}`;
  const urls = {
    api: `http://127.0.0.1:${api}`,
    finance: `http://127.0.0.1:${ports.finance}`,
    workerMetrics: `http://127.0.0.1:${workerMetrics}/metrics`,
  };
  const env: NodeJS.ProcessEnv = {
    ...sharedEnv(options, { TEMPORAL_ADDRESS: temporalAddress }, ports),
    API_PORT: String(api),
    WORKER_METRICS_PORT: String(workerMetrics),
    ...options.env,
  };
  const dataConverter = encryptedDataConverter(codecKeyring(loadConfig(env)));
  const nodeArgs = options.nodeArgs ?? [];
  const service = (name: PartName, command: string, args: string[]) =>
    new Service({ name, command, args, env, cwd: ROOT, logFile: join(dir, `${name}.log`) });
  const parts: Record<PartName, Service> = {
    temporal: service(
      'temporal',
      TEMPORAL_CLI,
      devServerArgs({
        ip: '127.0.0.1',
        port: grpc,
        dbFile: join(dir, 'temporal.db'),
        metricsPort: temporalMetrics,
      }),
    ),
    finance: service('finance', process.execPath, [...nodeArgs, ...tsxArgs('finance/main.ts')]),
    worker: service('worker', process.execPath, [...nodeArgs, ...tsxArgs('worker/main.ts')]),
    api: service('api', process.execPath, [...nodeArgs, ...tsxArgs('api/main.ts')]),
  };

  const connected: { client?: Client } = {};
  const readiness: Record<PartName, () => Promise<boolean>> = {
    temporal: async () => {
      const connection = await Connection.connect({
        address: temporalAddress,
        connectTimeout: 1000,
      });
      await connection.workflowService.getSystemInfo({});
      if (connected.client) {
        await connection.close();
      } else {
        await ensureSearchAttributes(connection, 'default');
        connected.client = new Client({ connection, dataConverter });
      }
      return true;
    },
    finance: () => httpOk(`${urls.finance}/healthz`),
    worker: () => httpOk(urls.workerMetrics),
    api: () => httpOk(`${urls.api}/healthz`),
  };
  const running = await launch(START_ORDER, parts, readiness, async () => {
    await connected.client?.connection.close();
  });
  const { client } = connected;
  if (!client) throw new Error('no Temporal client');
  return {
    parts,
    apiUrl: urls.api,
    apiUrls: [urls.api],
    financeUrl: urls.finance,
    workerMetricsUrl: urls.workerMetrics,
    temporalMetricsTarget: temporalMetrics === undefined ? null : `127.0.0.1:${temporalMetrics}`,
    temporalAddress,
    taskQueue: ports.taskQueue,
    ...keys,
    metricsToken: ports.metricsToken,
    client,
    ...running,
  };
}

/**
 * The finance simulator, `workers` worker processes and `apis` API processes against a Temporal
 * that runs on its own: the scale-out a cluster is for. Workers share the task queue; every API
 * takes orders into the same database.
 */
export async function startScaledStack(options: ScaledStackOptions): Promise<ScaledStack> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const ports = await newPorts();
  const keys = await systemKeys(options.databaseUrl);
  const env = sharedEnv(options, options.temporalEnv, ports);
  const config = loadConfig(env);
  const nodeArgs = options.nodeArgs ?? [];
  const parts = {} as Record<ScaledPartName, Service>;
  const readiness = {} as Record<ScaledPartName, () => Promise<boolean>>;
  const add = (name: ScaledPartName, file: string, extra: NodeJS.ProcessEnv, ready: string) => {
    parts[name] = new Service({
      name,
      command: process.execPath,
      args: [...nodeArgs, ...tsxArgs(file)],
      env: { ...env, ...extra },
      cwd: ROOT,
      logFile: join(dir, `${name}.log`),
    });
    readiness[name] = () => httpOk(ready);
  };
  const financeUrl = `http://127.0.0.1:${ports.finance}`;
  add('finance', 'finance/main.ts', {}, `${financeUrl}/healthz`);
  const workers: ScaledPartName[] = [];
  const workerMetricsUrls: string[] = [];
  for (let index = 1; index <= options.workers; index++) {
    const port = await freeLoopbackPort();
    const url = `http://127.0.0.1:${port}/metrics`;
    add(`worker-${index}`, 'worker/main.ts', { WORKER_METRICS_PORT: String(port) }, url);
    workers.push(`worker-${index}`);
    workerMetricsUrls.push(url);
  }
  const apis: ScaledPartName[] = [];
  const apiUrls: string[] = [];
  for (let index = 1; index <= options.apis; index++) {
    const port = await freeLoopbackPort();
    const url = `http://127.0.0.1:${port}`;
    add(`api-${index}`, 'api/main.ts', { API_PORT: String(port) }, `${url}/healthz`);
    apis.push(`api-${index}`);
    apiUrls.push(url);
  }
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: encryptedDataConverter(codecKeyring(config)),
  });
  const running = await launch(['finance', ...workers, ...apis], parts, readiness, () =>
    connection.close(),
  );
  return {
    parts,
    workers,
    apis,
    part(name) {
      const found: Service | undefined = parts[name];
      if (!found) throw new Error(`the system has no part ${name}`);
      return found;
    },
    apiUrl: apiUrls[0] ?? '',
    apiUrls,
    financeUrl,
    workerMetricsUrl: workerMetricsUrls[0] ?? '',
    // The cluster's services export their own metrics (scripts/lib/cluster.ts).
    temporalMetricsTarget: null,
    temporalAddress: config.TEMPORAL_ADDRESS,
    taskQueue: ports.taskQueue,
    ...keys,
    metricsToken: ports.metricsToken,
    client,
    ...running,
  };
}
