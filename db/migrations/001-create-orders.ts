import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import { ORDERS_TABLE, orderColumns } from '../models';

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.createTable(ORDERS_TABLE, orderColumns);
  // "Oldest queued", "failed orders" and the dashboard's status filter: equality on status, then
  // ordered by creation. The id breaks ties so keyset pagination is stable.
  await qi.addIndex(ORDERS_TABLE, ['status', 'created_at', 'id'], {
    name: 'orders_status_created',
  });
  // "Recent orders" (the default listing, newest first) and per-minute counts of created orders.
  await qi.addIndex(ORDERS_TABLE, ['created_at', 'id'], { name: 'orders_created' });
  await qi.addIndex(ORDERS_TABLE, ['customer_id', 'created_at', 'id'], {
    name: 'orders_customer_created',
  });
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.dropTable(ORDERS_TABLE);
};
