import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';
import type { OrderStatus } from '../domain/order';
import { TEXT_LIMITS } from '../domain/text';

export class OrderRow extends Model<InferAttributes<OrderRow>, InferCreationAttributes<OrderRow>> {
  declare id: string;
  declare customerId: string;
  declare product: string;
  declare quantity: number;
  /** DECIMAL comes back as a string on PostgreSQL and SQL Server, as a number on SQLite. */
  declare amount: string | number;
  declare currency: string;
  declare datePlaced: Date;
  declare status: OrderStatus;
  declare statusVersion: CreationOptional<number>;
  declare failureReason: CreationOptional<string | null>;
  declare attempts: CreationOptional<number>;
  declare paymentReference: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  // Added by migration 002 (the order API).
  declare unitPrice: CreationOptional<string | number | null>;
  declare idempotencyKey: CreationOptional<string | null>;
  declare requestHash: CreationOptional<string | null>;
  declare workflowStartedAt: CreationOptional<Date | null>;
  declare processedAt: CreationOptional<Date | null>;
  // Added by migration 004 (cancel reasons and refunds).
  declare cancelReason: CreationOptional<string | null>;
  declare refundReference: CreationOptional<string | null>;
  // Added by migration 005 (access control).
  declare placedBy: CreationOptional<string | null>;
  // Added by migration 007 (search and bulk actions).
  declare failureKind: CreationOptional<string | null>;
}

/**
 * The columns migration 001 created the table with. Frozen: 001 reads this object, so a column
 * added here would change what an already-shipped migration does. New columns go in their own
 * object, added by their own migration.
 */
export const orderColumns = {
  id: { type: DataTypes.STRING(64), primaryKey: true, allowNull: false },
  customerId: { type: DataTypes.STRING(100), allowNull: false, field: 'customer_id' },
  product: { type: DataTypes.STRING(200), allowNull: false },
  quantity: { type: DataTypes.INTEGER, allowNull: false },
  amount: { type: DataTypes.DECIMAL(14, 2), allowNull: false },
  currency: { type: DataTypes.STRING(3), allowNull: false },
  datePlaced: { type: DataTypes.DATE, allowNull: false, field: 'date_placed' },
  status: { type: DataTypes.STRING(16), allowNull: false },
  statusVersion: {
    type: DataTypes.INTEGER,
    allowNull: false,
    defaultValue: 0,
    field: 'status_version',
  },
  failureReason: {
    type: DataTypes.STRING(TEXT_LIMITS.failureReason),
    allowNull: true,
    field: 'failure_reason',
  },
  attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  paymentReference: {
    type: DataTypes.STRING(TEXT_LIMITS.reference),
    allowNull: true,
    field: 'payment_reference',
  },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: 'updated_at' },
} as const;

/** Columns added by migration 002 for the order API; all nullable, so old rows stay valid. */
export const apiOrderColumns = {
  /** What the client sent; `amount` = quantity × unitPrice. Null on rows older than the API. */
  unitPrice: { type: DataTypes.DECIMAL(12, 2), allowNull: true, field: 'unit_price' },
  idempotencyKey: { type: DataTypes.STRING(200), allowNull: true, field: 'idempotency_key' },
  /** SHA-256 of the normalised request, to tell a replay from a reuse of the key. */
  requestHash: { type: DataTypes.STRING(64), allowNull: true, field: 'request_hash' },
  /** Set once the order's workflow is known to exist; null rows are the reconciler's work. */
  workflowStartedAt: { type: DataTypes.DATE, allowNull: true, field: 'workflow_started_at' },
  /** When the order became processed: the dashboard's "processed per minute". */
  processedAt: { type: DataTypes.DATE, allowNull: true, field: 'processed_at' },
} as const;

/** Columns added by migration 004: why an operator cancelled, and the refund that followed. */
export const cancelOrderColumns = {
  cancelReason: {
    type: DataTypes.STRING(TEXT_LIMITS.cancelReason),
    allowNull: true,
    field: 'cancel_reason',
  },
  refundReference: {
    type: DataTypes.STRING(TEXT_LIMITS.reference),
    allowNull: true,
    field: 'refund_reference',
  },
} as const;

