import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import {
  BULK_ACTION_ITEMS_TABLE,
  BULK_ACTIONS_TABLE,
  ORDERS_TABLE,
  bulkActionColumns,
  bulkActionItemColumns,
  failureKindColumns,
} from '../models';

/**
 * Search filters and bulk actions. Every filter of the order listing gets an index that leads
 * with its equality column and ends with the listing's keyset order (created_at, id), so a page
 * is a seek and a short range at any table size; status and customer already have theirs (001).
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.addColumn(ORDERS_TABLE, 'failure_kind', {
    type: failureKindColumns.failureKind.type,
    allowNull: true,
  });
  await qi.addIndex(ORDERS_TABLE, ['product', 'created_at', 'id'], {
    name: 'orders_product_created',
  });
  await qi.addIndex(ORDERS_TABLE, ['failure_kind', 'created_at', 'id'], {
    name: 'orders_failure_kind_created',
  });
  await qi.createTable(BULK_ACTIONS_TABLE, bulkActionColumns);
  await qi.addIndex(BULK_ACTIONS_TABLE, ['created_at', 'id'], { name: 'bulk_actions_created' });
  await qi.createTable(BULK_ACTION_ITEMS_TABLE, bulkActionItemColumns);
  // Outcomes of one batch by kind (its progress counts and the outcome filter of its items).
  await qi.addIndex(BULK_ACTION_ITEMS_TABLE, ['bulk_action_id', 'outcome', 'seq'], {
    name: 'bulk_action_items_outcome',
  });
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.dropTable(BULK_ACTION_ITEMS_TABLE);
  await qi.dropTable(BULK_ACTIONS_TABLE);
  for (const name of ['orders_failure_kind_created', 'orders_product_created']) {
    await qi.removeIndex(ORDERS_TABLE, name);
  }
  await qi.removeColumn(ORDERS_TABLE, 'failure_kind');
};
