/**
 * The whole configuration, as one schema over environment variables. Every entry point parses it
 * once at start-up; a bad value stops the process with a message naming the variable.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { parseCodecKeys } from './codec-keys';
import { parseDuration } from './time';
import { PAYMENT_START_TO_CLOSE_MS } from './temporal';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration like 500ms, 10s, 5m, 7d (got "${text}")`,
        });
        return z.NEVER;
      }
      return ms;
    });

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const timeZone = z
  .string()
  .default('Europe/London')
  .refine(
    (zone) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be an IANA time zone such as Europe/London' },
  );

/** A path to a PEM file the process can read: a typo fails at start-up, not at the first call. */
const readableFile = z.string().superRefine((path, ctx) => {
  try {
    accessSync(path, constants.R_OK);
    if (statSync(path).isFile()) return;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: `must be a readable file (got "${path}")` });
});

export const configSchema = z.object({
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** `sqlite:<file>` (default), `postgres://…`, or `mssql://…` (SQL Server through tedious). */
  DATABASE_URL: z
    .string()
    .default('sqlite:.data/orders.sqlite')
    .refine((url) => /^(sqlite:|postgres(ql)?:\/\/|mssql:\/\/)/.test(url), {
      message: 'must start with sqlite:, postgres:// or mssql://',
    }),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('orders'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
  /**
   * Secured connections to Temporal (a cluster with mTLS, or Temporal Cloud); any of them turns
   * TLS on. CA: the PEM that signed the frontend's certificate (unset: the system's roots); CERT
   * and KEY: the client certificate for mTLS, always both; SERVER_NAME: the name the frontend's
   * certificate is checked against when it is not TEMPORAL_ADDRESS's host; API_KEY: sent as a
   * bearer token (Temporal Cloud's API keys).
   */
  TEMPORAL_TLS_CA: readableFile.optional(),
  TEMPORAL_TLS_CERT: readableFile.optional(),
  TEMPORAL_TLS_KEY: readableFile.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /**
   * AES-256-GCM keys for what the service stores in Temporal (clients/codec.ts): `<id>:<base64 of
   * 32 bytes>`, comma-separated. Every key decrypts; TEMPORAL_CODEC_KEY_ID (default: the first)
   * encrypts. Required by the worker and the API; `npm start` keeps a development key in `.data/`.
   */
  TEMPORAL_CODEC_KEYS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      try {
        return parseCodecKeys(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  TEMPORAL_CODEC_KEY_ID: z.string().min(1).optional(),
  FINANCE_URL: z.url().default('http://127.0.0.1:3001'),
  /**
   * The finance package wants dates in its own local time: a UTC date from a client in another
   * zone is refused (docs/background.md).
   */
  FINANCE_TIMEZONE: timeZone,
  /** HTTP timeout of one payment call; shorter than the activity's start-to-close timeout. */
  FINANCE_TIMEOUT: duration('10s').refine((ms) => ms > 0 && ms < PAYMENT_START_TO_CLOSE_MS, {
    message: `must be above 0 and shorter than the payment activity's ${PAYMENT_START_TO_CLOSE_MS / 1000}s start-to-close timeout`,
  }),
  FINANCE_HOST: z.string().default('127.0.0.1'),
  FINANCE_PORT: port(3001),
  /** Attempts per payment round before an order is marked failed. */
  PAYMENT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(10),
  /** Payment activities started per second across the task queue; 0 = unlimited. */
  PAYMENT_RATE_PER_SECOND: z.coerce.number().min(0).default(0),
  /** How long a failed order's workflow waits for an operator's retry or cancel. */
  FAILED_ORDER_WAIT: duration('7d'),
  /** Orders a bulk action acts on per second, unless the operator gives the batch its own rate. */
  BULK_RATE_PER_SECOND: z.coerce.number().positive().max(100).default(10),
  /** How long the worker lets in-flight activities finish on SIGTERM before cancelling them. */
  WORKER_SHUTDOWN_GRACE: duration('10s'),
  /**
   * Workflows one worker process keeps in memory between their tasks; unset, the SDK's default
   * (sized from the heap limit). A smaller cache bounds memory in a small container, at the price
   * of a replay for every evicted workflow's next task (docs/benchmarks.md measured 500).
   */
  WORKER_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(100_000).optional(),
  /**
   * How long a read of the feature toggles is reused (`FeatureToggleService`): an operator's flip
   * reaches every process within this time, and the database sees one read per window.
   */
  FEATURE_CACHE_TTL: duration('2s').refine((ms) => ms <= 60_000, {
    message: 'must be at most 1m, so a flipped toggle takes effect within a minute',
  }),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port(3000),
  /**
   * Express's `trust proxy`: off by default (the client address is the socket's). Behind a
   * reverse proxy set it to the proxy's hops (`1`), addresses or subnets (`loopback`,
   * `10.0.0.0/8`), so the failure limits key on each client's address, not the proxy's.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((text): boolean | number | string => {
      if (text === 'false') return false;
      if (text === 'true') return true;
      return /^\d+$/.test(text) ? Number(text) : text;
    }),
  /**
   * The first admin's password, used only while the database has no admin (deployments set it;
   * unset, a random one is generated and printed once).
   */
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  /** Bearer token Prometheus scrapes `/metrics` with; unset: only a viewer (or above) key may. */
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How long a dashboard sign-in lasts. */
  SESSION_TTL: duration('12h').refine((ms) => ms >= 60_000, { message: 'must be at least 1m' }),
  /**
   * Failed credential checks per client address per minute; past it, that address's sign-ins
   * and further failures get 429 for the rest of the minute. A valid key or session still works.
   */
  AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /**
   * Wrong passwords per username in 15 minutes, from all addresses together; past it, that user
   * can sign in only from an address they signed in from before (docs/security.md).
   */
  SIGN_IN_FAILURES_PER_USER: z.coerce.number().int().min(1).default(10),
  /** Order creations per client per minute before the API answers 429. */
  ORDER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /**
   * The launcher's lease on an outbox entry: an order whose launch was claimed but not recorded
   * this long ago (its API process died) is claimed again.
   */
  RECONCILE_AFTER: duration('30s'),
  /** How often an idle launcher looks at the outbox (it is woken at once by its own orders). */
  RECONCILE_EVERY: duration('2s'),
  /** Outbox entries one launcher pass claims. */
  LAUNCH_BATCH: z.coerce.number().int().min(1).max(1000).default(100),
  /** Workflow starts one launcher has in flight at a time. */
  LAUNCH_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(16),
  /**
   * The dashboard's load generator ("Monitoring load"): orders per second and for how long. One a
   * second outruns a worker with PAYMENT_RATE_PER_SECOND=0.5, so the queue visibly grows.
   */
  LOAD_RATE_PER_SECOND: z.coerce.number().positive().max(100).default(1),
  LOAD_DURATION: duration('10m').refine((ms) => ms > 0, { message: 'must be above 0' }),
  /**
   * Ceiling of any load the dashboard starts, and the top of the "System monitoring" ramp. Keep
   * it under ORDER_RATE_LIMIT_PER_MINUTE / 60: the generator posts from the API's own address.
   */
  LOAD_MAX_RATE_PER_SECOND: z.coerce.number().positive().max(100).default(8),
  /** "System monitoring" adds LOAD_RATE_PER_SECOND to the load this often. */
  LOAD_RAMP_EVERY: duration('1m').refine((ms) => ms > 0, { message: 'must be above 0' }),
  /**
   * The dashboard's demo tools (scenarios, load generator, finance simulator controls, api/demo):
   * off unless `on`. `npm start` turns them on; a deployment leaves them off.
   */
  DEMO_SCENARIOS: z.enum(['on', 'off']).default('off'),
  /** Port of the worker's Prometheus `/metrics` (the API serves its own on API_PORT). */
  WORKER_METRICS_PORT: port(9464),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** Storage quota of the database, for the "storage almost full" alert; unset = no quota gauge. */
  DATABASE_QUOTA_BYTES: z.coerce.number().int().positive().optional(),
  /**
   * OTLP/HTTP endpoint for traces (Jaeger, Tempo, an OpenTelemetry Collector). Unset: spans are
   * still created for log correlation, but nothing is exported.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAMESPACE: z.string().default('orders'),
});

/**
 * A certificate without its key (or the reverse) cannot make an mTLS handshake; the current codec
 * key must be one of the listed keys.
 */
const withTlsPair = configSchema.superRefine((config, ctx) => {
  const keyId = config.TEMPORAL_CODEC_KEY_ID;
  if (keyId !== undefined && !config.TEMPORAL_CODEC_KEYS?.some((entry) => entry.id === keyId)) {
    ctx.addIssue({
      code: 'custom',
      path: ['TEMPORAL_CODEC_KEY_ID'],
      message: `names no key in TEMPORAL_CODEC_KEYS (got "${keyId}")`,
    });
  }
  const pair = ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] as const;
  for (const [present, missing] of [pair, [pair[1], pair[0]]] as const) {
    if (config[present] !== undefined && config[missing] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: `must be set together with ${present}`,
      });
    }
  }
});

export type Config = z.infer<typeof configSchema>;
export type ConfigVariable = keyof Config;

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "not set", as they do for most tools that read the environment.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = withTlsPair.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(config)'),
      message: issue.message,
    })),
  );
}

/** For entry points: the config, or a one-line message naming the bad variables and exit 1. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
