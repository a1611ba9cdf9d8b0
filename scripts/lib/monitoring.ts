/**
 * Prometheus, Alertmanager and the alert receiver as local processes on loopback ports, for
 * `npm start -- --monitoring` and the live alert test. Their configs are generated from the
 * project's own `observability/prometheus/prometheus.yml`, `alerts.yml` and
 * `observability/alertmanager/alertmanager.yml`: only the scrape targets, the Alertmanager
 * address, the webhook URLs and (for tests) the intervals and durations are replaced.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { NotificationRecord } from '../../observability/receiver/receiver';
import { freeLoopbackPort } from '../../worker/metricsServer';
import { httpOk, Service, tsxArgs, until } from './processes';

const ROOT = resolve(__dirname, '../..');
const TOOLS = join(ROOT, '.tools');
export const PROMETHEUS_BIN = join(TOOLS, 'bin/prometheus');
export const ALERTMANAGER_BIN = join(TOOLS, 'bin/alertmanager');
const PROMETHEUS_ASSETS = join(TOOLS, 'share/prometheus/web');
export const PROJECT_FILES = {
  prometheus: join(ROOT, 'observability/prometheus/prometheus.yml'),
  alerts: join(ROOT, 'observability/prometheus/alerts.yml'),
  alertmanager: join(ROOT, 'observability/alertmanager/alertmanager.yml'),
};

/** The `host:port` of each scrape job of prometheus.yml; `null` leaves a job out. */
export type ScrapeTargets = Record<string, string | null>;

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;

