/**
 * Structured logs: one JSON object per line, with ids as fields (never interpolated into the
 * message) so a log query can filter on them. Readable colours when a person watches a terminal.
 */
import { trace } from '@opentelemetry/api';
import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Defaults to pretty output on a terminal, JSON otherwise. */
  pretty?: boolean;
  /** Silences output (tests that assert on behaviour, not on logs). */
  silent?: boolean;
  /** Writes JSON lines here instead of the console (tests that assert on logs). */
  destination?: NodeJS.WritableStream;
}

/** Adds the active span's ids, so a log line leads to its trace and back. */
const traceIds = winston.format((info) => {
  const context = trace.getActiveSpan()?.spanContext();
  if (context && context.traceFlags !== 0) {
    info.trace_id = context.traceId;
    info.span_id = context.spanId;
  }
  return info;
});

const pretty = winston.format.printf(({ level, message, timestamp, service, ...fields }) => {
  const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  return `${String(timestamp)} ${String(service)} ${level}: ${String(message)}${rest}`;
});

export function createLogger(options: LoggerOptions): Logger {
  const usePretty = options.pretty ?? (!options.destination && Boolean(process.stdout.isTTY));
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: { service: options.service },
    format: winston.format.combine(
      traceIds(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      usePretty ? winston.format.combine(winston.format.colorize(), pretty) : winston.format.json(),
    ),
    transports: [
      options.destination
        ? new winston.transports.Stream({ stream: options.destination })
        : new winston.transports.Console(),
    ],
  });
}
