/**
 * The codec endpoint for the Temporal Web UI and CLI (Temporal's remote codec protocol):
 * `POST /api/codec/decode` and `/api/codec/encode`, body `{"payloads":[{"metadata":{k: base64},
 * "data": base64}]}`, answered in kind. Temporal stores the orders encrypted (clients/codec.ts);
 * this is how a signed-in person reads them in the UI. The UI calls it from the browser, from its
 * own origin, with credentials: only that origin gets CORS headers, and the guard runs before the
 * body is read, so a refused request decodes nothing.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { PayloadDecryptionError } from '../clients/codec';
import { jsonBody } from './body';
import { ApiError, methodNotAllowed, parseOr400 } from './errors';
import { codecPayloads } from './schemas';

/** Where the router serves the protocol's two calls. */
export const CODEC_PATH = '/api/codec';

/** The headers the UI and CLI send (`Authorization` with the CLI's `--codec-auth`). */
const ALLOWED_HEADERS = ['content-type', 'x-namespace', 'authorization'];
const PREFLIGHT_MAX_AGE_SECONDS = 600;

type JsonPayload = z.output<typeof codecPayloads>['payloads'][number];

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value, 'base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value ?? []).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

/** CORS for the UI's origin only; a preflight from it is answered here, before the guard. */
function uiCors(uiOrigin: string): RequestHandler {
  return (req, res, next) => {
    const allowed = req.get('origin') === uiOrigin;
    if (allowed) {
      res.set({
        'Access-Control-Allow-Origin': uiOrigin,
        'Access-Control-Allow-Credentials': 'true',
      });
    }
    res.vary('Origin');
    if (req.method !== 'OPTIONS') {
      next();
      return;
    }
    if (allowed) {
      res.set({
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS.join(', '),
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      });
    }
    res.status(204).end();
  };
}

/**
 * The codec endpoint over `codecs` (the API client's own), behind `guard`. `uiUrl`
 * (TEMPORAL_UI_URL) gives the one origin a browser may call it from; `namespace` is the one whose
 * payloads it serves.
 */
export function codecRouter(options: {
  codecs: readonly PayloadCodec[];
  guard: RequestHandler;
  uiUrl: string;
  namespace: string;
}): Router {
  const { codecs, guard, namespace } = options;
  const router = Router();
  const checkNamespace: RequestHandler = (req, _res, next) => {
    const asked = req.get('x-namespace');
    if (asked && asked !== namespace) {
      throw new ApiError(
        400,
        'wrong_namespace',
        `X-Namespace: this codec serves the namespace "${namespace}", not "${asked.slice(0, 200)}"`,
      );
    }
    next();
  };

  async function decodeOne(payload: Payload, index: number): Promise<Payload> {
    let decoded = [payload];
    try {
      for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
    } catch (error) {
      if (!(error instanceof PayloadDecryptionError)) throw error;
      throw new ApiError(400, 'undecodable_payload', `payloads.${index}: ${error.message}`, [
        { path: `payloads.${index}`, message: error.message },
      ]);
    }
    return decoded[0] ?? payload;
  }

  async function encodeAll(payloads: Payload[]): Promise<Payload[]> {
    let encoded = payloads;
    for (const codec of codecs) encoded = await codec.encode(encoded);
    return encoded;
  }

  for (const action of ['decode', 'encode'] as const) {
    router
      .route(`${CODEC_PATH}/${action}`)
      .all(uiCors(new URL(options.uiUrl).origin))
      .post(
        guard,
        checkNamespace,
        jsonBody({ required: true }),
        async (req: Request, res: Response) => {
          const payloads = parseOr400(codecPayloads, req.body).payloads.map(fromJson);
          const done =
            action === 'decode'
              ? await Promise.all(payloads.map((payload, index) => decodeOne(payload, index)))
              : await encodeAll(payloads);
          res.json({ payloads: done.map(toJson) });
        },
      )
      .all(methodNotAllowed('POST'));
  }
  return router;
}
