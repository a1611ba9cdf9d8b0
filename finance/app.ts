/**
 * The simulated third-party finance package: `POST /ProcessPayment` charges orders, and a few
 * control endpoints let tests and demos make it slow, flaky or down. Nothing here listens; see
 * `main.ts`.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  FINANCE_FAULTS,
  PAYMENT_PATH,
  financeModeSchema,
  type FinanceErrorBody,
  type FinanceFault,
} from '../domain/finance';
import { describeIssues, errorAnswer, processPayment, type Answer } from './payment';
import { FinanceState } from './state';
import { createLogger, type Logger } from '../observability/logger';

export { FinanceState };
export type { ModeSettings } from './state';

export interface FinanceOptions {
  /** IANA zone whose local time the package insists on (FINANCE_TIMEZONE). */
  timeZone: string;
  now?: () => Date;
  /** Decides which calls fail in flaky mode, and how; injectable so tests can choose. */
  random?: () => number;
  /** How long a hung call stays silent before answering 503, if the client is still waiting. */
  hangMs?: number;
  logger?: Logger;
}

const BODY_LIMIT = '64kb';

/** Canned answers for the faults that answer at once; nothing is charged for them. */
const FAULT_ANSWERS: Record<Exclude<FinanceFault, 'hang' | 'drop'>, Answer> = {
  'status-500': errorAnswer(500, 'internal_error', 'simulated internal error'),
  'status-503': errorAnswer(503, 'unavailable', 'the finance package is unavailable'),
  'status-429': {
    ...errorAnswer(429, 'rate_limited', 'too many requests; retry after 1 second'),
    headers: { 'Retry-After': '1' },
  },
};

const faultsSchema = z.strictObject({ faults: z.array(z.enum(FINANCE_FAULTS)).max(1000) });

export function createFinanceApp(options: FinanceOptions): {
  app: express.Express;
  state: FinanceState;
} {
  const { timeZone, now = () => new Date(), random = Math.random, hangMs = 60_000 } = options;
  const logger = options.logger ?? createLogger({ service: 'finance' });
  const state = new FinanceState();

  /** A queued fault wins over the mode, so tests get exact sequences whatever the mode. */
  function pickFault(): FinanceFault | undefined {
    const queued = state.takeFault();
    if (queued) return queued;
    const { mode, failureRate } = state.modeSettings;
    if (mode === 'down') return 'status-503';
    if (mode !== 'flaky' || random() >= failureRate) return undefined;
    const index = Math.min(Math.floor(random() * FINANCE_FAULTS.length), FINANCE_FAULTS.length - 1);
    return FINANCE_FAULTS[index];
  }

  async function handlePayment(req: Request, res: Response): Promise<void> {
    const fields = paymentFields(req.body);
    const key = typeof fields.idempotencyKey === 'string' ? fields.idempotencyKey : undefined;
    if (key) state.noteRequest(key, typeof fields.orderId === 'string' ? fields.orderId : null);
    logger.info('payment request', fields);

    const { mode, latencyMs } = state.modeSettings;
    if (mode === 'slow') await sleep(latencyMs);

    const fault = pickFault();
    if (fault === 'hang') {
      hang(res, key);
      return;
    }
    if (fault && fault !== 'drop') {
      answer(logger, res, key, FAULT_ANSWERS[fault], fault);
      return;
    }
    const outcome = processPayment(req.body, { state, timeZone, now: now() });
    if (fault === 'drop') {
      // Charged (if the request was good) but the answer is lost: what idempotency keys are for.
      logger.warn('payment connection dropped', { ...outcomeFields(key, outcome), fault });
      req.socket.destroy();
      return;
    }
    answer(logger, res, key, outcome);
  }

  function hang(res: Response, key: string | undefined): void {
    logger.warn('payment hanging', { idempotencyKey: key, fault: 'hang', hangMs });
    state.noteHang(key ?? null);
    const timer = setTimeout(() => {
      answer(
        logger,
        res,
        key,
        errorAnswer(503, 'unavailable', `no answer within ${hangMs} ms`),
        'hang',
      );
    }, hangMs);
    // The client usually gives up first; a pending timer would keep the process alive for nothing.
    res.once('close', () => clearTimeout(timer));
  }

  const app = express();
  app.disable('x-powered-by');

  app.route(PAYMENT_PATH).post(jsonBody, handlePayment).all(methodNotAllowed('POST'));

  app
    .route('/mode')
    .get((_req, res) => {
      res.json(state.modeSettings);
    })
    .put(jsonBody, (req, res) => {
      const settings = parseBody(financeModeSchema, req, res);
      if (!settings) return;
      const current = state.setMode(settings);
      logger.info('mode changed', current);
      res.json(current);
    })
    .all(methodNotAllowed('GET, PUT'));

  app
    .route('/faults')
    .get((_req, res) => {
      res.json({ faults: state.faults, hung: state.hung });
    })
    .post(jsonBody, (req, res) => {
      const body = parseBody(faultsSchema, req, res);
      if (!body) return;
      state.queueFaults(body.faults);
      logger.info('faults queued', { added: body.faults, queued: state.faults });
      res.json({ faults: state.faults });
    })
    .delete((_req, res) => {
      state.clearFaults();
      logger.info('faults cleared');
      res.json({ faults: state.faults });
    })
    .all(methodNotAllowed('GET, POST, DELETE'));

  app
    .route('/charges')
    .get((_req, res) => {
      res.json({ keys: state.activity() });
    })
    .all(methodNotAllowed('GET'));

  app
    .route('/charges/:key')
    .get((req, res) => {
      res.json(state.chargeRecord(req.params.key));
    })
    .all(methodNotAllowed('GET'));

  app
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok', mode: state.modeSettings.mode });
    })
    .all(methodNotAllowed('GET'));

  app.use((req, res) => {
    sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(logger));

  return { app, state };
}