/** Column added by migration 005: who placed the order (`client:<name>` or `user:<name>`). */
export const placedByColumns = {
  placedBy: { type: DataTypes.STRING(100), allowNull: true, field: 'placed_by' },
} as const;

export const ORDERS_TABLE = 'orders';
/** Orders whose workflow is not known to have started (migration 006, kept by triggers). */
export const LAUNCHES_TABLE = 'order_launches';
/** Orders per status (migration 006, kept by triggers). */
export const STATUS_COUNTS_TABLE = 'order_status_counts';

export type OrderModel = typeof OrderRow;

/**
 * Binds a model class to this connection. Each database gets its own subclass, so two databases
 * open in one process (a test's second handle, a seed script) never share a connection.
 */
export function defineModels(sequelize: Sequelize): OrderModel {
  class BoundOrderRow extends OrderRow {}
  BoundOrderRow.init(
    {
      ...orderColumns,
      ...apiOrderColumns,
      ...cancelOrderColumns,
      ...placedByColumns,
      ...failureKindColumns,
    },
    {
      sequelize,
      modelName: 'OrderRow',
      tableName: ORDERS_TABLE,
      timestamps: true,
      // SQL Server: the table has triggers (migration 006), so no bare OUTPUT clause.
      hasTrigger: true,
    },
  );
  return BoundOrderRow;
}

// ---------------------------------------------------------------------------------------------
// Feature toggles (migration 003). A toggle has a row only once an operator changed it; until
// then it has its default from `domain/features.ts`.

export class FeatureToggleRow extends Model<
  InferAttributes<FeatureToggleRow>,
  InferCreationAttributes<FeatureToggleRow>
> {
  declare name: string;
  declare enabled: boolean;
  declare updatedBy: string;
  declare updatedAt: Date;
}

/** One row per change, never updated or deleted: who switched what, when. */
export class FeatureToggleChangeRow extends Model<
  InferAttributes<FeatureToggleChangeRow>,
  InferCreationAttributes<FeatureToggleChangeRow>
> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare enabled: boolean;
  declare changedBy: string;
  declare changedAt: Date;
}

export const FEATURE_TOGGLES_TABLE = 'feature_toggles';
export const FEATURE_TOGGLE_CHANGES_TABLE = 'feature_toggle_changes';

/** Frozen like `orderColumns`: migration 003 creates the tables from these objects. */
export const featureToggleColumns = {
  name: { type: DataTypes.STRING(100), primaryKey: true, allowNull: false },
  enabled: { type: DataTypes.BOOLEAN, allowNull: false },
  updatedBy: { type: DataTypes.STRING(100), allowNull: false, field: 'updated_by' },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: 'updated_at' },
} as const;

export const featureToggleChangeColumns = {
  id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true, allowNull: false },
  name: { type: DataTypes.STRING(100), allowNull: false },
  enabled: { type: DataTypes.BOOLEAN, allowNull: false },
  changedBy: { type: DataTypes.STRING(100), allowNull: false, field: 'changed_by' },
  changedAt: { type: DataTypes.DATE, allowNull: false, field: 'changed_at' },
} as const;

export interface FeatureModels {
  toggles: typeof FeatureToggleRow;
  changes: typeof FeatureToggleChangeRow;
}

/** The feature-toggle models bound to this connection, like `defineModels` for orders. */
export function defineFeatureModels(sequelize: Sequelize): FeatureModels {
  class BoundFeatureToggleRow extends FeatureToggleRow {}
  BoundFeatureToggleRow.init(featureToggleColumns, {
    sequelize,
    modelName: 'FeatureToggleRow',
    tableName: FEATURE_TOGGLES_TABLE,
    // `updatedAt` is written by the repository, in the same statement as the change it dates.
    timestamps: false,
  });
  class BoundFeatureToggleChangeRow extends FeatureToggleChangeRow {}
  BoundFeatureToggleChangeRow.init(featureToggleChangeColumns, {
    sequelize,
    modelName: 'FeatureToggleChangeRow',
    tableName: FEATURE_TOGGLE_CHANGES_TABLE,
    timestamps: false,
  });
  return { toggles: BoundFeatureToggleRow, changes: BoundFeatureToggleChangeRow };
}

