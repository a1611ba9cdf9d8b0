/**
 * How the project runs Temporal's dev server (`temporal server start-dev`, built by provision.sh):
 * shared by `npm start`, the benchmark and the fault suite.
 */
import { join, resolve } from 'node:path';

export const TEMPORAL_CLI = join(resolve(__dirname, '../..'), '.tools/bin/temporal');

/**
 * The dev server keeps its state in SQLite. Out of the box each write is a rollback-journal
 * transaction with a full fsync; write-ahead logging with `synchronous=NORMAL` syncs only at
 * checkpoints, which the benchmark measured at about 4× the workflows per second
 * (docs/benchmarks.md). A crash of the server process loses nothing in this mode; only a power
 * loss can take back the last transactions.
 */
export const SQLITE_PRAGMAS = ['journal_mode=WAL', 'synchronous=NORMAL'];

export interface DevServerOptions {
  ip: string;
  port: number;
  /** The SQLite file; the server's state survives restarts. */
  dbFile: string;
  /** Web UI port; none: headless. */
  uiPort?: number;
  namespace?: string;
  /** Serves the server's own Prometheus metrics on this port at /metrics; none: off. */
  metricsPort?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** The API's codec endpoint, for the Web UI to decode the encrypted payloads; none: off. */
  uiCodecEndpoint?: string;
}

export function devServerArgs(options: DevServerOptions): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    options.ip,
    '--port',
    String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    '--db-filename',
    options.dbFile,
    ...SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma]),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    options.logLevel ?? 'warn',
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
    ...(options.uiCodecEndpoint === undefined
      ? []
      : ['--ui-codec-endpoint', options.uiCodecEndpoint]),
  ];
}
