/**
 * The API process: logging, the database, a Temporal client, the HTTP server and the launcher;
 * a graceful stop on SIGINT/SIGTERM. Temporal may be down at start: orders are still accepted and
 * the launcher starts their workflows once it is back. `main.ts` starts tracing first.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { codecKeyring, encryptedDataConverter } from '../clients/codec';
import { lazyTemporalClient } from '../clients/temporal';
import { openDatabase, type Database } from '../db';
import { ensureFirstAdmin } from '../db/credentials';
import type { Config } from '../domain/config';
import { createLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import { createApiApp, type ApiHooks } from './app';
import { startLauncher } from './launcher';
import { apiMetrics } from './metrics';

/** In-flight requests get this long to finish on SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Test-only fault injection, read from the environment on purpose (not part of the config
 * schema): `API_FAULT_CRASH_AFTER_INSERT=1` kills the process right after an order's row is
 * written, before the API answers: the outbox entry written with it must still get its workflow.
 */
function faultHooks(env: NodeJS.ProcessEnv): ApiHooks {
  if (env.API_FAULT_CRASH_AFTER_INSERT !== '1') return {};
  return { afterOrderInsert: () => process.kill(process.pid, 'SIGKILL') };
}

/** Prints, once, how to sign in as the admin a database without one just got. */
async function firstAdmin(db: Database, url: string, password?: string): Promise<void> {
  const created = await ensureFirstAdmin(db.credentials, password);
  if (!created) return;
  if (!created.generated) {
    console.log(`First admin "${created.username}" created with ADMIN_PASSWORD`);
    return;
  }
  console.log(
    `First admin created: sign in at ${url} as "${created.username}" with password ` +
      `${created.password} (shown once; \`npm run users -- help\` adds users and API keys)`,
  );
}

function urlOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** Runs the API until SIGINT/SIGTERM. */
export async function runApi(config: Config, tracing: Tracing): Promise<void> {
  const log = createLogger({ service: 'api', level: config.LOG_LEVEL });
  // Before anything starts: without its keys the API could not read or start an order's workflow.
  const keyring = codecKeyring(config);
  const dataConverter = encryptedDataConverter(keyring);
  const db = await openDatabase(config.DATABASE_URL);
  const temporal = lazyTemporalClient(config, {
    plugins: [tracing.temporalPlugin],
    dataConverter,
  });
  const base = { db, temporal, config, log };
  const deps = { ...base, metrics: apiMetrics(base) };
  const launcher = startLauncher(deps);
  const app = createApiApp({ ...deps, launcher, hooks: faultHooks(process.env) });

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.API_PORT, config.API_HOST, (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const url = urlOf(server);
  console.log(`API listening on ${url}`);
  await firstAdmin(db, url, config.ADMIN_PASSWORD);
  log.info('api started', {
    url,
    database: db.dialect,
    temporal: config.TEMPORAL_ADDRESS,
    codecKeyId: keyring.currentKeyId,
  });

  const stop = async (signal: string): Promise<void> => {
    log.info('api stopping', { signal });
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(force);
    await launcher.stop();
    await temporal.connection.close();
    await db.close();
    await tracing.shutdown();
    log.info('api stopped');
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('api failed to stop cleanly:', error);
          process.exit(1);
        },
      );
    });
  }
}
