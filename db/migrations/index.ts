import type { RunnableMigration } from 'umzug';
import type { QueryInterface } from 'sequelize';
import * as createOrders from './001-create-orders';
import * as orderApi from './002-order-api';
import * as featureToggles from './003-feature-toggles';
import * as cancelReasonsAndRefunds from './004-cancel-reasons-and-refunds';
import * as accessControl from './005-access-control';
import * as launchOutboxAndStatusCounts from './006-launch-outbox-and-status-counts';
import * as searchAndBulkActions from './007-search-and-bulk-actions';

/**
 * Migrations in the order they run. Listed explicitly rather than globbed, so the same list works
 * from TypeScript sources and compiled output. Never edit one that has shipped: add the next.
 */
export const migrations: RunnableMigration<QueryInterface>[] = [
  { name: '001-create-orders', ...createOrders },
  { name: '002-order-api', ...orderApi },
  { name: '003-feature-toggles', ...featureToggles },
  { name: '004-cancel-reasons-and-refunds', ...cancelReasonsAndRefunds },
  { name: '005-access-control', ...accessControl },
  { name: '006-launch-outbox-and-status-counts', ...launchOutboxAndStatusCounts },
  { name: '007-search-and-bulk-actions', ...searchAndBulkActions },
];
