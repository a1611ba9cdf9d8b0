import { Op, QueryTypes, type Sequelize, type WhereOptions } from 'sequelize';
import type { OrderFilter } from '../domain/bulk';
import type { PaymentFailureKind } from '../domain/errors';
import type { NewOrder, Order, OrderStatus, StatusChange } from '../domain/order';
import { ORDER_STATUSES } from '../domain/order';
import { boundText, TEXT_LIMITS } from '../domain/text';
import { OrderRow, STATUS_COUNTS_TABLE, type OrderModel } from './models';

export type Dialect = 'sqlite' | 'postgres' | 'mssql';

const MINUTE_MS = 60_000;

/** An order as stored, with the columns the API added. Still an `Order` for everyone else. */
export interface StoredOrder extends Order {
  /** Null on orders written before the API stored it. */
  unitPrice: string | null;
  workflowStartedAt: string | null;
  processedAt: string | null;
  /** The version of the last status write: a new run of the workflow continues after it. */
  statusVersion: number;
  /** Who placed it (`client:<name>`, `user:<name>`); null on orders older than access control. */
  placedBy: string | null;
  /** The class of the last payment failure while the order is failed; null otherwise. */
  failureKind: PaymentFailureKind | null;
}

/** What the API stores beside a new order. */
export interface NewOrderExtras {
  unitPrice?: string;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  placedBy?: string | null;
}

/** Position in the newest-first listing: the last row of the previous page. */
export interface ListPosition {
  createdAt: string;
  id: string;
}

/** The listing's filters (every one narrows it) and its page. */
export interface OrderListQuery extends OrderFilter {
  status?: OrderStatus;
  limit: number;
  /** Rows strictly after this position (older, or same instant with a smaller id). */
  after?: ListPosition;
}

/** A complete row for bulk import (seed script, tests that need history): no hooks, no checks. */
export interface ImportedOrder extends NewOrder {
  id: string;
  status: OrderStatus;
  createdAt: Date;
  processedAt?: Date | null;
  workflowStartedAt?: Date | null;
  unitPrice?: string | null;
  failureKind?: PaymentFailureKind | null;
}

/** Columns whose per-minute counts the dashboard charts. */
export type TimelineColumn = 'created_at' | 'processed_at';

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

const money = (value: string | number): string => Number(value).toFixed(2);

function toOrder(row: OrderRow): StoredOrder {
  return {
    id: row.id,
    customerId: row.customerId,
    product: row.product,
    quantity: row.quantity,
    amount: money(row.amount),
    currency: row.currency,
    datePlaced: new Date(row.datePlaced).toISOString(),
    status: row.status,
    failureReason: row.failureReason ?? null,
    attempts: row.attempts,
    paymentReference: row.paymentReference ?? null,
    cancelReason: row.cancelReason ?? null,
    refundReference: row.refundReference ?? null,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    unitPrice: row.unitPrice === null || row.unitPrice === undefined ? null : money(row.unitPrice),
    workflowStartedAt: iso(row.workflowStartedAt ?? null),
    processedAt: iso(row.processedAt ?? null),
    statusVersion: row.statusVersion,
    placedBy: row.placedBy ?? null,
    failureKind: (row.failureKind as PaymentFailureKind | null | undefined) ?? null,
  };
}

/**
 * Rows strictly after `after` in newest-first (created_at, id) order. The first condition is a
 * plain range the index can seek to; the second breaks ties.
 */
export function keysetAfter(after: ListPosition): WhereOptions<{ createdAt: Date; id: string }>[] {
  const at = new Date(after.createdAt);
  return [
    { createdAt: { [Op.lte]: at } },
    { [Op.or]: [{ createdAt: { [Op.lt]: at } }, { id: { [Op.lt]: after.id } }] },
  ];
}

/**
 * The conditions of a filter. Each equality leads one of the indexes migrations 001 and 007
 * made, ending in (created_at, id): the planner seeks to the filter's first value and reads the
 * keyset order from the index.
 */
export function orderFilterWhere(
  filter: OrderFilter & { status?: OrderStatus },
): WhereOptions<OrderRow>[] {
  const where: WhereOptions<OrderRow>[] = [];
  const statuses = filter.statuses ?? (filter.status ? [filter.status] : []);
  if (statuses.length === 1) where.push({ status: statuses[0] as OrderStatus });
  else if (statuses.length > 1) where.push({ status: { [Op.in]: statuses } });
  const kinds = filter.failureKinds ?? [];
  if (kinds.length === 1) where.push({ failureKind: kinds[0] as string });
  else if (kinds.length > 1) where.push({ failureKind: { [Op.in]: kinds } });
  if (filter.customerId !== undefined) where.push({ customerId: filter.customerId });
  if (filter.product !== undefined) where.push({ product: filter.product });
  if (filter.placedFrom !== undefined)
    where.push({ createdAt: { [Op.gte]: new Date(filter.placedFrom) } });
  if (filter.placedTo !== undefined)
    where.push({ createdAt: { [Op.lte]: new Date(filter.placedTo) } });
  if (filter.orderIds !== undefined) where.push({ id: { [Op.in]: filter.orderIds } });
  if (filter.placedBy !== undefined) where.push({ placedBy: filter.placedBy });
  return where;
}

