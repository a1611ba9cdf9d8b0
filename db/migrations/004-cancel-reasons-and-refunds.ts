import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import { ORDERS_TABLE, cancelOrderColumns } from '../models';

const ADDED = [
  ['cancel_reason', cancelOrderColumns.cancelReason],
  ['refund_reference', cancelOrderColumns.refundReference],
] as const;

/** Nullable columns only: existing rows stay valid and no data moves. */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  for (const [column, definition] of ADDED) {
    await qi.addColumn(ORDERS_TABLE, column, { type: definition.type, allowNull: true });
  }
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  for (const [column] of [...ADDED].reverse()) await qi.removeColumn(ORDERS_TABLE, column);
};
