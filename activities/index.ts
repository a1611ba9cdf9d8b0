export { createOrderActivities, paymentIdempotencyKey } from './orders';
export type { OrderActivities, OrderActivityDeps, ChargeInput, ChargeResult } from './orders';
