import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import {
  API_KEYS_TABLE,
  SESSIONS_TABLE,
  USERS_TABLE,
  apiKeyColumns,
  sessionColumns,
  userColumns,
} from '../credentials';
import { ORDERS_TABLE, placedByColumns } from '../models';

/**
 * Users, API keys and sessions, and who placed each order. Orders written before this have no
 * `placed_by`: staff still see them, no client does.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.createTable(USERS_TABLE, userColumns);
  await qi.createTable(API_KEYS_TABLE, apiKeyColumns);
  await qi.createTable(SESSIONS_TABLE, sessionColumns);
  // Revoking a user ends their sessions in one statement.
  await qi.addIndex(SESSIONS_TABLE, ['user_id'], { name: 'sessions_user' });
  await qi.addColumn(ORDERS_TABLE, 'placed_by', {
    type: placedByColumns.placedBy.type,
    allowNull: true,
  });
  // A client's own orders, newest first: the same keyset pages as the unfiltered list.
  await qi.addIndex(ORDERS_TABLE, ['placed_by', 'created_at', 'id'], {
    name: 'orders_placed_by_created',
  });
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.removeIndex(ORDERS_TABLE, 'orders_placed_by_created');
  await qi.removeColumn(ORDERS_TABLE, 'placed_by');
  await qi.dropTable(SESSIONS_TABLE);
  await qi.dropTable(API_KEYS_TABLE);
  await qi.dropTable(USERS_TABLE);
};
