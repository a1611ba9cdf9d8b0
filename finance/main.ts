/**
 * Entry point of the simulated finance package. Tracing starts before Express is loaded, so its
 * server spans join the callers' traces (W3C traceparent).
 */
import { loadConfigOrExit } from '../domain/config';
import { startTracing } from '../observability/tracing';

const config = loadConfigOrExit();
const tracing = startTracing({
  serviceName: 'finance',
  serviceNamespace: config.OTEL_SERVICE_NAMESPACE,
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import('./server')
  .then(({ runFinance }) => runFinance(config, tracing))
  .catch((error: unknown) => {
    console.error('finance package failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
