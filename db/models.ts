import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';
import type { OrderStatus } from '../domain/order';

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
}

/** Column definitions shared by the model and the migration that creates the table. */
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
  failureReason: { type: DataTypes.STRING(1000), allowNull: true, field: 'failure_reason' },
  attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
  paymentReference: { type: DataTypes.STRING(100), allowNull: true, field: 'payment_reference' },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: 'updated_at' },
} as const;

export const ORDERS_TABLE = 'orders';

export function defineModels(sequelize: Sequelize): void {
  OrderRow.init(orderColumns, { sequelize, tableName: ORDERS_TABLE, timestamps: true });
}
