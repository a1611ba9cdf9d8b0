import { Op, QueryTypes, Utils, type WhereOptions } from 'sequelize';
import {
  BULK_OUTCOMES,
  isFinishedBulkState,
  type BulkCounts,
  type BulkItemRef,
  type BulkItemResult,
  type BulkOutcome,
  type BulkState,
  type OrderFilter,
} from '../domain/bulk';
import type { OrderAction } from '../domain/order';
import { boundText, TEXT_LIMITS } from '../domain/text';
import type { BulkActionItemRow, BulkActionRow, BulkModels, OrderModel } from './models';
import { keysetAfter, orderFilterWhere, type ListPosition } from './orders';

/** A confirmed bulk action as stored. */
export interface BulkActionRecord {
  id: string;
  action: OrderAction;
  filter: OrderFilter;
  reason: string | null;
  startedBy: string;
  state: BulkState;
  ratePerSecond: number;
  matched: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** One order of a batch and what became of it. */
export interface BulkItemRecord {
  seq: number;
  orderId: string;
  outcome: BulkOutcome | null;
  detail: string | null;
  doneAt: string | null;
}

export interface NewBulkAction {
  id: string;
  action: OrderAction;
  filter: OrderFilter;
  reason: string | null;
  startedBy: string;
  ratePerSecond: number;
}

function toRecord(row: BulkActionRow): BulkActionRecord {
  return {
    id: row.id,
    action: row.action as OrderAction,
    filter: JSON.parse(row.filter) as OrderFilter,
    reason: row.reason ?? null,
    startedBy: row.startedBy,
    state: row.state as BulkState,
    ratePerSecond: Number(row.ratePerSecond),
    matched: row.matched,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    finishedAt: row.finishedAt ? new Date(row.finishedAt).toISOString() : null,
  };
}

function toItem(row: BulkActionItemRow): BulkItemRecord {
  return {
    seq: row.seq,
    orderId: row.orderId,
    outcome: (row.outcome as BulkOutcome | null) ?? null,
    detail: row.detail ?? null,
    doneAt: row.doneAt ? new Date(row.doneAt).toISOString() : null,
  };
}

/** The SQL a model's query generator makes of a WHERE; not part of Sequelize's typings. */
interface WhereGenerator {
  whereQuery(where: WhereOptions, options: { model: OrderModel }): string;
}

/** Bulk actions and their items. */
export class BulkActionRepository {
  constructor(
    private readonly models: BulkModels,
    private readonly orders: OrderModel,
  ) {}

  private get sequelize() {
    const { sequelize } = this.models.actions;
    if (!sequelize) throw new Error('the bulk-action models are not bound to a database');
    return sequelize;
  }

  /**
   * Writes the batch and, in the same transaction, one item per order the filter matches now, in
   * one `INSERT … SELECT`: the batch touches exactly these orders, never one that enters the
   * filter later. Items are numbered oldest first, the order the workflow works through them.
   */
  async create(batch: NewBulkAction): Promise<BulkActionRecord> {
    const { actions, items } = this.models;
    const generator = this.sequelize.getQueryInterface().queryGenerator as WhereGenerator;
    // Attribute names to column names first: the generator alone would write `customerId`.
    const mapped = Utils.mapWhereFieldNames(
      { [Op.and]: orderFilterWhere(batch.filter) },
      this.orders,
    );
    const where = generator.whereQuery(mapped as WhereOptions, { model: this.orders });
    return this.sequelize.transaction(async (transaction) => {
      const now = new Date();
      await actions.create(
        {
          id: batch.id,
          action: batch.action,
          filter: JSON.stringify(batch.filter),
          reason: batch.reason,
          startedBy: batch.startedBy,
          state: 'running',
          ratePerSecond: batch.ratePerSecond,
          matched: 0,
          createdAt: now,
          updatedAt: now,
          finishedAt: null,
        },
        { transaction },
      );
      await this.sequelize.query(
        `INSERT INTO ${items.tableName} (bulk_action_id, seq, order_id) ` +
          `SELECT :batchId, ROW_NUMBER() OVER (ORDER BY created_at, id), id ` +
          `FROM ${this.orders.tableName} ${where}`,
        { replacements: { batchId: batch.id }, transaction, type: QueryTypes.INSERT },
      );
      const matched = await items.count({ where: { bulkActionId: batch.id }, transaction });
      await actions.update({ matched }, { where: { id: batch.id }, transaction });
      const row = await actions.findByPk(batch.id, { transaction });
      if (!row) throw new Error(`bulk action ${batch.id} vanished inside its own transaction`);
      return toRecord(row);
    });
  }

