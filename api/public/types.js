// @ts-check
/**
 * The API's answers as the page reads them: the server's own types, so the page cannot drift
 * from what the API sends.
 * @typedef {import('../schemas').StatsResponse} Stats
 * @typedef {import('../schemas').OrderResponse} Order
 * @typedef {import('../schemas').OrderListResponse} OrderList
 * @typedef {import('../schemas').OrderDetailResponse} OrderDetail
 * @typedef {import('../schemas').WorkflowFactsResponse} WorkflowFacts
 * @typedef {import('../schemas').ActionAcceptedResponse} ActionAccepted
 * @typedef {import('../schemas').BulkActionResponse} BulkAction
 * @typedef {import('zod').infer<typeof import('../schemas').bulkPreviewResponse>} BulkPreview
 * @typedef {import('zod').infer<typeof import('../schemas').bulkItemsResponse>} BulkItems
 * @typedef {import('../demo/load').LoadStatus} LoadStatus
 * @typedef {import('../dashboard/system').SystemHealth} SystemHealth
 * @typedef {import('../dashboard/system').TaskQueueHealth} TaskQueueHealth
 */
export {};
