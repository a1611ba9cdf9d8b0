/** Runs the simulated finance package: `npm run finance`. */
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type Config } from '../domain/config';
import { createLogger } from '../observability/logger';
import { createFinanceApp } from './app';

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

const config = loadConfigOrExit();
const logger = createLogger({ service: 'finance', level: config.LOG_LEVEL });
const { app } = createFinanceApp({ timeZone: config.FINANCE_TIMEZONE, logger });

const server = app.listen(config.FINANCE_PORT, config.FINANCE_HOST, (error) => {
  if (error) {
    logger.error('finance package could not listen', { error: error.message });
    process.exit(1);
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address; // IPv6 needs brackets in a URL
  logger.info('finance package listening', {
    url: `http://${host}:${port}`,
    timeZone: config.FINANCE_TIMEZONE,
  });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info('finance package stopping', { signal });
    server.close();
    // Hung and slow payment calls must not hold up the shutdown; the state is in memory anyway.
    server.closeAllConnections();
  });
}
