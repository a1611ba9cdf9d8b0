/** Operator actions need `Authorization: Bearer <OPERATOR_TOKEN>`. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './errors';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export function requireOperator(token: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1]) {
      throw new ApiError(
        401,
        'unauthorized',
        'Operator actions need an "Authorization: Bearer <token>" header',
        undefined,
        { 'WWW-Authenticate': 'Bearer realm="orders"' },
      );
    }
    // Equal-length digests compared in constant time: the answer's timing says nothing about
    // how much of the token was right.
    if (!timingSafeEqual(digest(match[1]), expected)) {
      throw new ApiError(403, 'forbidden', 'The operator token is not valid');
    }
    next();
  };
}
