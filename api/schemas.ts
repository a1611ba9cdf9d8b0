/**
 * Every request and response shape of the API, as zod schemas. They validate requests, type the
 * handlers' answers, and are rendered into the OpenAPI document (`openapi.ts`): one source of
 * truth, so the documentation cannot drift from what the code accepts.
 */
import { z } from 'zod';
import { FEATURES, type FeatureName } from '../domain/features';
import { ORDER_STATUSES } from '../domain/order';
import { TEXT_LIMITS } from '../domain/text';
import { parseCents } from './money';

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_QUANTITY = 10_000;

/**
 * At most 8 integer digits, so quantity × unitPrice (≤ 12 digits) fits the DECIMAL(14, 2) amount
 * column and the finance package's amount format. No leading zeros, no exponent, no sign.
 */
const PRICE_PATTERN = /^(0|[1-9]\d{0,7})(\.\d{1,2})?$/;
const MAX_UNIT_PRICE = 99_999_999.99;
const PRICE_RULE = 'must be a positive decimal with at most 2 places (e.g. "12.50")';

/** ISO 4217 codes this runtime knows; the finance package checks the same list. */
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/**
 * Free text that goes into SQL and the Temporal UI: no control characters (PostgreSQL refuses
 * NUL, and they make logs lie), no lone UTF-16 surrogates (not encodable as UTF-8), not blank.
 * The maximum is in UTF-16 code units, never more than characters, so it fits the column.
 */
function text(max: number) {
  return z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !/[\p{Cc}\p{Cs}]/u.test(value), 'must not contain control characters')
    .refine((value) => value.trim().length > 0, 'must not be blank');
}

const unitPrice = z
  .union([
    z
      .number(PRICE_RULE)
      .positive(PRICE_RULE)
      .max(MAX_UNIT_PRICE, `must be at most ${MAX_UNIT_PRICE}`),
    z.string(PRICE_RULE).regex(PRICE_PATTERN, PRICE_RULE),
  ])
  .transform((value, ctx) => {
    // A JSON number arrives as a binary double: accept it only when its shortest decimal form
    // has at most 2 places (12.5 yes, 0.001 no). Strings are taken digit for digit.
    const cents = parseCents(typeof value === 'number' ? String(value) : value);
    if (cents === null || cents <= 0) {
      ctx.addIssue({ code: 'custom', message: PRICE_RULE });
      return z.NEVER;
    }
    return cents;
  })
  .meta({
    description:
      'Price of one unit: a decimal with at most 2 places, above 0 and at most 99999999.99, as a ' +
      'JSON string ("12.50", exact, recommended) or a JSON number (12.5).',
    examples: ['12.50', 12.5],
  });

const datePlaced = z.iso
  .datetime({
    offset: true,
    message:
      'must be an ISO-8601 date-time with an offset (Z or ±hh:mm), e.g. 2026-07-01T10:00:00+01:00',
  })
  .transform((value) => new Date(value).toISOString())
  .meta({
    description:
      'When the order was placed, with an explicit offset; stored in UTC with millisecond ' +
      'precision. Defaults to the time of the request. Future dates are accepted here and ' +
      'rejected by the finance package, so the order ends failed.',
    examples: ['2026-07-01T10:00:00+01:00'],
  });

const OBJECT_BODY = 'must be a JSON object';

export const createOrderRequest = z.strictObject(
  {
    customerId: text(100).meta({ examples: ['cust-1'] }),
    product: text(200).meta({ examples: ['Widget'] }),
    quantity: z
      .number('must be an integer from 1 to 10000')
      .int('must be an integer from 1 to 10000')
      .min(1, 'must be an integer from 1 to 10000')
      .max(MAX_QUANTITY, 'must be an integer from 1 to 10000'),
    unitPrice,
    currency: z
      .string('must be a 3-letter ISO 4217 code such as GBP')
      .regex(/^[A-Z]{3}$/, 'must be a 3-letter upper-case ISO 4217 code such as GBP')
      .refine((code) => CURRENCIES.has(code), 'is not an ISO 4217 currency code')
      .meta({ examples: ['GBP'] }),
    datePlaced: datePlaced.optional(),
  },
  OBJECT_BODY,
);
export type CreateOrderInput = z.output<typeof createOrderRequest>;

/**
 * Visible ASCII, so it is safe in logs and headers. Scoped to the whole API (not per customer):
 * clients should use a UUID per logical order.
 */
export const idempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1 to 200 visible ASCII characters (a UUID is ideal)')
  .optional();

