/**
 * Telling a database outage (wait and write again) from a write the database will never accept
 * (writing it again changes nothing), for the status activity's retry decision.
 */
import {
  ConnectionAcquireTimeoutError,
  ConnectionError,
  DatabaseError,
  TimeoutError,
  ValidationError,
} from 'sequelize';

/**
 * SQLSTATE classes and driver codes that mean "try again": PostgreSQL's and SQL Server's
 * serialization failures and deadlocks, lock timeouts, SQLite's busy and locked database,
 * admin shutdown and "too many connections".
 */
const TRANSIENT_CODES = new Set([
  '40001',
  '40P01',
  '55P03',
  '57P01',
  '57P02',
  '57P03',
  '53300',
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
  if (
    error instanceof ConnectionError ||
    error instanceof TimeoutError ||
    error instanceof ConnectionAcquireTimeoutError
  ) {
    return false;
  }
  if (error instanceof DatabaseError) {
    const code = driverCode(error);
    return code === null || !TRANSIENT_CODES.has(code);
  }
  return false;
}
