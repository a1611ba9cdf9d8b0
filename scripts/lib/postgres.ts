/**
 * Throwaway PostgreSQL clusters for the tests, the benchmark and the fault suite: `initdb` into a
 * temporary folder, listening on 127.0.0.1 on a free port, no fsync (the data dies with the run).
 * A cluster can be stopped and started again on the same port and data (the fault suite's
 * database outage).
 *
 * As a command, for `scripts/test.sh`:
 *   node --import tsx scripts/lib/postgres.ts start      prints `export TEST_POSTGRES_URL=… PG_TEST_DIR=…`
 *   node --import tsx scripts/lib/postgres.ts stop DIR   stops the cluster and removes DIR
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort } from '../../worker/metricsServer';

const run = promisify(execFile);

export interface PostgresCluster {
  /** `postgres://orders[:password]@127.0.0.1:<port>/postgres` */
  url: string;
  dir: string;
  /** Stops the server (fast shutdown: open connections are cut), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

/** The newest installed PostgreSQL's bin folder (Debian keeps them under /usr/lib/postgresql). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(join(root, name, 'bin/pg_ctl')))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  if (!newest)
    throw new Error('PostgreSQL is not installed: run `npm run provision -- --postgres`');
  return join(root, newest, 'bin');
}

const asRoot = process.getuid?.() === 0;

/** PostgreSQL refuses to run as root; on a root shell it runs as the `postgres` system user. */
async function asOwner(command: string, args: string[]): Promise<void> {
  const [file, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, args];
  await run(file, argv, { timeout: 60_000 });
}

export async function createPostgresCluster(
  options: { password?: string; dir?: string } = {},
): Promise<PostgresCluster> {
  const bin = binDir();
  if (options.dir && existsSync(join(options.dir, 'data', 'PG_VERSION'))) {
    return reopen(bin, options.dir, options.password);
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'orders-pg-'));
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'data');
  const port = await freeLoopbackPort();
  if (asRoot) await run('chown', ['postgres:postgres', dir]);

  const initdb = ['-D', data, '-U', 'orders', '-E', 'UTF8'];
  if (options.password) {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
    if (asRoot) await run('chown', ['postgres:postgres', pwfile]);
    initdb.push('--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256');
  } else {
    initdb.push('--auth=trust');
  }
  await asOwner(join(bin, 'initdb'), initdb);
  // In the cluster's own configuration, so a plain `pg_ctl start` brings it back the same way.
  const settings = {
    port,
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dir}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: 200,
  };
  // Appending keeps the file's owner (postgres).
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    Object.entries(settings)
      .map(([key, value]) => `${key} = ${value}\n`)
      .join(''),
    { flag: 'a' },
  );

  // A persistent cluster is opened again on the same port: clients keep their URL.
  writeFileSync(join(dir, 'port'), `${port}\n`);
  return running(bin, dir, port, options.password);
}

/** Starts a cluster `createPostgresCluster` made in `dir` before (`npm run cluster`'s data). */
async function reopen(bin: string, dir: string, password?: string): Promise<PostgresCluster> {
  const port = Number(readFileSync(join(dir, 'port'), 'utf8').trim());
  return running(bin, dir, port, password);
}

async function running(
  bin: string,
  dir: string,
  port: number,
  password?: string,
): Promise<PostgresCluster> {
  const data = join(dir, 'data');
  const pgCtl = join(bin, 'pg_ctl');
  const start = () =>
    asOwner(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  const stop = () => asOwner(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
  await start();

  const credentials = password ? `orders:${encodeURIComponent(password)}` : 'orders';
  return {
    url: `postgres://${credentials}@127.0.0.1:${port}/postgres`,
    dir,
    start,
    stop,
    async destroy() {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `stop DIR` from the command line: the cluster of a `start` in another process. */
async function destroyFolder(dir: string): Promise<void> {
  if (existsSync(join(dir, 'data'))) {
    await asOwner(join(binDir(), 'pg_ctl'), [
      '-D',
      join(dir, 'data'),
      '-m',
      'immediate',
      'stop',
    ]).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) {
  const [command, dir] = process.argv.slice(2);
  const done =
    command === 'start'
      ? createPostgresCluster().then((cluster) => {
          console.log(`export TEST_POSTGRES_URL='${cluster.url}' PG_TEST_DIR='${cluster.dir}'`);
        })
      : command === 'stop' && dir
        ? destroyFolder(dir)
        : Promise.reject(new Error('usage: postgres.ts start | stop DIR'));
  done.catch((error: unknown) => {
    console.error(`[postgres] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