/** Opaque page position: base64url of `[createdAt, id]` of the last order of the page. */
export function encodeCursor(position: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

const cursorPosition = z.tuple([z.iso.datetime(), z.string().min(1).max(200)]);

const cursor = z
  .string()
  .max(400)
  .transform((value, ctx) => {
    try {
      const decoded: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
      const [createdAt, id] = cursorPosition.parse(decoded);
      return { createdAt, id };
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a cursor this API gave out' });
      return z.NEVER;
    }
  })
  .meta({ description: 'The `nextCursor` of the previous page.' });

export const listOrdersQuery = z.strictObject({
  status: z
    .enum(ORDER_STATUSES, `must be one of ${ORDER_STATUSES.join(', ')}`)
    .optional()
    .meta({ description: 'Only orders in this status.' }),
  customerId: text(100).optional().meta({ description: "Only this customer's orders." }),
  limit: z.coerce
    .number(`must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .int(`must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .min(1, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .max(MAX_PAGE_SIZE, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: 'Page size.' }),
  cursor: cursor.optional(),
});

export const orderIdParams = z.object({ id: z.string().meta({ description: 'Order id.' }) });

export const cancelOrderRequest = z.strictObject(
  {
    reason: text(TEXT_LIMITS.cancelReason)
      .optional()
      .meta({ description: 'Why: stored with the order and shown on its page.' }),
  },
  OBJECT_BODY,
);

export const retryOrderRequest = z.strictObject({}, OBJECT_BODY);

// ---------------------------------------------------------------------------------------------
// Responses

const orderStatus = z.enum(ORDER_STATUSES);
const timestamp = z.iso.datetime();

export const orderResponse = z.object({
  id: z.string(),
  customerId: z.string(),
  product: z.string(),
  quantity: z.number().int(),
  unitPrice: z.string().nullable().meta({ description: 'Null on orders older than the API.' }),
  amount: z.string().meta({ description: 'quantity × unitPrice, exact, 2 places.' }),
  currency: z.string(),
  datePlaced: timestamp,
  status: orderStatus,
  failureReason: z.string().nullable(),
  attempts: z.number().int().meta({ description: 'Payment attempts made so far.' }),
  paymentReference: z
    .string()
    .nullable()
    .meta({ description: 'Set when charged; a cancelled order keeps it beside its refund.' }),
  cancelReason: z
    .string()
    .nullable()
    .meta({ description: "The operator's reason, on a cancelled order." }),
  refundReference: z.string().nullable().meta({
    description: 'Set when money taken before a cancel took effect was refunded.',
  }),
  createdAt: timestamp,
  updatedAt: timestamp,
  processedAt: timestamp.nullable(),
  workflowId: z.string(),
  workflowStartedAt: timestamp.nullable().meta({
    description:
      'Null until the workflow is known to exist: null in the 201 answer to POST, set once the launcher has started it.',
  }),
});
export type OrderResponse = z.infer<typeof orderResponse>;

export const orderListResponse = z.object({
  orders: z.array(orderResponse),
  nextCursor: z.string().nullable().meta({ description: 'Null on the last page.' }),
});
export type OrderListResponse = z.infer<typeof orderListResponse>;

const temporalError = z.object({
  error: z.object({
    code: z.enum(['workflow_not_found', 'temporal_unavailable']),
    message: z.string(),
  }),
});

const workflowFacts = z.object({
  workflowId: z.string(),
  runId: z.string(),
  executionStatus: z
    .string()
    .meta({ description: 'RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, …' }),
  startTime: timestamp,
  closeTime: timestamp.nullable(),
  historyLength: z.number().int(),
  workflowStatus: orderStatus
    .nullable()
    .meta({ description: "The workflow's own view (status query); null when it is closed." }),
  history: z.array(z.object({ status: orderStatus, at: timestamp })).nullable(),
  pendingAction: z.enum(['cancel', 'retry']).nullable().meta({
    description: 'An accepted cancel or retry the workflow is still carrying out.',
  }),
  payment: z
    .object({
      attempt: z.number().int().meta({ description: 'Current attempt number of this round.' }),
      state: z.string(),
      lastFailure: z.string().nullable(),
      nextRetryAt: timestamp.nullable().meta({ description: 'Set while backing off.' }),
    })
    .nullable()
    .meta({ description: 'The payment activity in flight or backing off; null when none.' }),
  lastFailure: z.string().nullable(),
});
export type WorkflowFactsResponse = z.infer<typeof workflowFacts>;

export const orderDetailResponse = orderResponse.extend({
  temporalUiUrl: z.url(),
  temporal: z.union([workflowFacts, temporalError]),
});
export type OrderDetailResponse = z.infer<typeof orderDetailResponse>;

export const actionAcceptedResponse = z.object({
  orderId: z.string(),
  workflowId: z.string(),
  action: z.enum(['cancel', 'retry']),
  status: orderStatus.meta({ description: 'Status when the workflow accepted the action.' }),
  message: z.string(),
});
export type ActionAcceptedResponse = z.infer<typeof actionAcceptedResponse>;

const statusCounts = z.object(
  Object.fromEntries(ORDER_STATUSES.map((status) => [status, z.number().int()])) as Record<
    (typeof ORDER_STATUSES)[number],
    z.ZodNumber
  >,
);

export const statsResponse = z.object({
  byStatus: z.object({
    sql: statusCounts,
    temporal: statusCounts
      .nullable()
      .meta({ description: 'From Temporal visibility; null when Temporal is unreachable.' }),
    temporalError: z.string().nullable(),
    temporalCountedAt: timestamp.nullable().meta({
      description:
        'When the Temporal counts were read: they are reused for up to 2 s (the SQL counts are live).',
    }),
  }),
  perMinute: z
    .array(
      z.object({
        minute: timestamp,
        created: z.number().int(),
        processed: z.number().int(),
      }),
    )
    .meta({ description: 'The last 60 minutes, oldest first, the current minute last.' }),
  generatedAt: timestamp,
});
export type StatsResponse = z.infer<typeof statsResponse>;

// ---------------------------------------------------------------------------------------------
// Admin: feature toggles

/** How many audit rows `GET /api/admin/features` returns. */
export const FEATURE_CHANGES_SHOWN = 50;

const featureName = z.enum(Object.keys(FEATURES) as [FeatureName, ...FeatureName[]]);

export const featureNameParam = featureName.meta({
  description: 'The toggle (names are case-sensitive); any other name answers 404 unknown_feature.',
});

/**
 * Who made the change, as recorded in the audit row. A label, not an identity: every operator
 * holds the same token, so this is what the operator says their name is.
 */
export const operatorNameHeader = z
  .string()
  .regex(/^[\x20-\x7e]{1,100}$/, 'must be 1 to 100 printable ASCII characters')
  .refine((value) => value.trim().length > 0, 'must not be blank')
  .transform((value) => value.trim())
  .optional()
  .meta({
    description: 'Who is making the change, for the audit row; `operator` when absent.',
    examples: ['alice'],
  });

export const setFeatureRequest = z.strictObject(
  { enabled: z.boolean('must be true or false') },
  OBJECT_BODY,
);

export const featureToggleResponse = z.object({
  name: featureName,
  description: z.string(),
  enabled: z.boolean(),
  updatedBy: z
    .string()
    .nullable()
    .meta({ description: 'Who last changed it; null while it has its default.' }),
  updatedAt: timestamp.nullable(),
});
export type FeatureToggleResponse = z.infer<typeof featureToggleResponse>;

export const featureToggleChangeResponse = z.object({
  name: featureName,
  enabled: z.boolean().meta({ description: 'The value it was set to.' }),
  changedBy: z.string(),
  changedAt: timestamp,
});

export const featureListResponse = z.object({
  features: z.array(featureToggleResponse).meta({ description: 'Every toggle the code defines.' }),
  changes: z
    .array(featureToggleChangeResponse)
    .meta({ description: `The latest ${FEATURE_CHANGES_SHOWN} changes, newest first.` }),
});
export type FeatureListResponse = z.infer<typeof featureListResponse>;

export const healthResponse = z.object({ status: z.literal('ok') });

export const readyResponse = z.object({
  status: z.literal('ready'),
  checks: z.object({ database: z.literal('ok'), temporal: z.literal('ok') }),
});

export const errorResponse = z.object({
  error: z.object({
    code: z.string().meta({ examples: ['validation_failed'] }),
    message: z.string(),
    details: z
      .array(
        z.object({
          path: z.string().meta({ description: 'The field, query parameter or header.' }),
          message: z.string(),
        }),
      )
      .optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorResponse>;
export type ErrorDetail = NonNullable<ErrorBody['error']['details']>[number];

/**
 * Named schemas for the OpenAPI document's `components`. Requests are rendered as what a client
 * sends (zod "input"), responses as what the API answers ("output").
 */
export const requestSchemas = z.registry<{ id: string }>();
createOrderRequest.register(requestSchemas, { id: 'CreateOrderRequest' });
cancelOrderRequest.register(requestSchemas, { id: 'CancelOrderRequest' });
retryOrderRequest.register(requestSchemas, { id: 'RetryOrderRequest' });
setFeatureRequest.register(requestSchemas, { id: 'SetFeatureRequest' });

export const responseSchemas = z.registry<{ id: string }>();
orderResponse.register(responseSchemas, { id: 'Order' });
orderListResponse.register(responseSchemas, { id: 'OrderList' });
orderDetailResponse.register(responseSchemas, { id: 'OrderDetail' });
actionAcceptedResponse.register(responseSchemas, { id: 'ActionAccepted' });
statsResponse.register(responseSchemas, { id: 'Stats' });
healthResponse.register(responseSchemas, { id: 'Health' });
readyResponse.register(responseSchemas, { id: 'Ready' });
featureToggleResponse.register(responseSchemas, { id: 'FeatureToggle' });
featureToggleChangeResponse.register(responseSchemas, { id: 'FeatureToggleChange' });
featureListResponse.register(responseSchemas, { id: 'FeatureList' });
errorResponse.register(responseSchemas, { id: 'Error' });
