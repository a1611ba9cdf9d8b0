/**
 * The simulated third-party finance package, behaving like a real payment provider:
 * `POST /ProcessPayment` charges orders, `GET /payments/:key` says what happened under a key,
 * `POST /refunds` gives a charge back, and a few control endpoints let tests and demos make it
 * slow, flaky or down. Nothing here listens; see `main.ts`.
 *
 * Queued faults are for payments unless queued for another endpoint (`POST /faults` with
 * `endpoint`: `lookup`, `refund` or `any`); `down` answers 503 on all three money endpoints and
 * `flaky` fails a share of all three; `slow` delays payments and refunds only.
 * While a payment request is being processed (from its arrival until the charge decision: a slow
 * sleep, a `hang` while the client waits and a held `late-charge` included) its key is pending:
 * a second request with that key answers 409 `idempotency_key_in_use`, a lookup answers
 * "pending" and a refund 409 `payment_pending`, as a real provider's would.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  FAULT_ENDPOINTS,
  FINANCE_FAULTS,
  PAYMENT_PATH,
  PAYMENTS_PATH,
  REFUNDS_PATH,
  TRANSIENT_FINANCE_FAULTS,
  financeModeSchema,
  type FaultsReport,
  type FinanceErrorBody,
  type FinanceFault,
} from '../domain/finance';
import {
  describeIssues,
  errorAnswer,
  lookupPayment,
  processPayment,
  processRefund,
  retryLater,
  type Answer,
} from './payment';
import { FinanceState } from './state';
import { createLogger, type Logger } from '../observability/logger';

export { FinanceState };
export type { ModeSettings } from './state';

/** How the package is built: its zone, and the clocks and dice tests want to control. */
export interface FinanceOptions {
  /** IANA zone whose local time the package insists on (FINANCE_TIMEZONE). */
  timeZone: string;
  now?: () => Date;
  /** Decides which calls fail in flaky mode, and how; injectable so tests can choose. */
  random?: () => number;
  /** How long a hung call stays silent before answering 503, if the client is still waiting. */
  hangMs?: number;
  /** `late-charge`: how long after the client gave up the charge is still made. */
  lateChargeMs?: number;
  logger?: Logger;
}

const BODY_LIMIT = '64kb';

/** A non-JSON answer: the pages a proxy or load balancer in front of a provider sends. */
interface RawAnswer {
  status: number;
  contentType: string | null;
  text: string;
}

type CannedFault = Exclude<FinanceFault, 'hang' | 'drop' | 'late-charge'>;

/** A provider's verbose decline: far longer than anything worth storing or showing. */
const LONG_DECLINE_REASON = (() => {
  let reason =
    'The card was declined by the issuing bank (response code 05, do not honor). ' +
    'The issuer gave no further detail; the cardholder should contact their bank. ';
  for (let check = 1; reason.length < 20_000; check += 1) {
    reason +=
      `Risk check ${check} of the issuer's authorisation chain evaluated the transaction ` +
      'and did not approve it; no funds were reserved and no retry will change this outcome. ';
  }
  return reason.slice(0, 20_000);
})();

