/**
 * Worker entry point. Tracing starts before anything it instruments is loaded, so the rest of the
 * worker is imported only afterwards.
 */
import { loadConfigOrExit } from '../domain/config';
import { startTracing } from '../observability/tracing';

const config = loadConfigOrExit();
const tracing = startTracing({
  serviceName: 'worker',
  serviceNamespace: config.OTEL_SERVICE_NAMESPACE,
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import('./run')
  .then(({ runWorker }) => runWorker(config, tracing))
  .catch((error: unknown) => {
    console.error('worker failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
