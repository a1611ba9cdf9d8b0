/** The order filters as the API's handlers and the database share them. */
import type { OrderFilter } from '../domain/bulk';
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
 * The repository's filter from the parsed query parameters or bulk body (same field names). A
 * range that ends before it starts is no error: it matches nothing, as the document says.
 */
export function orderFilterOf(input: QueryFilter | BulkFilterInput): OrderFilter {
  const { placedFrom, placedTo } = input;
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