const WAF_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>400 Bad Request</title>
<style>body{font-family:sans-serif;margin:4em;color:#333}code{background:#eee;padding:2px 4px}</style>
</head>
<body>
<h1>Bad Request</h1>
<p>The request was rejected by the web application firewall.</p>
<p>If you think this is a mistake, quote this support ID: <code>7f3c1a9e-52d4-4b8e-9c1f-0a6e2b7d4c35</code></p>
<hr>
<address>edge-proxy</address>
</body>
</html>
`;

const BAD_GATEWAY_PAGE = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>load-balancer</center>
</body>
</html>
`;

/** Canned answers for the faults that answer at once; nothing is charged or refunded for them. */
const FAULT_ANSWERS: Record<CannedFault, Answer | RawAnswer> = {
  'status-500': errorAnswer(500, 'internal_error', 'simulated internal error'),
  'status-503': errorAnswer(503, 'unavailable', 'the finance package is unavailable'),
  'status-429': {
    ...errorAnswer(429, 'rate_limited', 'too many requests; retry after 1 second'),
    headers: { 'Retry-After': '1' },
  },
  'reject-long': errorAnswer(400, 'card_declined', LONG_DECLINE_REASON),
  'reject-html': { status: 400, contentType: 'text/html; charset=utf-8', text: WAF_PAGE },
  'status-502-html': {
    status: 502,
    contentType: 'text/html; charset=utf-8',
    text: BAD_GATEWAY_PAGE,
  },
  'status-503-empty': { status: 503, contentType: null, text: '' },
};

const faultsSchema = z.strictObject({
  faults: z.array(z.enum(FINANCE_FAULTS)).max(1000),
  endpoint: z.enum(FAULT_ENDPOINTS).optional(),
});

type MoneyEndpoint = 'payment' | 'lookup' | 'refund';

/** One request to a money endpoint, as the fault handling sees it. */
interface MoneyCall {
  what: MoneyEndpoint;
  /** The key the request names, for the logs. */
  key: string | undefined;
  /** Decides and acts (charges, refunds or reads); called at most once. */
  settle: () => Answer;
  /** Ends the request's pending mark, if it has one; safe to call twice. */
  release: () => void;
}

/** Builds the package's Express app and the state it keeps in memory. */
export function createFinanceApp(options: FinanceOptions): {
  app: express.Express;
  state: FinanceState;
} {
  const {
    timeZone,
    now = () => new Date(),
    random = Math.random,
    hangMs = 60_000,
    lateChargeMs = 1000,
  } = options;
  const logger = options.logger ?? createLogger({ service: 'finance' });
  const state = new FinanceState();

  /** A queued fault wins over the mode, so tests get exact sequences whatever the mode. */
  function pickFault(what: MoneyEndpoint): FinanceFault | undefined {
    const queued = state.takeFault(what);
    if (queued) return queued;
    const { mode, failureRate } = state.modeSettings;
    if (mode === 'down') return 'status-503';
    if (mode !== 'flaky' || random() >= failureRate) return undefined;
    const faults = TRANSIENT_FINANCE_FAULTS;
    return faults[Math.min(Math.floor(random() * faults.length), faults.length - 1)];
  }

  /**
   * A second request for a key that is still being processed is refused at once, before any
   * work or fault, unless the package is down (then nothing answers but 503).
   */
  function inUse(res: Response, what: MoneyEndpoint, key: string, pending: boolean): boolean {
    if (!pending || state.modeSettings.mode === 'down') return false;
    const refusal = retryLater(
      'idempotency_key_in_use',
      `another request with idempotency key ${key} is still being processed; retry later`,
    );
    answer(logger, res, what, key, refusal);
    return true;
  }

  async function handlePayment(req: Request, res: Response): Promise<void> {
    const fields = paymentFields(req.body);
    const key = typeof fields.idempotencyKey === 'string' ? fields.idempotencyKey : undefined;
    if (key) state.noteRequest(key, typeof fields.orderId === 'string' ? fields.orderId : null);
    logger.info('payment request', fields);
    if (key && inUse(res, 'payment', key, state.isPaymentPending(key) && !state.chargeFor(key))) {
      return;
    }
    await run(req, res, {
      what: 'payment',
      key,
      settle: () => processPayment(req.body, { state, timeZone, now: now() }),
      release: key ? state.beginPayment(key) : () => undefined,
    });
  }

  async function handleLookup(req: Request<{ key: string }>, res: Response): Promise<void> {
    const { key } = req.params;
    logger.info('lookup request', { idempotencyKey: key });
    await run(req, res, {
      what: 'lookup',
      key,
      settle: () => lookupPayment(key, state),
      release: () => undefined,
    });
  }

  async function handleRefund(req: Request, res: Response): Promise<void> {
    const fields = refundFields(req.body);
    const key = typeof fields.idempotencyKey === 'string' ? fields.idempotencyKey : undefined;
    logger.info('refund request', fields);
    if (key && inUse(res, 'refund', key, state.isRefundPending(key))) return;
    await run(req, res, {
      what: 'refund',
      key,
      settle: () => processRefund(req.body, { state, timeZone, now: now() }),
      release: key ? state.beginRefund(key) : () => undefined,
    });
  }

  /** Applies the mode and the next fault to one money call, then settles it (or not). */
  async function run(req: Request, res: Response, call: MoneyCall): Promise<void> {
    // Noted at once: a client can give up during the slow sleep, before any listener below.
    let clientGone = false;
    res.once('close', () => {
      clientGone = true;
    });
    const onClientGone = (then: () => void) => {
      if (clientGone) then();
      else res.once('close', then);
    };
    try {
      const { mode, latencyMs } = state.modeSettings;
      // Only the calls that move money are slow, so a lookup can watch one in progress. The work
      // is done after the sleep even if the client has gone: it did not cancel it.
      if (mode === 'slow' && call.what !== 'lookup') await sleep(latencyMs);

      const fault = pickFault(call.what);
      if (fault === 'hang') {
        hang(res, call, onClientGone);
      } else if (fault === 'late-charge') {
        settleLate(res, call, onClientGone);
      } else if (fault === 'drop') {
        const outcome = call.settle();
        call.release();
        // Done (if the request was good) but the answer is lost: what idempotency keys are for.
        logger.warn(`${call.what} connection dropped`, {
          ...outcomeFields(call.key, outcome),
          fault,
        });
        req.socket.destroy();
      } else if (fault) {
        call.release();
        const canned = FAULT_ANSWERS[fault];
        if ('body' in canned) answer(logger, res, call.what, call.key, canned, fault);
        else sendRaw(logger, res, call, canned, fault);
      } else {
        const outcome = call.settle();
        call.release();
        answer(logger, res, call.what, call.key, outcome);
      }
    } catch (error) {
      call.release();
      throw error;
    }
  }

  function hang(res: Response, call: MoneyCall, onClientGone: (then: () => void) => void): void {
    logger.warn(`${call.what} hanging`, { idempotencyKey: call.key, fault: 'hang', hangMs });
    state.noteHang(call.key ?? null);
    const timer = setTimeout(() => {
      call.release();
      const outcome = errorAnswer(503, 'unavailable', `no answer within ${hangMs} ms`);
      answer(logger, res, call.what, call.key, outcome, 'hang');
    }, hangMs);
    // The client usually gives up first; a pending timer would keep the process alive for nothing.
    onClientGone(() => {
      clearTimeout(timer);
      call.release();
    });
  }

  /**
   * `late-charge`: silent while the client waits; the work is done `lateChargeMs` after it gives
   * up (a provider that finished what it had started), or at `hangMs` with a 200 if it waited.
   * The key stays pending all along.
   */
  function settleLate(
    res: Response,
    call: MoneyCall,
    onClientGone: (then: () => void) => void,
  ): void {
    logger.warn(`${call.what} held for a late charge`, {
      idempotencyKey: call.key,
      fault: 'late-charge',
      hangMs,
      lateChargeMs,
    });
    let settled = false;
    const settleOnce = (): Answer | undefined => {
      if (settled) return undefined;
      settled = true;
      try {
        return call.settle();
      } finally {
        call.release();
      }
    };
    const timer = setTimeout(() => {
      const outcome = settleOnce();
      if (outcome) answer(logger, res, call.what, call.key, outcome, 'late-charge');
    }, hangMs);
    onClientGone(() => {
      clearTimeout(timer);
      if (settled) return;
      setTimeout(() => {
        const outcome = settleOnce();
        if (outcome) {
          logger.warn(`${call.what} settled after the client left`, {
            ...outcomeFields(call.key, outcome),
            fault: 'late-charge',
          });
        }
      }, lateChargeMs).unref();
    });
  }

  const app = express();
  app.disable('x-powered-by');

  app.route(PAYMENT_PATH).post(jsonBody, handlePayment).all(methodNotAllowed('POST'));
  app.route(`${PAYMENTS_PATH}/:key`).get(handleLookup).all(methodNotAllowed('GET'));
  app.route(REFUNDS_PATH).post(jsonBody, handleRefund).all(methodNotAllowed('POST'));

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
      const report: FaultsReport = {
        faults: state.faults,
        hung: state.hung,
        pending: state.pending,
        pendingRefunds: state.pendingRefundKeys,
      };
      res.json(report);
    })
    .post(jsonBody, (req, res) => {
      const body = parseBody(faultsSchema, req, res);
      if (!body) return;
      state.queueFaults(body.faults, body.endpoint);
      logger.info('faults queued', {
        added: body.faults,
        endpoint: body.endpoint ?? 'payment',
        queued: state.faults,
      });
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
  what: MoneyEndpoint,
  key: string | undefined,
  outcome: Answer,
  fault?: FinanceFault,
): void {
  logger.log(outcome.status < 400 ? 'info' : 'warn', `${what} answered`, {
    ...outcomeFields(key, outcome),
    fault,
  });
  res
    .status(outcome.status)
    .set(outcome.headers ?? {})
    .json(outcome.body);
}

function sendRaw(
  logger: Logger,
  res: Response,
  call: MoneyCall,
  raw: RawAnswer,
  fault: FinanceFault,
): void {
  logger.warn(`${call.what} answered`, {
    idempotencyKey: call.key,
    status: raw.status,
    contentType: raw.contentType,
    bytes: Buffer.byteLength(raw.text),
    fault,
  });
  res.status(raw.status);
  if (raw.contentType) res.set('content-type', raw.contentType);
  res.end(raw.text);
}

function outcomeFields(key: string | undefined, { status, body }: Answer): Record<string, unknown> {
  let details: Record<string, unknown>;
  if ('code' in body) {
    // A verbose decline would make a 20 kB log line; its start says what it is.
    details = { code: body.code, reason: body.reason.slice(0, 1000) };
  } else if ('refundReference' in body) {
    details = { refundReference: body.refundReference, paymentReference: body.paymentReference };
  } else if ('paymentReference' in body) {
    details = { paymentReference: body.paymentReference };
  } else if (body.status === 'charged') {
    details = { lookup: body.status, paymentReference: body.receipt.paymentReference };
  } else {
    details = { lookup: body.status };
  }
  return { idempotencyKey: key, status, ...details };
}

/** The request's fields for the log, read leniently: a malformed body is worth logging too. */
function paymentFields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) return {};
  const { idempotencyKey, orderId, amount, currency, date } = body as Record<string, unknown>;
  return { idempotencyKey, orderId, amount, currency, date };
}

/** Like `paymentFields`, for a refund request. */
function refundFields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) return {};
  const { idempotencyKey, paymentKey, reason } = body as Record<string, unknown>;
  return { idempotencyKey, paymentKey, reason };
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
