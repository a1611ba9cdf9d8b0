import { Op, type WhereOptions } from 'sequelize';
import type { NewOrder, Order, OrderStatus, StatusChange } from '../domain/order';
import { ORDER_STATUSES } from '../domain/order';
import { OrderRow } from './models';

function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    customerId: row.customerId,
    product: row.product,
    quantity: row.quantity,
    amount: Number(row.amount).toFixed(2),
    currency: row.currency,
    datePlaced: new Date(row.datePlaced).toISOString(),
    status: row.status,
    failureReason: row.failureReason,
    attempts: row.attempts,
    paymentReference: row.paymentReference,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

export type StatusWrite = 'applied' | 'stale' | 'missing';

/** Orders in SQL, as plain objects. */
export class OrderRepository {
  async create(order: NewOrder & { id: string }): Promise<Order> {
    const row = await OrderRow.create({
      ...order,
      datePlaced: new Date(order.datePlaced),
      status: 'queued',
    });
    return toOrder(row);
  }

  async get(id: string): Promise<Order | null> {
    const row = await OrderRow.findByPk(id);
    return row ? toOrder(row) : null;
  }

  /**
   * Applies a status change unless the row already has this version or a newer one, so running
   * the same activity twice, or a late attempt after a newer one, leaves the row as it is.
   */
  async applyStatus(change: StatusChange): Promise<StatusWrite> {
    const [affected] = await OrderRow.update(
      {
        status: change.status,
        statusVersion: change.version,
        failureReason: change.failureReason ?? null,
        ...(change.paymentReference ? { paymentReference: change.paymentReference } : {}),
      },
      { where: { id: change.orderId, statusVersion: { [Op.lt]: change.version } } },
    );
    if (affected > 0) return 'applied';
    return (await OrderRow.count({ where: { id: change.orderId } })) > 0 ? 'stale' : 'missing';
  }

  /** One real payment attempt was made for this order. */
  async recordPaymentAttempt(orderId: string): Promise<void> {
    await OrderRow.increment('attempts', { by: 1, where: { id: orderId } });
  }

  async countByStatus(where: WhereOptions<OrderRow> = {}): Promise<Record<OrderStatus, number>> {
    const rows = (await OrderRow.count({ where, group: ['status'] })) as unknown as {
      status: OrderStatus;
      count: number | string;
    }[];
    const counts = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<
      OrderStatus,
      number
    >;
    for (const row of rows) counts[row.status] = Number(row.count);
    return counts;
  }
}