function sendError(res: Response, status: number, code: string, reason: string): void {
  res.status(status).json({ code, reason } satisfies FinanceErrorBody);
}

function answer(
  logger: Logger,
  res: Response,
  key: string | undefined,
  outcome: Answer,
  fault?: FinanceFault,
): void {
  logger.log(outcome.status < 400 ? 'info' : 'warn', 'payment answered', {
    ...outcomeFields(key, outcome),
    fault,
  });
  res
    .status(outcome.status)
    .set(outcome.headers ?? {})
    .json(outcome.body);
}

function outcomeFields(key: string | undefined, { status, body }: Answer): Record<string, unknown> {
  const details =
    'code' in body
      ? { code: body.code, reason: body.reason }
      : { paymentReference: body.paymentReference };
  return { idempotencyKey: key, status, ...details };
}

/** The request's fields for the log, read leniently: a malformed body is worth logging too. */
function paymentFields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) return {};
  const { idempotencyKey, orderId, amount, currency, date } = body as Record<string, unknown>;
  return { idempotencyKey, orderId, amount, currency, date };
}

function parseBody<T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined {
  const parsed = schema.safeParse(req.body);
  if (parsed.success) return parsed.data;
  sendError(res, 400, 'malformed_request', describeIssues(parsed.error));
  return undefined;
}

const parseJson = express.json({ limit: BODY_LIMIT });

/** Parses a JSON body. `req.is` is null when there is no body: the schema reports what is missing. */
function jsonBody(req: Request, res: Response, next: NextFunction): void {
  if (req.is('application/json') === false) {
    const type = req.get('content-type') ?? '(none)';
    sendError(res, 415, 'unsupported_media_type', `content-type: ${type} is not application/json`);
    return;
  }
  parseJson(req, res, next);
}

function methodNotAllowed(allowed: string) {
  return (req: Request, res: Response): void => {
    res.set('Allow', allowed);
    sendError(
      res,
      405,
      'method_not_allowed',
      `${req.method} ${req.path} is not allowed; use ${allowed}`,
    );
  };
}

/** Errors from body parsing or a handler become JSON, never Express's HTML page. */
const errorHandler = (logger: Logger) =>
  function handleError(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
    if (res.headersSent) {
      res.socket?.destroy();
      return;
    }
    const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
    if (type === 'entity.parse.failed') {
      sendError(res, 400, 'malformed_request', 'body: is not valid JSON');
    } else if (type === 'entity.too.large') {
      sendError(res, 413, 'payload_too_large', `body: is larger than ${BODY_LIMIT}`);
    } else if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(res, status, 'bad_request', error instanceof Error ? error.message : 'bad request');
    } else {
      logger.error('unexpected error', {
        error: error instanceof Error ? error.stack : String(error),
      });
      sendError(res, 500, 'internal_error', 'unexpected error in the finance package');
    }
  };
