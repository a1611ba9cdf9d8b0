/**
 * Entry point of the alert receiver (see receiver.ts). Its own settings, all optional:
 * RECEIVER_HOST (127.0.0.1), RECEIVER_PORT (9095), RECEIVER_FILE (.data/alerts.jsonl) and
 * RECEIVER_CHAT_WEBHOOK_URL (a Slack-compatible incoming webhook; unset: record only).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { createLogger } from '../logger';
import { startReceiver } from './receiver';

const settings = z
  .object({
    RECEIVER_HOST: z.string().default('127.0.0.1'),
    RECEIVER_PORT: z.coerce.number().int().min(0).max(65535).default(9095),
    RECEIVER_FILE: z.string().default('.data/alerts.jsonl'),
    // Empty counts as unset, so compose can pass the variable through whether or not it is set.
    RECEIVER_CHAT_WEBHOOK_URL: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z.url().optional(),
    ),
  })
  .safeParse(process.env);
if (!settings.success) {
  console.error(`receiver: bad settings: ${settings.error.message}`);
  process.exit(1);
}
const config = settings.data;
const log = createLogger({ service: 'receiver' });

startReceiver({
  host: config.RECEIVER_HOST,
  port: config.RECEIVER_PORT,
  file: resolve(config.RECEIVER_FILE),
  chatWebhookUrl: config.RECEIVER_CHAT_WEBHOOK_URL,
  log,
})
  .then((receiver) => {
    log.info('receiver started', { url: receiver.url, file: resolve(config.RECEIVER_FILE) });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void receiver.close().then(() => process.exit(0)));
    }
  })
  .catch((error: unknown) => {
    console.error('receiver failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  });
