// What the worker bundles into the workflow sandbox.
export { processOrder, cancelSignal, retrySignal, statusQuery, ORDER_FAILED } from './processOrder';
export type { CancelRequest } from './processOrder';
