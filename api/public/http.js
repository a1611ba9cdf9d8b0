// @ts-check
/* global fetch */
/** The page's only way to talk to the API. */

/** Bounds every call: a hung API shows as "unreachable" instead of a frozen page. */
const TIMEOUT_MS = 8000;

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the API could not be reached at all
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** The API itself, or one of the things it needs, is not answering. */
  get unreachable() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/**
 * @template T
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<T>}
 */
export async function api(path, { method = 'GET', body } = {}) {
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method,
      // The session cookie only counts with this header (see api/auth.ts): a page from another
      // origin cannot send it without the API's consent.
      headers: {
        accept: 'application/json',
        'x-operator-session': '1',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'The API is unreachable');
  }
  /** @type {unknown} */
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = errorOf(answer);
    throw new ApiError(response.status, error.code, error.message);
  }
  return /** @type {T} */ (answer);
}

/** @param {unknown} answer @returns {{ code: string, message: string }} */
function errorOf(answer) {
  const error = /** @type {{ error?: { code?: unknown, message?: unknown } } | null} */ (answer)
    ?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : 'http_error',
    message: typeof error?.message === 'string' ? error.message : 'The API answered with an error',
  };
}