/** Milliseconds of a Prometheus duration such as `1h30m` or `500ms`. */
export function durationMs(text: string): number {
  if (!DURATION.test(text)) throw new Error(`not a Prometheus duration: ${text}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    total += Number(amount) * (DURATION_UNITS[unit ?? ''] ?? 0);
  }
  return total;
}

/** A duration divided by `divisor`, never below 1 ms, in the shortest exact spelling. */
export function scaleDuration(text: string, divisor: number): string {
  const ms = Math.max(1, Math.round(durationMs(text) / divisor));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A PromQL expression with its range selectors, subquery steps and offsets divided. */
export function scaleExpr(expr: string, divisor: number): string {
  const d = '\\d+(?:ms|s|m|h|d|w|y)(?:\\d+(?:ms|s|m|h|d|w|y))*';
  return expr
    .replace(
      new RegExp(`\\[(${d})(?::(${d})?)?\\]`, 'g'),
      (match: string, range: string, step: string | undefined) => {
        const colon = match.includes(':');
        const scaledStep = step ? scaleDuration(step, divisor) : '';
        return `[${scaleDuration(range, divisor)}${colon ? `:${scaledStep}` : ''}]`;
      },
    )
    .replace(
      new RegExp(`\\boffset\\s+(${d})`, 'g'),
      (_m: string, offset: string) => `offset ${scaleDuration(offset, divisor)}`,
    );
}

interface RuleFile {
  groups: { name: string; interval?: string; rules: Record<string, unknown>[] }[];
}

/**
 * The project's alerts.yml with every window, offset and `for:` divided by `divisor` (1: as
 * committed), each `for:` no shorter than `minFor`. Thresholds stay as they are: a test
 * compresses time, not the policy.
 */
export function alertRules(text: string, divisor = 1, minFor?: string): string {
  if (divisor === 1 && !minFor) return text;
  const floor = minFor ? durationMs(minFor) : 0;
  const file = parse(text) as RuleFile;
  for (const group of file.groups) {
    if (group.interval) group.interval = scaleDuration(group.interval, divisor);
    for (const rule of group.rules) {
      if (typeof rule.expr === 'string') rule.expr = scaleExpr(rule.expr, divisor);
      if (typeof rule.for === 'string') {
        const scaled = scaleDuration(rule.for, divisor);
        rule.for = durationMs(scaled) < floor && minFor ? minFor : scaled;
      }
    }
  }
  return stringify(file, { lineWidth: 0 });
}

interface ScrapeConfig {
  job_name: string;
  [key: string]: unknown;
}

/**
 * The project's prometheus.yml with local targets: every scrape job's service discovery replaced
 * by the target given for it (a job without one is an error, so a new job is not left out
 * silently), the rule file and the Alertmanager address replaced, the intervals overridable.
 */
export function prometheusConfig(
  text: string,
  options: {
    targets: ScrapeTargets;
    rulesFile: string;
    alertmanager: string;
    interval?: string;
    /** The bearer token file of each job that prometheus.yml scrapes with one (the API's). */
    credentialFiles?: Record<string, string>;
  },
): string {
  const config = parse(text) as {
    global?: Record<string, unknown>;
    scrape_configs: ScrapeConfig[];
    [key: string]: unknown;
  };
  if (options.interval) {
    config.global = {
      ...config.global,
      scrape_interval: options.interval,
      evaluation_interval: options.interval,
    };
  }
  config.rule_files = [options.rulesFile];
  config.alerting = { alertmanagers: [{ static_configs: [{ targets: [options.alertmanager] }] }] };
  const jobs: ScrapeConfig[] = [];
  for (const job of config.scrape_configs) {
    if (!(job.job_name in options.targets)) {
      throw new Error(`prometheus.yml scrapes job "${job.job_name}", which has no local target`);
    }
    const target = options.targets[job.job_name];
    if (!target) continue;
    const local: ScrapeConfig = { job_name: job.job_name };
    for (const [key, value] of Object.entries(job)) {
      if (!key.endsWith('_sd_configs') && key !== 'static_configs') local[key] = value;
    }
    if (options.interval && local.scrape_interval) local.scrape_interval = options.interval;
    if (job.authorization) {
      const file = options.credentialFiles?.[job.job_name];
      if (!file) {
        throw new Error(
          `prometheus.yml scrapes job "${job.job_name}" with a credential; give its file`,
        );
      }
      local.authorization = { ...job.authorization, credentials_file: file };
    }
    local.static_configs = [{ targets: [target] }];
    jobs.push(local);
  }
  config.scrape_configs = jobs;
  return stringify(config, { lineWidth: 0 });
}

interface Route {
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
  [key: string]: unknown;
}

/**
 * The project's alertmanager.yml sending every receiver's notifications to `webhookUrl` (its
 * other integrations left out: nothing leaves the machine), with the route's waits divided by
 * `divisor`. Routing, grouping and inhibition stay as committed.
 */
export function alertmanagerConfig(text: string, webhookUrl: string, divisor = 1): string {
  const config = parse(text) as {
    route: Route;
    receivers: { name: string; [key: string]: unknown }[];
    [key: string]: unknown;
  };
  const scaleRoute = (route: Route): void => {
    for (const key of ['group_wait', 'group_interval', 'repeat_interval'] as const) {
      const value = route[key];
      if (value) route[key] = scaleDuration(value, divisor);
    }
    for (const child of route.routes ?? []) scaleRoute(child);
  };
  if (divisor !== 1) scaleRoute(config.route);
  config.receivers = config.receivers.map((receiver) => ({
    name: receiver.name,
    webhook_configs: [{ url: webhookUrl, send_resolved: true }],
  }));
  return stringify(config, { lineWidth: 0 });
}

export interface MonitoringOptions {
  /** Configs, data and logs (`prometheus.log`, `alertmanager.log`, `receiver.log`) go here. */
  dir: string;
  /** `host:port` per scrape job: `api`, `worker`, `temporal` (null: not scraped). */
  targets: { api: string; worker: string; temporal: string | null };
  /** The API's METRICS_TOKEN, which Prometheus scrapes its `/metrics` with. */
  apiMetricsToken: string;
  /** Scrape and evaluation interval; default: prometheus.yml's. */
  interval?: string;
  /** Divides the rules' windows and `for:` and Alertmanager's waits (a test's compressed time). */
  timeDivisor?: number;
  /**
   * The shortest `for:` after dividing, so that what takes seconds here whatever the divisor (a
   * process restarting) is not taken for an outage.
   */
  minFor?: string;
  /** Fixed ports (npm start); default: free loopback ports. */
  ports?: { prometheus?: number; alertmanager?: number; receiver?: number };
  /** Where the receiver forwards each notification (RECEIVER_CHAT_WEBHOOK_URL). */
  chatWebhookUrl?: string;
}

export interface Monitoring {
  prometheusUrl: string;
  alertmanagerUrl: string;
  receiverUrl: string;
  /** The receiver's record (JSON lines). */
  notificationsFile: string;
  parts: { prometheus: Service; alertmanager: Service; receiver: Service };
  /** What the receiver has recorded so far, oldest first. */
  notifications(): Promise<NotificationRecord[]>;
  /** An instant query; each sample's labels and value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

async function portOr(fixed: number | undefined): Promise<number> {
  return fixed ?? (await freeLoopbackPort());
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Starts the receiver, Alertmanager and Prometheus (in that order) and waits until each answers. */
export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const { dir } = options;
  const divisor = options.timeDivisor ?? 1;
  mkdirSync(dir, { recursive: true });
  const ports = {
    prometheus: await portOr(options.ports?.prometheus),
    alertmanager: await portOr(options.ports?.alertmanager),
    receiver: await portOr(options.ports?.receiver),
  };
  const urls = {
    prometheus: `http://127.0.0.1:${ports.prometheus}`,
    alertmanager: `http://127.0.0.1:${ports.alertmanager}`,
    receiver: `http://127.0.0.1:${ports.receiver}`,
  };
  const files = {
    prometheus: join(dir, 'prometheus.yml'),
    alerts: join(dir, 'alerts.yml'),
    alertmanager: join(dir, 'alertmanager.yml'),
    notifications: join(dir, 'alerts.jsonl'),
    apiMetricsToken: join(dir, 'api-metrics-token'),
  };
  writeFileSync(files.apiMetricsToken, options.apiMetricsToken, { mode: 0o600 });
  writeFileSync(
    files.alerts,
    alertRules(readFileSync(PROJECT_FILES.alerts, 'utf8'), divisor, options.minFor),
  );
  writeFileSync(
    files.prometheus,
    prometheusConfig(readFileSync(PROJECT_FILES.prometheus, 'utf8'), {
      targets: {
        ...options.targets,
        prometheus: `127.0.0.1:${ports.prometheus}`,
        alertmanager: `127.0.0.1:${ports.alertmanager}`,
      },
      rulesFile: files.alerts,
      alertmanager: `127.0.0.1:${ports.alertmanager}`,
      interval: options.interval,
      credentialFiles: { api: files.apiMetricsToken },
    }),
  );
  writeFileSync(
    files.alertmanager,
    alertmanagerConfig(
      readFileSync(PROJECT_FILES.alertmanager, 'utf8'),
      `${urls.receiver}/alerts`,
      divisor,
    ),
  );

  const service = (name: string, command: string, args: string[], env = process.env) =>
    new Service({ name, command, args, env, cwd: ROOT, logFile: join(dir, `${name}.log`) });
  const parts = {
    receiver: service('receiver', process.execPath, tsxArgs('observability/receiver/main.ts'), {
      ...process.env,
      RECEIVER_HOST: '127.0.0.1',
      RECEIVER_PORT: String(ports.receiver),
      RECEIVER_FILE: files.notifications,
      ...(options.chatWebhookUrl ? { RECEIVER_CHAT_WEBHOOK_URL: options.chatWebhookUrl } : {}),
    }),
    alertmanager: service('alertmanager', ALERTMANAGER_BIN, [
      `--config.file=${files.alertmanager}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
      // Empty: no cluster gossip, which would listen on every interface.
      '--cluster.listen-address=',
      '--log.level=warn',
    ]),
    prometheus: service('prometheus', PROMETHEUS_BIN, [
      `--config.file=${files.prometheus}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
      `--web.local-assets=${PROMETHEUS_ASSETS}`,
      // Firing alerts are sent again this often; compressed time needs it shorter than 1 m.
      `--rules.alert.resend-delay=${scaleDuration('1m', divisor)}`,
      '--log.level=warn',
    ]),
  };
  const ready = {
    receiver: () => httpOk(`${urls.receiver}/healthz`),
    alertmanager: () => httpOk(`${urls.alertmanager}/-/ready`),
    prometheus: () => httpOk(`${urls.prometheus}/-/ready`),
  };

  async function stop(): Promise<void> {
    for (const name of ['prometheus', 'alertmanager', 'receiver'] as const) {
      await parts[name].stop(5000);
    }
  }

  try {
    for (const name of ['receiver', 'alertmanager', 'prometheus'] as const) {
      parts[name].start();
      await until(`${name}`, ready[name], { timeoutMs: 60_000 }).catch((error: Error) => {
        throw new Error(`${error.message}; last lines of its log:\n${parts[name].tail()}`);
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    prometheusUrl: urls.prometheus,
    alertmanagerUrl: urls.alertmanager,
    receiverUrl: urls.receiver,
    notificationsFile: files.notifications,
    parts,
    notifications: async () =>
      (await getJson<{ notifications: NotificationRecord[] }>(`${urls.receiver}/notifications`))
        .notifications,
    query: async (promql) => {
      const answer = await getJson<{
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      }>(`${urls.prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
      return answer.data.result.map((sample) => ({
        metric: sample.metric,
        value: Number(sample.value[1]),
      }));
    },
    stop,
  };
}
