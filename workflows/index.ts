// What the worker bundles into the workflow sandbox.
export {
  processOrder,
  cancelSignal,
  retrySignal,
  cancelUpdate,
  retryUpdate,
  statusQuery,
  ACTION_REFUSED,
  ORDER_FAILED,
} from './processOrder';
export type { CancelRequest } from './processOrder';
export {
  bulkAction,
  pauseBulkUpdate,
  resumeBulkUpdate,
  cancelBulkUpdate,
  bulkProgressQuery,
  BULK_CONTROL_REFUSED,
} from './bulkAction';
