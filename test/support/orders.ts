import { randomUUID } from 'node:crypto';
import type { NewOrder } from '../../domain/order';

/** A valid order with a fresh id; override what the test is about. */
export function newOrder(overrides: Partial<NewOrder> = {}): NewOrder & { id: string } {
  return {
    id: randomUUID(),
    customerId: 'cust-42',
    product: 'Widget',
    quantity: 2,
    amount: '25.00',
    currency: 'GBP',
    datePlaced: '2026-07-01T09:00:00.000Z',
    ...overrides,
  };
}
