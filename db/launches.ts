import { QueryTypes, type Sequelize } from 'sequelize';
import { LAUNCHES_TABLE } from './models';
import type { Dialect } from './orders';

/** An outbox entry the launcher now holds until `leaseUntil`. */
export interface ClaimedLaunch {
  orderId: string;
  /** When the order was accepted (its `created_at`). */
  acceptedAt: Date;
  /** Claims of this entry so far, this one included. */
  attempts: number;
}

/** What is waiting in the outbox. */
export interface LaunchBacklog {
  waiting: number;
  oldestAcceptedAt: Date | null;
}

interface ClaimRow {
  order_id: string;
  accepted_at: Date | string;
  attempts: number | string;
}

/**
 * The due entries, oldest first, moved to `leaseUntil` in the same statement: a launcher that dies
 * holding them gives them back when the lease runs out. Several API processes claim disjoint
 * entries: PostgreSQL skips rows another claim has locked, SQL Server reads past them, and
 * SQLite runs one writer at a time.
 */
const CLAIM: Record<Dialect, string> = {
  sqlite:
    `UPDATE ${LAUNCHES_TABLE} SET next_attempt_at = :leaseUntil, attempts = attempts + 1 ` +
    `WHERE order_id IN (SELECT order_id FROM ${LAUNCHES_TABLE} WHERE next_attempt_at <= :now ` +
    `ORDER BY next_attempt_at LIMIT :limit) RETURNING order_id, accepted_at, attempts`,
  postgres:
    `UPDATE ${LAUNCHES_TABLE} SET next_attempt_at = :leaseUntil, attempts = attempts + 1 ` +
    `WHERE order_id IN (SELECT order_id FROM ${LAUNCHES_TABLE} WHERE next_attempt_at <= :now ` +
    `ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED) ` +
    `RETURNING order_id, accepted_at, attempts`,
  mssql:
    `WITH due AS (SELECT TOP (:limit) * FROM ${LAUNCHES_TABLE} WITH (UPDLOCK, READPAST, ROWLOCK) ` +
    `WHERE next_attempt_at <= :now ORDER BY next_attempt_at) ` +
    `UPDATE due SET next_attempt_at = :leaseUntil, attempts = attempts + 1 ` +
    `OUTPUT inserted.order_id, inserted.accepted_at, inserted.attempts`,
};

/** The launch outbox (`order_launches`): entries come and go with the order rows' triggers. */
export class LaunchOutbox {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly dialect: Dialect,
  ) {}

  /** Claims up to `limit` entries due at `now` until `leaseUntil`. */
  async claim(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedLaunch[]> {
    const rows = await this.sequelize.query<ClaimRow>(CLAIM[this.dialect], {
      replacements: { now, leaseUntil, limit },
      type: QueryTypes.SELECT,
    });
    return rows.map((row) => ({
      orderId: row.order_id,
      acceptedAt: new Date(row.accepted_at),
      attempts: Number(row.attempts),
    }));
  }

  /** Puts claimed entries back, due at `at`, with the reason their launch failed. */
  async reschedule(orderIds: readonly string[], at: Date, reason: string): Promise<void> {
    if (orderIds.length === 0) return;
    await this.sequelize.query(
      `UPDATE ${LAUNCHES_TABLE} SET next_attempt_at = :at, last_error = :reason ` +
        `WHERE order_id IN (:orderIds)`,
      { replacements: { at, reason: reason.slice(0, 500), orderIds: [...orderIds] } },
    );
  }

  /** Drops entries whose order row is gone (nothing to launch). */
  async remove(orderIds: readonly string[]): Promise<void> {
    if (orderIds.length === 0) return;
    await this.sequelize.query(`DELETE FROM ${LAUNCHES_TABLE} WHERE order_id IN (:orderIds)`, {
      replacements: { orderIds: [...orderIds] },
    });
  }

  /** How many entries wait and since when: the launch-backlog gauges and `/api/system`. */
  async backlog(): Promise<LaunchBacklog> {
    const [row] = await this.sequelize.query<{ waiting: number | string; oldest: Date | string }>(
      `SELECT COUNT(*) AS waiting, MIN(accepted_at) AS oldest FROM ${LAUNCHES_TABLE}`,
      { type: QueryTypes.SELECT },
    );
    return {
      waiting: Number(row?.waiting ?? 0),
      oldestAcceptedAt: row?.oldest ? new Date(row.oldest) : null,
    };
  }
}
