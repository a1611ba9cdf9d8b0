/**
 * Start-up supervisor for `npm start`: the Temporal dev server (with its Web UI), the finance
 * simulator, the worker and the API, on embedded defaults. It waits for each part to be ready,
 * prints where to look, and stops everything when one part dies or on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ensureSearchAttributes } from '../clients/temporal';
import { ConfigError, loadConfig, type Config } from '../domain/config';

const ROOT = resolve(__dirname, '..');
const DATA = join(ROOT, '.data');
const LOGS = join(DATA, 'logs');
const TEMPORAL_CLI = join(ROOT, '.tools/bin/temporal');

interface Part {
  name: string;
  child: ChildProcess;
  logFile: string;
}

const parts: Part[] = [];
let stopping = false;

function say(message: string): void {
  console.log(`[start] ${message}`);
}

function lastLines(file: string, count = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no log)';
  }
}

function launch(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Part {
  const logFile = join(LOGS, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const part = { name, child, logFile };
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(
      `[start] ${name} exited (${signal ?? `code ${code}`}); last lines of ${logFile}:`,
    );
    console.error(lastLines(logFile));
    void stopAll(1);
  });
  parts.push(part);
  return part;
}

async function stopAll(exitCode: number): Promise<never> {
  stopping = true;
  // Reverse order: the API and worker go first, the Temporal server last.
  for (const { name, child } of [...parts].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    say(`stopping ${name}`);
    child.kill('SIGTERM');
    const exited = new Promise((done) => child.once('exit', done));
    if ((await Promise.race([exited, sleep(15_000, 'timeout')])) === 'timeout')
      child.kill('SIGKILL');
  }
  process.exit(exitCode);
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (stopping) await new Promise(() => undefined); // the exit handler is already shutting down
    if (Date.now() > deadline)
      throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return response.ok;
}

function hostPort(address: string): { host: string; port: number } {
  const url = new URL(`grpc://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

async function startTemporal(config: Config): Promise<Client> {
  const { host, port } = hostPort(config.TEMPORAL_ADDRESS);
  const uiPort = new URL(config.TEMPORAL_UI_URL).port;
  for (const [what, p] of [
    ['Temporal gRPC', port],
    ['Temporal UI', Number(uiPort)],
  ] as const) {
    if (await portInUse(host, p)) {
      throw new Error(
        `${what} port ${host}:${p} is already in use: is another \`npm start\` running?`,
      );
    }
  }
  launch(
    'temporal',
    TEMPORAL_CLI,
    [
      'server',
      'start-dev',
      '--ip',
      host,
      '--port',
      String(port),
      '--ui-port',
      uiPort,
      '--db-filename',
      join(DATA, 'temporal.db'),
      '--namespace',
      config.TEMPORAL_NAMESPACE,
      '--log-level',
      'warn',
    ],
    process.env,
  );
  let connection: Connection | undefined;
  await until('the Temporal dev server', async () => {
    connection = await Connection.connect({
      address: config.TEMPORAL_ADDRESS,
      connectTimeout: 1000,
    });
    await connection.workflowService.getSystemInfo({});
    return true;
  });
  if (!connection) throw new Error('no Temporal connection');
  const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  if (added.length > 0) say(`registered search attributes: ${added.join(', ')}`);
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

async function workerPolling(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers?.length ?? 0) > 0;
}

async function main(): Promise<void> {
  const token = process.env.OPERATOR_TOKEN || randomBytes(24).toString('base64url');
  const env = { ...process.env, OPERATOR_TOKEN: token };
  const config = loadConfig(env);
  mkdirSync(LOGS, { recursive: true });
  const node = (file: string) => ['--import', 'tsx', file];

  say('starting the Temporal dev server');
  const client = await startTemporal(config);

  say('starting the finance simulator');
  launch('finance', process.execPath, node('finance/main.ts'), env);
  await until('the finance simulator', () => httpOk(new URL('/healthz', config.FINANCE_URL).href));

  say('starting the worker');
  launch('worker', process.execPath, node('worker/main.ts'), env);
  await until('the worker', () => workerPolling(client, config.TEMPORAL_TASK_QUEUE));

  say('starting the API');
  launch('api', process.execPath, node('api/main.ts'), env);
  const api = `http://${config.API_HOST}:${config.API_PORT}`;
  await until('the API', () => httpOk(`${api}/healthz`));

  console.log(`
  Order processing is running.

    Dashboard & API    ${api}            (API reference: docs/api.md)
    Temporal Web UI    ${config.TEMPORAL_UI_URL}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows
    Finance simulator  ${config.FINANCE_URL}      (PUT /mode to make it flaky, down or slow)
    Operator token     ${token}
    Database           ${config.DATABASE_URL}
    Logs               ${LOGS}/{temporal,finance,worker,api}.log

  Place an order:
    curl -X POST ${api}/api/orders -H 'content-type: application/json' \\
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