// ---------------------------------------------------------------------------------------------
// Failure kinds and bulk actions (migration 007).

/** Column added by migration 007: the class of the last payment failure, for search. */
export const failureKindColumns = {
  failureKind: { type: DataTypes.STRING(32), allowNull: true, field: 'failure_kind' },
} as const;

/** One row per confirmed bulk action: what, which filter, who, and where it stands. */
export class BulkActionRow extends Model<
  InferAttributes<BulkActionRow>,
  InferCreationAttributes<BulkActionRow>
> {
  declare id: string;
  declare action: string;
  /** The filter as JSON, exactly as confirmed. */
  declare filter: string;
  declare reason: string | null;
  declare startedBy: string;
  declare state: string;
  declare ratePerSecond: number;
  /** Items written at confirm time: the orders the batch will touch, and no others. */
  declare matched: number;
  declare createdAt: Date;
  declare updatedAt: Date;
  declare finishedAt: Date | null;
}

/** One row per order of a batch, numbered in the order the batch works through them. */
export class BulkActionItemRow extends Model<
  InferAttributes<BulkActionItemRow>,
  InferCreationAttributes<BulkActionItemRow>
> {
  declare bulkActionId: string;
  declare seq: number;
  declare orderId: string;
  /** Null until the batch reaches it; then `applied`, `refused` or `failed`. */
  declare outcome: string | null;
  declare detail: string | null;
  declare doneAt: Date | null;
}

export const BULK_ACTIONS_TABLE = 'bulk_actions';
export const BULK_ACTION_ITEMS_TABLE = 'bulk_action_items';

/** Frozen like `orderColumns`: migration 007 creates the tables from these objects. */
export const bulkActionColumns = {
  id: { type: DataTypes.STRING(64), primaryKey: true, allowNull: false },
  action: { type: DataTypes.STRING(16), allowNull: false },
  filter: { type: DataTypes.TEXT, allowNull: false },
  reason: { type: DataTypes.STRING(TEXT_LIMITS.cancelReason), allowNull: true },
  startedBy: { type: DataTypes.STRING(100), allowNull: false, field: 'started_by' },
  state: { type: DataTypes.STRING(16), allowNull: false },
  ratePerSecond: { type: DataTypes.DOUBLE, allowNull: false, field: 'rate_per_second' },
  matched: { type: DataTypes.INTEGER, allowNull: false },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: 'updated_at' },
  finishedAt: { type: DataTypes.DATE, allowNull: true, field: 'finished_at' },
} as const;

export const bulkActionItemColumns = {
  bulkActionId: {
    type: DataTypes.STRING(64),
    primaryKey: true,
    allowNull: false,
    field: 'bulk_action_id',
  },
  seq: { type: DataTypes.INTEGER, primaryKey: true, allowNull: false },
  orderId: { type: DataTypes.STRING(64), allowNull: false, field: 'order_id' },
  outcome: { type: DataTypes.STRING(16), allowNull: true },
  detail: { type: DataTypes.STRING(TEXT_LIMITS.failureReason), allowNull: true },
  doneAt: { type: DataTypes.DATE, allowNull: true, field: 'done_at' },
} as const;

export interface BulkModels {
  actions: typeof BulkActionRow;
  items: typeof BulkActionItemRow;
}

/** The bulk-action models bound to this connection, like `defineModels` for orders. */
export function defineBulkModels(sequelize: Sequelize): BulkModels {
  class BoundBulkActionRow extends BulkActionRow {}
  BoundBulkActionRow.init(bulkActionColumns, {
    sequelize,
    modelName: 'BulkActionRow',
    tableName: BULK_ACTIONS_TABLE,
    timestamps: true,
  });
  class BoundBulkActionItemRow extends BulkActionItemRow {}
  BoundBulkActionItemRow.init(bulkActionItemColumns, {
    sequelize,
    modelName: 'BulkActionItemRow',
    tableName: BULK_ACTION_ITEMS_TABLE,
    timestamps: false,
  });
  return { actions: BoundBulkActionRow, items: BoundBulkActionItemRow };
}
