/**
 * Telling a database outage (wait and try again: the API's 503, the status activity's retry) from
 * a write the database will never accept (writing it again changes nothing).
 */
import {
  ConnectionAcquireTimeoutError,
  ConnectionError,
  DatabaseError,
  TimeoutError,
  ValidationError,
} from 'sequelize';

/** PostgreSQL SQLSTATEs meaning "the server is going away or refusing", not "your query". */
const UNAVAILABLE_SQLSTATES = /^(08|57P0[1-3]|53300)/;

/** The database cannot be reached or is refusing work: nothing is wrong with the request. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof TimeoutError) return true;
  if (error instanceof DatabaseError) {
    const code = (error.parent as { code?: unknown }).code;
    return typeof code === 'string' && UNAVAILABLE_SQLSTATES.test(code);
  }
  // A request that races the shutdown finds the pool already closed.
  return error instanceof Error && /connection manager was closed/i.test(error.message);
}

/**
 * Beyond an outage, codes that mean "try again": serialization failures and deadlocks (SQLSTATE
 * and SQL Server's numbers), lock timeouts, SQLite's busy and locked database, dropped sockets.
 */
const TRANSIENT_CODES = new Set([
  '40001',
  '40P01',
  '55P03',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'ETIMEOUT',
  'ESOCKET',
  'ECONNRESET',
]);

function driverCode(error: DatabaseError): string | null {
  const parent = error.parent as (Error & { code?: unknown; number?: unknown }) | undefined;
  if (parent && typeof parent.code === 'string') return parent.code;
  // SQL Server deadlock victim (1205) and lock timeout (1222) come as numbers.
  if (parent && (parent.number === 1205 || parent.number === 1222)) return '40001';
  return null;
}

/**
 * True when `error` says the database refused this write itself (a value too long, a constraint,
 * a type mismatch): the same write would be refused again. Connection trouble, timeouts,
 * deadlocks and any error that is not the database's own answer count as transient, so an outage
 * delays status writes instead of dropping them.
 */
export function isPermanentWriteError(error: unknown): boolean {
  if (error instanceof ValidationError) return true;
  if (isDatabaseUnavailable(error) || error instanceof ConnectionAcquireTimeoutError) return false;
  if (error instanceof DatabaseError) {
    const code = driverCode(error);
    return code === null || !TRANSIENT_CODES.has(code);
  }
  return false;
}
