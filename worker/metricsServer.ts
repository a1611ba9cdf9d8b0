/**
 * The worker's `/metrics`: our counters and histograms, followed by the Temporal SDK's own worker
 * metrics (task slots, pollers, schedule-to-start latency), which its Runtime serves on a private
 * loopback port. One scrape target per worker process. Its `/healthz` answers the worker's health
 * check (worker/health.ts): 200 when healthy, 503 with the failing parts otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import type { WorkerHealth } from './health';

/** The running `/metrics` and `/healthz` server. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** A loopback port nothing listens on right now, for the SDK Runtime's metrics endpoint. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function sdkMetrics(url: string, log: Logger): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok ? await response.text() : '';
  } catch (error) {
    log.warn('Temporal SDK metrics unavailable', { error: (error as Error).message });
    return '';
  }
}

/** Serves `/metrics` and `/healthz` on `host:port` (port 0: any free port). */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  sdkMetricsUrl: string | null;
  health: () => Promise<WorkerHealth>;
  log: Logger;
}): Promise<MetricsServer> {
  const { registry, sdkMetricsUrl, health, log } = options;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/healthz')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'try GET /metrics' } }));
      return;
    }
    if (req.url === '/healthz') {
      health().then(
        (report) => {
          res.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(report));
        },
        (error: unknown) => {
          log.error('health check crashed', { error });
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'unhealthy' }));
        },
      );
      return;
    }
    void Promise.all([registry.metrics(), sdkMetricsUrl ? sdkMetrics(sdkMetricsUrl, log) : ''])
      .then(([ours, sdk]) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(`${ours}\n${sdk}`);
      })
      .catch((error: unknown) => {
        log.error('metrics collection failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics collection failed');
      });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
