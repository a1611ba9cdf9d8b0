/**
 * The alert receiver: Alertmanager's webhook target. Every notification that arrives is appended
 * to a JSON lines file and listed by `GET /notifications`, so there is a record of who was told
 * what and when; with a chat webhook configured, each one is also posted there as a message.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../logger';

/** One alert of a notification, as Alertmanager's webhook (version 4) sends it. */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** What the receiver keeps of one notification: the group, its status and its alerts. */
export interface NotificationRecord {
  receivedAt: string;
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: NotifiedAlert[];
  /** `sent`, `failed: <why>`, or absent when no chat webhook is configured. */
  chat?: string;
}

export interface ReceiverOptions {
  host: string;
  port: number;
  /** The JSON lines file every notification is appended to (created when missing). */
  file: string;
  /** A Slack-compatible incoming webhook (`{"text": …}`), e.g. Slack, Mattermost, Rocket.Chat. */
  chatWebhookUrl?: string;
  log: Logger;
}

export interface RunningReceiver {
  url: string;
  close(): Promise<void>;
}

interface WebhookPayload {
  receiver?: string;
  status?: string;
  groupLabels?: Record<string, string>;
  alerts?: Partial<NotifiedAlert>[];
}

/** The notification as the record keeps it; anything that is not a webhook payload is refused. */
function toRecord(payload: WebhookPayload): NotificationRecord | null {
  if (!Array.isArray(payload.alerts) || typeof payload.receiver !== 'string') return null;
  if (payload.status !== 'firing' && payload.status !== 'resolved') return null;
  return {
    receivedAt: new Date().toISOString(),
    receiver: payload.receiver,
    status: payload.status,
    groupLabels: payload.groupLabels ?? {},
    alerts: payload.alerts.map((alert) => ({
      status: alert.status === 'resolved' ? 'resolved' : 'firing',
      labels: alert.labels ?? {},
      annotations: alert.annotations ?? {},
      startsAt: alert.startsAt ?? '',
      endsAt: alert.endsAt ?? '',
    })),
  };
}

/** The chat message: one line per alert, what it is, what it measured and where the runbook is. */
export function chatText(record: NotificationRecord): string {
  const lines = record.alerts.map((alert) => {
    const name = alert.labels.alertname ?? 'alert';
    const severity = alert.labels.severity ?? '';
    const summary = alert.annotations.summary ?? '';
    const head = `${alert.status === 'resolved' ? 'RESOLVED' : 'FIRING'} ${severity} ${name}: ${summary}`;
    const runbook = alert.annotations.runbook_url
      ? ` (runbook: ${alert.annotations.runbook_url})`
      : '';
    const detail = alert.status === 'firing' ? `\n  ${alert.annotations.description ?? ''}` : '';
    return `${head.replace(/ {2,}/g, ' ')}${runbook}${detail}`;
  });
  return lines.join('\n');
}

/** The notifications recorded in `file`, oldest first (none when it does not exist yet). */
export function readNotifications(file: string): NotificationRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as NotificationRecord);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Alertmanager truncates large groups; anything far beyond that is not a notification.
    if (size > 5_000_000) throw new Error('payload too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function postToChat(url: string, record: NotificationRecord): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: chatText(record) }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`chat webhook answered ${response.status}`);
}

/**
 * Starts the receiver. `POST /alerts` takes a notification; when forwarding to chat fails it
 * answers 502, so Alertmanager sends it again (the record then shows both arrivals).
 */
export async function startReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const { file, log } = options;
  mkdirSync(dirname(file), { recursive: true });

  async function receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let payload: WebhookPayload;
    try {
      payload = JSON.parse(await readBody(request)) as WebhookPayload;
    } catch (error) {
      answer(response, 400, { error: (error as Error).message });
      return;
    }
    const record = toRecord(payload);
    if (!record) {
      answer(response, 400, { error: 'not an Alertmanager webhook notification' });
      return;
    }
    let forwardError: Error | null = null;
    if (options.chatWebhookUrl) {
      try {
        await postToChat(options.chatWebhookUrl, record);
        record.chat = 'sent';
      } catch (error) {
        forwardError = error as Error;
        record.chat = `failed: ${forwardError.message}`;
      }
    }
    appendFileSync(file, `${JSON.stringify(record)}\n`);
    log.info('alert notification', {
      receiver: record.receiver,
      status: record.status,
      alerts: record.alerts.map((a) => `${a.status} ${a.labels.alertname ?? '?'}`),
      chat: record.chat,
    });
    if (forwardError) answer(response, 502, { error: record.chat });
    else answer(response, 200, { recorded: true });
  }

  function route(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://receiver').pathname;
    if (request.method === 'POST' && path === '/alerts') {
      receive(request, response).catch((error: unknown) => {
        log.error('receiving a notification failed', { error: (error as Error).message });
        answer(response, 500, { error: 'internal error' });
      });
    } else if (request.method === 'GET' && path === '/notifications') {
      answer(response, 200, { notifications: readNotifications(file) });
    } else if (request.method === 'GET' && path === '/healthz') {
      answer(response, 200, { ok: true });
    } else {
      answer(response, 404, { error: 'POST /alerts, GET /notifications or GET /healthz' });
    }
  }

  const server: Server = createServer(route);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
