/**
 * The one place where failures become HTTP answers. Every error leaves as
 * `{ error: { code, message, details? } }`; a client never sees a stack trace, and nothing a
 * client can send ends as a 500.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { BaseError as SequelizeError } from 'sequelize';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../db/errors';
import type { Logger } from '../observability/logger';
import type { ErrorBody, ErrorDetail } from './schemas';

/** How long a client should wait before retrying when a dependency is down. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A dependency the API cannot work without is unreachable: 503 with Retry-After. */
export function unavailable(code: string, message: string): ApiError {
  return new ApiError(503, code, message, undefined, {
    'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS),
  });
}

export function temporalUnavailable(): ApiError {
  return unavailable('temporal_unavailable', 'Temporal is unavailable; try again shortly');
}

/** zod issues as `details`; an unknown field is reported under its own name. */
export function issueDetails(issues: readonly z.core.$ZodIssue[], prefix = ''): ErrorDetail[] {
  return issues.flatMap((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: [path, key].filter(Boolean).join('.'),
        message: 'is not a known field',
      }));
    }
    return [{ path: path || '(body)', message: issue.message }];
  });
}

export function validationError(details: ErrorDetail[]): ApiError {
  const first = details[0];
  const summary = first ? `${first.path} ${first.message}` : 'the request is invalid';
  return new ApiError(400, 'validation_failed', `Invalid request: ${summary}`, details);
}

/** Parses `value` with `schema`, or throws a 400 naming every bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw validationError(issueDetails(parsed.error.issues));
}

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** Temporal could not be reached, or did not answer in time. */
export function isTemporalUnavailable(error: unknown): boolean {
  const grpc = error instanceof ServiceError ? error.cause : error;
  if (!isGrpcServiceError(grpc)) return false;
  const code: number = grpc.code;
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

export { isDatabaseUnavailable };

/** Errors raised by Express and body-parser carry their own 4xx status. */
function httpStatusOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('status' in error)) return null;
  const { status } = error;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

const CLIENT_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'bad_request', message: 'The request could not be read' },
  413: {
    code: 'payload_too_large',
    message: 'The request body is larger than the 64 KiB this API accepts',
  },
  415: { code: 'unsupported_media_type', message: 'The request body encoding is not supported' },
};

function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof z.ZodError) return validationError(issueDetails(error.issues));
  if (error instanceof WorkflowNotFoundError) {
    return new ApiError(404, 'workflow_not_found', "The order's workflow was not found");
  }
  if (isDatabaseUnavailable(error)) {
    return unavailable('database_unavailable', 'The database is unavailable; try again shortly');
  }
  if (isTemporalUnavailable(error)) {
    return temporalUnavailable();
  }
  const status = httpStatusOf(error);
  if (status !== null) {
    const known = CLIENT_ERRORS[status] ?? { code: 'bad_request', message: 'Bad request' };
    return new ApiError(status, known.code, known.message);
  }
  return null;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = toApiError(error);
    const answer =
      known ??
      new ApiError(500, 'internal_error', 'Something went wrong on our side; it has been logged');
    if (!known) {
      log.error('unexpected error', {
        method: req.method,
        path: req.path,
        error: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
        ...(error instanceof SequelizeError ? { sql: (error as { sql?: string }).sql } : {}),
      });
    } else if (answer.status === 503) {
      log.warn('dependency unavailable', {
        code: answer.code,
        method: req.method,
        path: req.path,
        cause: error instanceof Error ? error.message : String(error),
      });
    }
    const body: ErrorBody = {
      error: {
        code: answer.code,
        message: answer.message,
        ...(answer.details ? { details: answer.details } : {}),
      },
    };
    // Labelled JSON even when the handler had already set its own type before failing (the
    // Prometheus text of /metrics), which `res.json` would otherwise keep.
    res.status(answer.status).set(answer.headers).type('json').json(body);
  };
}

/** Last route: anything no route matched. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `No such endpoint: ${req.method} ${req.path.slice(0, 200)}`));
};

/** For a route's other methods: 405 with the methods it does have. */
export function methodNotAllowed(...allowed: string[]): RequestHandler {
  const allow = allowed.join(', ');
  return (req, _res, next) => {
    next(
      new ApiError(
        405,
        'method_not_allowed',
        `${req.method} is not allowed here; use ${allow}`,
        undefined,
        {
          Allow: allow,
        },
      ),
    );
  };
}