  async get(id: string): Promise<BulkActionRecord | null> {
    const row = await this.models.actions.findByPk(id);
    return row ? toRecord(row) : null;
  }

  /** Newest first, keyset-paginated like the orders. */
  async list(query: { limit: number; after?: ListPosition }): Promise<BulkActionRecord[]> {
    const where = (query.after ? keysetAfter(query.after) : []) as WhereOptions<BulkActionRow>[];
    const rows = await this.models.actions.findAll({
      where: { [Op.and]: where },
      order: [
        ['createdAt', 'DESC'],
        ['id', 'DESC'],
      ],
      limit: query.limit,
    });
    return rows.map(toRecord);
  }

  /** Items done so far, by outcome. */
  async counts(id: string): Promise<BulkCounts> {
    const rows = (await this.models.items.count({
      where: { bulkActionId: id, outcome: { [Op.ne]: null } },
      group: ['outcome'],
    })) as unknown as { outcome: BulkOutcome; count: number | string }[];
    const counts: BulkCounts = { applied: 0, refused: 0, failed: 0 };
    for (const row of rows) {
      if ((BULK_OUTCOMES as readonly string[]).includes(row.outcome))
        counts[row.outcome] = Number(row.count);
    }
    return counts;
  }

  /** The next items after `afterSeq`, in order. */
  async nextItems(id: string, afterSeq: number, limit: number): Promise<BulkItemRef[]> {
    const rows = await this.models.items.findAll({
      where: { bulkActionId: id, seq: { [Op.gt]: afterSeq } },
      order: [['seq', 'ASC']],
      limit,
    });
    return rows.map((row) => ({ seq: row.seq, orderId: row.orderId }));
  }

  async item(id: string, seq: number): Promise<BulkItemRecord | null> {
    const row = await this.models.items.findOne({ where: { bulkActionId: id, seq } });
    return row ? toItem(row) : null;
  }

  /** A page of items, in order, optionally of one outcome (`pending`: not reached yet). */
  async items(
    id: string,
    query: { outcome?: BulkOutcome | 'pending'; afterSeq?: number; limit: number },
  ): Promise<BulkItemRecord[]> {
    const where: WhereOptions<BulkActionItemRow> = {
      bulkActionId: id,
      seq: { [Op.gt]: query.afterSeq ?? 0 },
      ...(query.outcome ? { outcome: query.outcome === 'pending' ? null : query.outcome } : {}),
    };
    const rows = await this.models.items.findAll({
      where,
      order: [['seq', 'ASC']],
      limit: query.limit,
    });
    return rows.map(toItem);
  }

  /**
   * Records an item's outcome unless one is recorded already; answers the recorded one. The
   * first record wins, so an activity that runs twice cannot rewrite what happened.
   */
  async recordOutcome(id: string, seq: number, result: BulkItemResult): Promise<BulkItemResult> {
    await this.models.items.update(
      {
        outcome: result.outcome,
        detail: boundText(result.detail, TEXT_LIMITS.failureReason),
        doneAt: new Date(),
      },
      { where: { bulkActionId: id, seq, outcome: null } },
    );
    const stored = await this.item(id, seq);
    if (!stored?.outcome) throw new Error(`bulk action ${id} has no item ${seq}`);
    return { outcome: stored.outcome, detail: stored.detail };
  }

  /** The batch's state as its workflow last reported it; a finished state is final. */
  async setState(id: string, state: BulkState): Promise<void> {
    const finished = isFinishedBulkState(state);
    await this.models.actions.update(
      { state, ...(finished ? { finishedAt: new Date() } : {}) },
      { where: { id, finishedAt: null } },
    );
  }
}
