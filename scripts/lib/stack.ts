/**
 * The whole system as separate processes on free loopback ports — the Temporal dev server (its
 * database in a file, so it survives a restart), the finance simulator, the worker and the API —
 * each started from its real entry point, for the benchmark and the fault suite. Any part can be
 * stopped, SIGKILLed and started again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../clients/temporal';
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

export interface Stack {
  parts: Record<PartName, Service>;
  apiUrl: string;
  financeUrl: string;
  workerMetricsUrl: string;
  /** `host:port` of the Temporal server's /metrics, when `temporalMetrics` asked for it. */
  temporalMetricsTarget: string | null;
  temporalAddress: string;
  taskQueue: string;
  operatorToken: string;
  /** A client of the dev server; it reconnects by itself after a server restart. */
  client: Client;
  /** Starts a stopped part again and waits until it answers. */
  restart(part: PartName): Promise<void>;
  /** Parts that exited without being asked to (a crash), in order. */
  unexpectedExits: string[];
  /** Every log file, for the secrets check. */
  logFiles(): string[];
  stop(): Promise<void>;
}

const START_ORDER: PartName[] = ['temporal', 'finance', 'worker', 'api'];

export async function startStack(options: StackOptions): Promise<Stack> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const grpc = await freeLoopbackPort();
  const finance = await freeLoopbackPort();
  const api = await freeLoopbackPort();
  const workerMetrics = await freeLoopbackPort();
  const temporalMetrics = options.temporalMetrics ? await freeLoopbackPort() : undefined;
  const temporalAddress = `127.0.0.1:${grpc}`;
  const taskQueue = `orders-${randomBytes(4).toString('hex')}`;
  const operatorToken = randomBytes(24).toString('base64url');
  const urls = {
    api: `http://127.0.0.1:${api}`,
    finance: `http://127.0.0.1:${finance}`,
    workerMetrics: `http://127.0.0.1:${workerMetrics}/metrics`,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    FINANCE_URL: urls.finance,
    FINANCE_PORT: String(finance),
    API_PORT: String(api),
    WORKER_METRICS_PORT: String(workerMetrics),
    OPERATOR_TOKEN: operatorToken,
    // One load client posts everything from one address.
    ORDER_RATE_LIMIT_PER_MINUTE: '1000000',
    ...options.env,
  };
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

  const unexpectedExits: string[] = [];
  for (const part of Object.values(parts)) {
    part.onUnexpectedExit = (code, signal) =>
      unexpectedExits.push(`${part.name} exited by itself (${signal ?? `code ${code}`})`);
  }
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
        connected.client = new Client({ connection });
      }
      return true;
    },
    finance: () => httpOk(`${urls.finance}/healthz`),
    worker: () => httpOk(urls.workerMetrics),
    api: () => httpOk(`${urls.api}/healthz`),
  };

  async function restart(part: PartName): Promise<void> {
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
    for (const name of [...START_ORDER].reverse()) await parts[name].stop();
    await connected.client?.connection.close();
  }

  try {
    for (const name of START_ORDER) await restart(name);
  } catch (error) {
    await stop();
    throw error;
  }
  const { client } = connected;
  if (!client) throw new Error('no Temporal client');
  return {
    parts,
    apiUrl: urls.api,
    financeUrl: urls.finance,
    workerMetricsUrl: urls.workerMetrics,
    temporalMetricsTarget: temporalMetrics === undefined ? null : `127.0.0.1:${temporalMetrics}`,
    temporalAddress,
    taskQueue,
    operatorToken,
    client,
    restart,
    unexpectedExits,
    logFiles: () => START_ORDER.map((name) => parts[name].spec.logFile),
    stop,
  };
}
