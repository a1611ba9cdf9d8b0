/**
 * Request bodies: read raw (at most 64 KiB), then checked for media type, UTF-8, JSON syntax and
 * duplicate keys before any schema sees them. `JSON.parse` silently keeps the last of two equal
 * keys; for an order that would mean charging an amount the client may not have meant, so a
 * duplicate key is refused and named instead.
 */
import express, { type RequestHandler } from 'express';
import { ApiError } from './errors';
import { MAX_BODY_BYTES } from './schemas';

/** Where the scan is: inside an object (its keys so far) or an array (the element index). */
interface ObjectFrame {
  kind: 'object';
  keys: Set<string>;
  key: string | null;
  expectKey: boolean;
}
interface ArrayFrame {
  kind: 'array';
  index: number;
}
type Frame = ObjectFrame | ArrayFrame;

/** Index just past the string literal that opens at `start` (a `"`). */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function pathOf(stack: Frame[], key: string): string {
  const parts = stack.map((frame) => (frame.kind === 'object' ? frame.key : String(frame.index)));
  return [...parts.slice(0, -1), key].join('.');
}

/**
 * The path of the first key that appears twice in one object, or null. `text` must already be
 * valid JSON. Iterative, so a deeply nested body cannot overflow the stack.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length;) {
    const ch = text[i];
    const top = stack.at(-1);
    if (ch === '"') {
      const end = endOfString(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys.has(key)) return pathOf(stack, key);
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
      continue;
    }
    if (ch === '{') stack.push({ kind: 'object', keys: new Set(), key: null, expectKey: true });
    else if (ch === '[') stack.push({ kind: 'array', index: 0 });
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',' && top?.kind === 'object') top.expectKey = true;
    else if (ch === ',' && top?.kind === 'array') top.index += 1;
    i += 1;
  }
  return null;
}

/** `application/json` or `application/<x>+json`, in UTF-8 (the only charset JSON allows). */
function checkMediaType(header: string | undefined): void {
  const [type = '', ...params] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[\w.-]+\+json$/.test(type)) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `The body must be JSON (Content-Type: application/json), not ${header ? `"${header.slice(0, 100)}"` : 'untyped'}`,
    );
  }
  const charset = params.find((param) => param.startsWith('charset='))?.slice('charset='.length);
  if (charset && charset.replace(/"/g, '') !== 'utf-8') {
    throw new ApiError(415, 'unsupported_media_type', 'JSON bodies must be UTF-8');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(raw: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError(400, 'malformed_json', 'The body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof SyntaxError ? `: ${error.message.slice(0, 200)}` : '';
    throw new ApiError(400, 'malformed_json', `The body is not valid JSON${reason}`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) {
    throw new ApiError(400, 'duplicate_key', `The body has the key "${duplicate}" more than once`, [
      { path: duplicate, message: 'appears more than once' },
    ]);
  }
  return value;
}

/** The raw bytes whatever the media type, so the type can be refused with a clear 415. */
const readRaw = express.raw({ type: () => true, limit: MAX_BODY_BYTES });

/**
 * Reads a JSON body into `req.body`. An empty body is `undefined` when `required` is false
 * (cancel and retry have nothing to say by default), and a 400 otherwise.
 */
export function jsonBody({ required }: { required: boolean }): RequestHandler[] {
  const parse: RequestHandler = (req, _res, next) => {
    const raw = req.body as unknown;
    if (!Buffer.isBuffer(raw) || raw.length === 0) {
      if (required) throw new ApiError(400, 'missing_body', 'A JSON body is required');
      req.body = undefined;
      next();
      return;
    }
    checkMediaType(req.get('content-type'));
    req.body = parseJson(raw);
    next();
  };
  return [readRaw, parse];
}
