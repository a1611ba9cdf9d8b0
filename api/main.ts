/**
 * API entry point. Tracing starts before Express, http and pg are loaded, so a request's server
 * span is the root of its order's trace (through the workflow start into the worker).
 */
import { loadConfigOrExit } from '../domain/config';
import { startTracing } from '../observability/tracing';

const config = loadConfigOrExit();
const tracing = startTracing({
  serviceName: 'api',
  serviceNamespace: config.OTEL_SERVICE_NAMESPACE,
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import('./run')
  .then(({ runApi }) => runApi(config, tracing))
  .catch((error: unknown) => {
    console.error('api failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
