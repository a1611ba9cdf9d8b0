import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import {
  FEATURE_TOGGLE_CHANGES_TABLE,
  FEATURE_TOGGLES_TABLE,
  featureToggleChangeColumns,
  featureToggleColumns,
} from '../models';

/**
 * Feature toggles and their audit trail. No rows are seeded: a toggle without a row has its
 * default from `domain/features.ts`, so adding a toggle in code needs no migration.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.createTable(FEATURE_TOGGLES_TABLE, featureToggleColumns);
  await qi.createTable(FEATURE_TOGGLE_CHANGES_TABLE, featureToggleChangeColumns);
  // "The latest changes of this toggle": the admin page's history, newest first.
  await qi.addIndex(FEATURE_TOGGLE_CHANGES_TABLE, ['name', 'changed_at'], {
    name: 'feature_toggle_changes_name_changed',
  });
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.dropTable(FEATURE_TOGGLE_CHANGES_TABLE);
  await qi.dropTable(FEATURE_TOGGLES_TABLE);
};