export type StatusWrite = 'applied' | 'stale' | 'missing';

function countsOf(rows: { status: string; count: number | string }[]): Record<OrderStatus, number> {
  const counts = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<
    OrderStatus,
    number
  >;
  for (const row of rows) {
    if (row.status in counts) counts[row.status as OrderStatus] = Number(row.count);
  }
  return counts;
}

/** Orders in SQL, as plain objects. */
export class OrderRepository {
  constructor(private readonly rows: OrderModel = OrderRow) {}

  private bound(): Sequelize {
    const { sequelize } = this.rows;
    if (!sequelize) throw new Error('the order model is not bound to a database');
    return sequelize;
  }

  async create(order: NewOrder & { id: string } & NewOrderExtras): Promise<StoredOrder> {
    const row = await this.rows.create({
      ...order,
      datePlaced: new Date(order.datePlaced),
      status: 'queued',
    });
    return toOrder(row);
  }

  async get(id: string): Promise<StoredOrder | null> {
    const row = await this.rows.findByPk(id);
    return row ? toOrder(row) : null;
  }

  /** The orders with these ids that exist, in no particular order (benchmark and fault checks). */
  async getMany(ids: readonly string[]): Promise<StoredOrder[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows.findAll({ where: { id: { [Op.in]: [...ids] } } });
    return rows.map(toOrder);
  }

  /**
   * Inserts complete rows in one statement, bypassing the model: for seeding a million rows in
   * minutes and for tests that need history. Never used for orders placed through the API.
   */
  async importOrders(orders: readonly ImportedOrder[]): Promise<void> {
    if (orders.length === 0) return;
    const sequelize = this.bound();
    await sequelize.getQueryInterface().bulkInsert(
      this.rows.tableName,
      orders.map((order) => ({
        id: order.id,
        customer_id: order.customerId,
        product: order.product,
        quantity: order.quantity,
        unit_price: order.unitPrice ?? null,
        amount: order.amount,
        currency: order.currency,
        date_placed: new Date(order.datePlaced),
        status: order.status,
        status_version: 0,
        attempts: 0,
        created_at: order.createdAt,
        updated_at: order.processedAt ?? order.createdAt,
        processed_at: order.processedAt ?? null,
        workflow_started_at: order.workflowStartedAt ?? order.createdAt,
        failure_kind: order.failureKind ?? null,
      })),
    );
  }

  /** The order created with this Idempotency-Key, with the hash of the request that created it. */
  async findByIdempotencyKey(
    key: string,
  ): Promise<{ order: StoredOrder; requestHash: string | null } | null> {
    const row = await this.rows.findOne({ where: { idempotencyKey: key } });
    return row ? { order: toOrder(row), requestHash: row.requestHash ?? null } : null;
  }

  /**
   * Newest first, keyset-paginated on (created_at, id) so a page costs the same at row 10 and
   * at row 1,000,000; served by `orders_status_created`, `orders_customer_created`,
   * `orders_product_created`, `orders_failure_kind_created` or `orders_created` depending on the
   * filter.
   */
  async list(query: OrderListQuery): Promise<StoredOrder[]> {
    const statuses = query.statuses ?? [];
    if (statuses.length > 1) {
      // `status IN (…)` ordered by time would read and sort every match; one index walk per
      // status, each stopping at `limit`, merged here, costs `statuses × limit` rows at most.
      const pages = await Promise.all(
        statuses.map((status) => this.list({ ...query, statuses: [status] })),
      );
      return pages
        .flat()
        .sort((a, b) => {
          // Newest first, then the larger id: the keyset order of one walk (ISO strings sort).
          const [x, y] = a.createdAt === b.createdAt ? [a.id, b.id] : [a.createdAt, b.createdAt];
          return x < y ? 1 : x > y ? -1 : 0;
        })
        .slice(0, query.limit);
    }
    const where = orderFilterWhere(query);
    if (query.after) where.push(...keysetAfter(query.after));
    const rows = await this.rows.findAll({
      where: { [Op.and]: where },
      order: [
        ['createdAt', 'DESC'],
        ['id', 'DESC'],
      ],
      limit: query.limit,
    });
    return rows.map(toOrder);
  }

  /** Orders whose workflow was never recorded as started, written before `createdBefore`. */
  async listUnstarted(createdBefore: Date, limit: number): Promise<StoredOrder[]> {
    const rows = await this.rows.findAll({
      where: { workflowStartedAt: null, createdAt: { [Op.lte]: createdBefore } },
      order: [['createdAt', 'ASC']],
      limit,
    });
    return rows.map(toOrder);
  }

  /**
   * Records that the order's workflow exists; the first record wins. Its outbox entry goes with
   * it (a trigger of migration 006).
   */
  async markWorkflowStarted(orderId: string, at: Date = new Date()): Promise<void> {
    await this.markWorkflowsStarted([orderId], at);
  }

