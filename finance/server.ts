/** Runs the finance package on FINANCE_HOST:FINANCE_PORT until SIGINT/SIGTERM. */
import type { AddressInfo } from 'node:net';
import type { Config } from '../domain/config';
import { createLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import { createFinanceApp } from './app';

export function runFinance(config: Config, tracing: Tracing): void {
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
      server.close(() => void tracing.shutdown());
      // Hung and slow payment calls must not hold up the shutdown; the state is in memory anyway.
      server.closeAllConnections();
    });
  }
}
