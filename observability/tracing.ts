/**
 * OpenTelemetry tracing: one trace per order, from the API request through the workflow start,
 * the workflow run, each activity attempt and the finance call, into the finance package's own
 * server span (W3C `traceparent`). Spans are exported over OTLP/HTTP when an endpoint is
 * configured; without one they are still created, so log lines carry trace ids.
 *
 * Workflow spans are made inside the workflow sandbox by interceptors that double the workflow
 * bundle, and every new workflow pays for loading them: the benchmark measured about 40% fewer
 * orders per second with them (docs/benchmarks.md). They are only worth it when spans leave the
 * process, so without an exporter the workers trace activities only.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryPlugin,
} from '@temporalio/interceptors-opentelemetry';
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerPlugin } from '@temporalio/worker';

export interface TracingOptions {
  serviceName: string;
  serviceNamespace?: string;
  /** OTLP/HTTP base URL (e.g. http://collector:4318); spans go to `<endpoint>/v1/traces`. */
  endpoint?: string | undefined;
  /** Tests pass their own (an in-memory exporter behind a simple processor). */
  spanProcessor?: SpanProcessor;
}

export interface Tracing {
  /** Client, activity and workflow interceptors plus the workflow span sink, for Temporal. */
  temporalPlugin: OpenTelemetryPlugin;
  /** What workers use: `temporalPlugin` when spans are exported, activity tracing only if not. */
  workerPlugin: WorkerPlugin;
  /** Whether `workerPlugin` traces inside workflows (a prebuilt bundle must then carry it). */
  workflowSpans: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for this process. Call it before the modules it instruments (http, express,
 * pg) are loaded; fetch (undici) is instrumented through diagnostics channels either way.
 */
export function startTracing(options: TracingOptions): Tracing {
  const resource = new Resource({
    'service.name': options.serviceName,
    'service.namespace': options.serviceNamespace ?? 'orders',
  });
  const spanProcessor =
    options.spanProcessor ??
    (options.endpoint
      ? new BatchSpanProcessor(
          new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }),
        )
      : new NoopSpanProcessor());
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [spanProcessor],
    instrumentations: [
      new HttpInstrumentation(),
      new ExpressInstrumentation(),
      new PgInstrumentation(),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  const temporalPlugin = new OpenTelemetryPlugin({ resource, spanProcessor });
  const exporting = options.spanProcessor !== undefined || options.endpoint !== undefined;
  return {
    temporalPlugin,
    workerPlugin: exporting
      ? temporalPlugin
      : new SimplePlugin({
          name: 'ActivityTracing',
          workerInterceptors: {
            activity: [
              (ctx) => ({
                inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
                outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
              }),
            ],
          },
        }),
    workflowSpans: exporting,
    // An unreachable collector must not turn a graceful stop into a failed one (exit 1): the
    // unflushed spans are lost either way, and the process has done its work.
    shutdown: () =>
      sdk.shutdown().catch((error: unknown) => {
        console.warn(
          `tracing: spans not flushed at shutdown (${error instanceof Error ? error.message : String(error)})`,
        );
      }),
  };
}