  /** `markWorkflowStarted` for a batch, in one statement (the launcher's). */
  async markWorkflowsStarted(orderIds: readonly string[], at: Date = new Date()): Promise<void> {
    if (orderIds.length === 0) return;
    await this.rows.update(
      { workflowStartedAt: at },
      { where: { id: { [Op.in]: [...orderIds] }, workflowStartedAt: null } },
    );
  }

  /**
   * Applies a status change unless the row already has this version or a newer one, so running
   * the same activity twice, or a late attempt after a newer one, leaves the row as it is.
   */
  async applyStatus(change: StatusChange): Promise<StatusWrite> {
    const [affected] = await this.rows.update(
      {
        status: change.status,
        statusVersion: change.version,
        // Bounded here too, whoever wrote the change: a value too long for the column would be
        // refused by PostgreSQL and SQL Server on every retry, and the order would never move.
        failureReason: boundText(change.failureReason, TEXT_LIMITS.failureReason),
        // Like the reason: the kind of the failure the order is in now, cleared when it moves on.
        failureKind: change.failureKind ?? null,
        ...(change.paymentReference
          ? { paymentReference: boundText(change.paymentReference, TEXT_LIMITS.reference) }
          : {}),
        ...(change.cancelReason
          ? { cancelReason: boundText(change.cancelReason, TEXT_LIMITS.cancelReason) }
          : {}),
        ...(change.refundReference
          ? { refundReference: boundText(change.refundReference, TEXT_LIMITS.reference) }
          : {}),
        // `processed` is final, so this is written once: the dashboard's processed-per-minute.
        ...(change.status === 'processed' ? { processedAt: new Date() } : {}),
      },
      { where: { id: change.orderId, statusVersion: { [Op.lt]: change.version } } },
    );
    if (affected > 0) return 'applied';
    return (await this.rows.count({ where: { id: change.orderId } })) > 0 ? 'stale' : 'missing';
  }

  /**
   * Orders of this customer created in [from, to], both ends included: the velocity rule's "orders
   * in the minute up to this one". A range on `orders_customer_created`, never a table scan.
   */
  async countByCustomerBetween(customerId: string, from: Date, to: Date): Promise<number> {
    return this.rows.count({
      where: { customerId, createdAt: { [Op.between]: [from, to] } },
    });
  }

  /** How many orders match the filter (a bulk action's preview). */
  async count(filter: OrderFilter): Promise<number> {
    return this.rows.count({ where: { [Op.and]: orderFilterWhere(filter) } });
  }

  /** One real payment attempt was made for this order. */
  async recordPaymentAttempt(orderId: string): Promise<void> {
    await this.rows.increment('attempts', { by: 1, where: { id: orderId } });
  }

  /**
   * Orders per status from the counts the triggers of migration 006 keep with every insert,
   * status change and delete: six rows, whatever the table's size.
   */
  async countByStatus(): Promise<Record<OrderStatus, number>> {
    const rows = await this.bound().query<{ status: string; n: number | string }>(
      `SELECT status, n FROM ${STATUS_COUNTS_TABLE}`,
      { type: QueryTypes.SELECT },
    );
    return countsOf(rows.map((row) => ({ status: row.status, count: row.n })));
  }

  /** The same counts from a full `GROUP BY` of the table: what the kept counts must equal. */
  async countByStatusScan(): Promise<Record<OrderStatus, number>> {
    const rows = (await this.rows.count({ group: ['status'] })) as unknown as {
      status: string;
      count: number | string;
    }[];
    return countsOf(rows);
  }

  /**
   * Rows with `column` in each of `minutes` consecutive minutes from `from`, oldest first. One
   * index range count per minute, in one statement: each reads only its minute's index entries
   * (a covering range, no table rows, no sort), and no dialect-specific date functions are
   * needed. Grouping by a minute expression instead sorts every row of the hour: 4× slower in
   * SQLite at 40,000 orders an hour.
   */
  async countPerMinute(
    column: TimelineColumn,
    from: Date,
    minutes: number,
  ): Promise<{ minute: string; count: number }[]> {
    const starts = Array.from(
      { length: minutes + 1 },
      (_, i) => new Date(from.getTime() + i * MINUTE_MS),
    );
    const replacements: Record<string, Date | number> = {};
    const counts = starts.slice(0, -1).map((start, i) => {
      Object.assign(replacements, { [`i${i}`]: i, [`from${i}`]: start, [`to${i}`]: starts[i + 1] });
      return (
        `SELECT :i${i} AS bucket, (SELECT COUNT(*) FROM ${this.rows.tableName} ` +
        `WHERE ${column} >= :from${i} AND ${column} < :to${i}) AS count`
      );
    });
    const rows = await this.bound().query<{ bucket: number | string; count: number | string }>(
      counts.join(' UNION ALL '),
      { replacements, type: QueryTypes.SELECT },
    );
    const byBucket = new Map(rows.map((row) => [Number(row.bucket), Number(row.count)]));
    return starts.slice(0, -1).map((start, i) => ({
      minute: start.toISOString(),
      count: byBucket.get(i) ?? 0,
    }));
  }
}
