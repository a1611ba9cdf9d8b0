/** The order filters as the API's handlers and the database share them. */
import type { OrderFilter } from '../domain/bulk';
import { validationError } from './errors';
import type { BulkFilterInput } from './schemas';

type QueryFilter = Partial<{
  status: OrderFilter['statuses'];
  failureKind: OrderFilter['failureKinds'];
  customerId: string;
  product: string;
  placedFrom: string;
  placedTo: string;
  orderIds: string[];
}>;

/**
 * The repository's filter from the parsed query parameters or bulk body (same field names), with
 * the one rule a schema cannot say: a time range must not end before it starts (400 `placedTo`).
 */
export function orderFilterOf(input: QueryFilter | BulkFilterInput, prefix = ''): OrderFilter {
  const { placedFrom, placedTo } = input;
  if (placedFrom && placedTo && new Date(placedTo) < new Date(placedFrom)) {
    throw validationError([
      { path: `${prefix}placedTo`, message: 'must not be before placedFrom' },
    ]);
  }
  return {
    ...(input.status ? { statuses: input.status } : {}),
    ...(input.failureKind ? { failureKinds: input.failureKind } : {}),
    ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
    ...(input.product !== undefined ? { product: input.product } : {}),
    ...(placedFrom ? { placedFrom: new Date(placedFrom).toISOString() } : {}),
    ...(placedTo ? { placedTo: new Date(placedTo).toISOString() } : {}),
    ...(input.orderIds ? { orderIds: input.orderIds } : {}),
  };
}
