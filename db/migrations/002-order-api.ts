import type { MigrationFn } from 'umzug';
import { Op, type QueryInterface } from 'sequelize';
import { ORDERS_TABLE, apiOrderColumns } from '../models';

const ADDED = [
  ['unit_price', apiOrderColumns.unitPrice],
  ['idempotency_key', apiOrderColumns.idempotencyKey],
  ['request_hash', apiOrderColumns.requestHash],
  ['workflow_started_at', apiOrderColumns.workflowStartedAt],
  ['processed_at', apiOrderColumns.processedAt],
] as const;

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  for (const [column, definition] of ADDED) {
    await qi.addColumn(ORDERS_TABLE, column, { type: definition.type, allowNull: true });
  }
  // Rows written before the API existed had their workflows started by whoever wrote them:
  // without this, the reconciler would start a second run of every old order.
  await qi.sequelize.query(`UPDATE ${ORDERS_TABLE} SET workflow_started_at = created_at`);
  await qi.sequelize.query(
    `UPDATE ${ORDERS_TABLE} SET processed_at = updated_at WHERE status = 'processed'`,
  );

  // One order per Idempotency-Key. Partial, so the many orders sent without a key don't collide
  // (SQL Server treats NULLs as equal in a plain unique index).
  await qi.addIndex(ORDERS_TABLE, ['idempotency_key'], {
    name: 'orders_idempotency_key',
    unique: true,
    where: { idempotency_key: { [Op.ne]: null } },
  });
  // The reconciler's "orders without a workflow, oldest first": tiny, since almost every row has
  // its workflow recorded within milliseconds.
  await qi.addIndex(ORDERS_TABLE, ['created_at'], {
    name: 'orders_unstarted',
    where: { workflow_started_at: null },
  });
  // "Processed per minute over the last hour": a range scan on the newest entries.
  await qi.addIndex(ORDERS_TABLE, ['processed_at'], { name: 'orders_processed_at' });
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  for (const name of ['orders_processed_at', 'orders_unstarted', 'orders_idempotency_key']) {
    await qi.removeIndex(ORDERS_TABLE, name);
  }
  for (const [column] of [...ADDED].reverse()) await qi.removeColumn(ORDERS_TABLE, column);
};
