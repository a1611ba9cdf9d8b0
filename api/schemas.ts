/**
 * Every request and response shape of the API, as zod schemas. They validate requests, type the
 * handlers' answers, and are rendered into the OpenAPI document (`openapi.ts`): one source of
 * truth, so the documentation cannot drift from what the code accepts.
 */
import { z } from 'zod';
import { PAYMENT_FAILURE_KINDS } from '../domain/errors';
import { FEATURES, type FeatureName } from '../domain/features';
import { BULK_STATES } from '../domain/bulk';
import { financeModeSchema } from '../domain/finance';
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
 * column and the finance package's amount format. No leading zeros, no exponent, no sign, and
 * above 0 in the pattern itself ("0", "0.0" and "0.00" do not match), so the document says it.
 */
const PRICE_PATTERN = /^(?:[1-9]\d{0,7}(?:\.\d{1,2})?|0\.(?:[1-9]\d?|0[1-9]))$/;
const MAX_UNIT_PRICE = 99_999_999.99;
const PRICE_RULE = 'must be a positive decimal with at most 2 places (e.g. "12.50")';

/** ISO 4217 codes this runtime knows; the finance package checks the same list. */
const CURRENCIES = Intl.supportedValuesOf('currency') as [string, ...string[]];

/**
 * Every pattern here is a Unicode-mode (`u`) regular expression, as JSON Schema validators run
 * them: `[^\ud800-\udfff]` then refuses lone surrogates only, not the pairs that make up an emoji.
 */
// Ranges, not `\p{Cc}`: test generators that read the document's patterns handle ranges.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]*$/u;
/** Something other than white space (what `trim()` removes, `\s` in a pattern). */
const NOT_BLANK = /\S/u;

/**
 * A string of at most `max` UTF-16 code units, as the columns count (SQL Server's NVARCHAR; an
 * emoji counts 2). zod's `max` and JSON Schema's `maxLength` count characters, so the check is
 * both, and the document carries the exact bound as `x-maxUtf16Length` beside `maxLength`.
 */
function utf16String(max: number) {
  const message = `must be at most ${max} characters`;
  return z
    .string()
    .max(max, message)
    .refine((value) => value.length <= max, message)
    .meta({ 'x-maxUtf16Length': max });
}

/**
 * Free text that goes into SQL and the Temporal UI: no control characters (PostgreSQL refuses
 * NUL, and they make logs lie), no lone UTF-16 surrogates (not encodable as UTF-8), not blank.
 * The maximum is in UTF-16 code units, so it fits the column. Each other rule is a pattern, so
 * the OpenAPI document states it as the server applies it.
 */
function text(max: number) {
  return utf16String(max)
    .min(1, 'must not be empty')
    .regex(NO_CONTROL, 'must not contain control characters')
    .regex(NOT_BLANK, 'must not be blank');
}

const unitPrice = z
  .union([
    z
      .number(PRICE_RULE)
      .positive(PRICE_RULE)
      .multipleOf(0.01, PRICE_RULE)
      .max(MAX_UNIT_PRICE, `must be at most ${MAX_UNIT_PRICE}`),
    z.string(PRICE_RULE).regex(PRICE_PATTERN, PRICE_RULE),
  ])
  .transform((value, ctx) => {
    // A JSON number arrives as a binary double: accept it only when its shortest decimal form
    // has at most 2 places (12.5 yes, 0.001 no), which is what `multipleOf: 0.01` says of the
    // decimal a client wrote. Strings are taken digit for digit; the pattern already holds.
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

/**
 * Years 1000 to 9998: whatever the offset, the instant is then a four-digit year in UTC too,
 * which PostgreSQL stores and compares (year 0 is not a year there) and an ISO answer can show.
 */
const FOUR_DIGIT_YEAR = /^(?:1\d{3}|[2-8]\d{3}|9\d{2}[0-8])-/;

const datePlaced = z.iso
  .datetime({
    offset: true,
    message:
      'must be an ISO-8601 date-time with an offset (Z or ±hh:mm), e.g. 2026-07-01T10:00:00+01:00',
  })
  .regex(FOUR_DIGIT_YEAR, 'must be in the years 1000 to 9998')
  .transform((value) => new Date(value).toISOString())
  .meta({
    // zod drops the format once a second pattern joins its own; the document keeps saying it.
    format: 'date-time',
    description:
      'When the order was placed, with an explicit offset; stored in UTC with millisecond ' +
      'precision. Years 1000 to 9998. Defaults to the time of the request. Future dates are ' +
      'accepted here and ' +
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
    // The list itself, not a check beside it: the document then names every code it takes.
    currency: z
      .enum(CURRENCIES, {
        error: ({ input }) =>
          typeof input === 'string' && /^[A-Z]{3}$/.test(input)
            ? 'is not an ISO 4217 currency code'
            : 'must be a 3-letter upper-case ISO 4217 code such as GBP',
      })
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

/**
 * Page position: `<createdAt in epoch milliseconds>.<id>` of the last order of the page. A
 * shape a pattern can state exactly, so any cursor the document allows is one the API reads (it
 * then means "orders older than that"); ids are UUIDs, which need no escaping in a URL.
 */
const CURSOR_PATTERN = /^(\d{1,14})\.([\w.~-]{1,64})$/;

/** The cursor that continues after `position`. */
export function encodeCursor(position: { createdAt: string; id: string }): string {
  return `${new Date(position.createdAt).getTime()}.${position.id}`;
}

const cursor = z
  .string()
  .regex(CURSOR_PATTERN, 'is not a cursor this API gave out')
  .transform((value) => {
    const [, millis = '0', id = ''] = CURSOR_PATTERN.exec(value) ?? [];
    return { createdAt: new Date(Number(millis)).toISOString(), id };
  })
  .meta({ description: 'The `nextCursor` of the previous page.' });

/** A comma-separated list of known values, e.g. `failed,cancelled`: a plain pattern, then split. */
function commaList<const T extends readonly [string, ...string[]]>(values: T) {
  const one = `(${values.join('|')})`;
  return z
    .string()
    .max(200)
    .regex(
      new RegExp(`^${one}(,${one})*$`),
      `must be one or more of ${values.join(', ')}, separated by commas`,
    )
    .transform((value) => [...new Set(value.split(','))] as T[number][]);
}

const instant = z.iso
  .datetime({
    offset: true,
    message: 'must be an ISO-8601 date-time with an offset (Z or ±hh:mm)',
  })
  .regex(FOUR_DIGIT_YEAR, 'must be in the years 1000 to 9998');

/** The filters the listing, the CSV export and bulk actions share, as query parameters. */
export const orderFilterQuery = {
  status: commaList(ORDER_STATUSES)
    .optional()
    .meta({ description: 'Only orders in these statuses, comma-separated: `failed,cancelled`.' }),
  failureKind: commaList(PAYMENT_FAILURE_KINDS).optional().meta({
    description: 'Only failed orders whose payment failed this way, comma-separated.',
  }),
  customerId: text(100).optional().meta({ description: "Only this customer's orders." }),
  product: text(200).optional().meta({ description: 'Only orders of this product.' }),
  placedFrom: instant.optional().meta({
    format: 'date-time',
    description: 'Only orders the API accepted at or after this instant (years 1000 to 9998).',
  }),
  placedTo: instant.optional().meta({
    description:
      'Only orders the API accepted at or before this instant; before `placedFrom`, nothing.',
  }),
};

export const listOrdersQuery = z.strictObject({
  ...orderFilterQuery,
  limit: z.coerce
    .number(`must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .int(`must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .min(1, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .max(MAX_PAGE_SIZE, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: 'Page size.' }),
  cursor: cursor.optional(),
});

/**
 * Any path segment a URL can carry: not empty, not "." or ".." (URL parsers resolve those
 * away), no lone surrogates (not encodable). Ids are UUIDs; any other segment answers 404.
 */
const PATH_SEGMENT =
  /^(?:[^.\ud800-\udfff][^\ud800-\udfff]*|\.[^.\ud800-\udfff][^\ud800-\udfff]*|\.\.[^\ud800-\udfff]+)$/u;

/** The CSV export takes the listing's filters, without paging: it streams every match. */
export const exportOrdersQuery = z.strictObject(orderFilterQuery);

export const orderIdParams = z.object({
  id: z.string().regex(PATH_SEGMENT).meta({ description: 'Order id (a UUID).' }),
});

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
// Dashboard session

/** `POST /api/session`: what the dashboard trades for its session cookie. */
export const sessionRequest = z.strictObject(
  {
    username: z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
    password: z.string().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  },
  OBJECT_BODY,
);

/** Every `/api/session` answer: whether the request now holds a session. */
export const sessionResponse = z.object({
  user: z
    .object({
      username: z.string(),
      role: z.enum(['viewer', 'operator', 'admin']),
    })
    .nullable()
    .meta({ description: 'Who is signed in with this session; null without one.' }),
});

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
  failureKind: z
    .enum(PAYMENT_FAILURE_KINDS)
    .nullable()
    .meta({ description: 'Class of the payment failure, while the order is failed.' }),
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
// Codec endpoint (Temporal's remote codec protocol)

// Bounded well inside the 64 KiB body: a payload of an order is a few hundred bytes.
const base64 = z
  .string()
  .max(16_384, 'must be at most 16,384 characters')
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');

/** One payload as protobuf's JSON writes it: metadata values and data in base64. */
const jsonPayload = z.strictObject(
  {
    metadata: z.record(z.string().max(200), base64).optional(),
    data: base64.optional(),
  },
  OBJECT_BODY,
);

/** Protobuf's JSON leaves an empty list out: a signal without input sends `{}`. */
export const codecPayloads = z.strictObject(
  {
    payloads: z.array(jsonPayload).max(50, 'must list at most 50 payloads').default([]),
  },
  OBJECT_BODY,
);

// ---------------------------------------------------------------------------------------------
// Bulk actions

/** Orders a batch may pick by hand. */
export const MAX_BULK_ORDER_IDS = 1000;
/** Orders a preview shows. */
export const BULK_SAMPLE_SIZE = 10;
export const MAX_BULK_RATE = 100;

export const bulkFilter = z
  .strictObject(
    {
      status: z
        .array(z.enum(ORDER_STATUSES, `must be one of ${ORDER_STATUSES.join(', ')}`))
        .min(1)
        .max(ORDER_STATUSES.length)
        .optional(),
      failureKind: z
        .array(z.enum(PAYMENT_FAILURE_KINDS, `must be one of ${PAYMENT_FAILURE_KINDS.join(', ')}`))
        .min(1)
        .max(PAYMENT_FAILURE_KINDS.length)
        .optional(),
      customerId: text(100).optional(),
      product: text(200).optional(),
      placedFrom: instant.optional(),
      placedTo: instant.optional(),
      orderIds: z
        .array(z.string().regex(/^[\x21-\x7e]{1,64}$/, 'must be an order id'))
        .min(1)
        .max(MAX_BULK_ORDER_IDS, `must list at most ${MAX_BULK_ORDER_IDS} orders`)
        .optional()
        .meta({ description: 'Orders picked by hand; combined with the other filters.' }),
    },
    OBJECT_BODY,
  )
  .meta({
    description:
      'Which orders: every field narrows the match (the listing filters, as arrays). At least ' +
      'one field is required, so a batch never covers every order by accident.',
    minProperties: 1,
  });
export type BulkFilterInput = z.output<typeof bulkFilter>;

export const bulkActionRequest = z.strictObject(
  {
    action: z.enum(['retry', 'cancel'], 'must be retry or cancel'),
    filter: bulkFilter,
    reason: text(TEXT_LIMITS.cancelReason).optional().meta({
      description:
        'With cancel: stored on every cancelled order. With retry: kept on the batch as a note.',
    }),
    ratePerSecond: z
      .number(`must be a number from 0.01 to ${MAX_BULK_RATE}`)
      .min(0.01, `must be a number from 0.01 to ${MAX_BULK_RATE}`)
      .max(MAX_BULK_RATE, `must be a number from 0.01 to ${MAX_BULK_RATE}`)
      .optional()
      .meta({ description: 'Orders acted on per second; BULK_RATE_PER_SECOND by default.' }),
    confirm: z
      .boolean('must be true or false')
      .optional()
      .meta({ description: 'Absent or false: only a preview. True: the batch starts.' }),
  },
  OBJECT_BODY,
);

export const bulkListQuery = z.strictObject({
  limit: listOrdersQuery.shape.limit,
  cursor: cursor.optional(),
});

export const bulkItemsQuery = z.strictObject({
  outcome: z
    .enum(
      ['applied', 'refused', 'failed', 'pending'],
      'must be applied, refused, failed or pending',
    )
    .optional()
    .meta({ description: 'Only items with this outcome; `pending`: not reached yet.' }),
  after: z.coerce
    .number('must be an item number')
    .int('must be an item number')
    .min(0, 'must be an item number')
    .max(2_147_483_647, 'must be an item number')
    .optional()
    .meta({ description: 'The `nextAfter` of the previous page.' }),
  limit: listOrdersQuery.shape.limit,
});

const bulkCounts = z.object({
  applied: z.number().int(),
  refused: z.number().int(),
  failed: z.number().int(),
});

export const bulkActionResponse = z.object({
  id: z.string(),
  workflowId: z.string(),
  action: z.enum(['retry', 'cancel']),
  filter: z.record(z.string(), z.unknown()),
  reason: z.string().nullable(),
  startedBy: z.string(),
  state: z.enum(BULK_STATES),
  matched: z.number().int().meta({ description: 'Orders the batch covers, fixed at confirm.' }),
  done: z.number().int(),
  counts: bulkCounts,
  ratePerSecond: z.number(),
  etaSeconds: z
    .number()
    .nullable()
    .meta({ description: 'Left to do ÷ rate, while running; null otherwise.' }),
  createdAt: timestamp,
  finishedAt: timestamp.nullable(),
});
export type BulkActionResponse = z.infer<typeof bulkActionResponse>;

export const bulkPreviewResponse = z.object({
  action: z.enum(['retry', 'cancel']),
  matched: z.number().int(),
  sample: z.array(orderResponse).meta({ description: `The newest ${BULK_SAMPLE_SIZE} matches.` }),
  message: z.string(),
});

export const bulkListResponse = z.object({
  bulkActions: z.array(bulkActionResponse),
  nextCursor: z.string().nullable(),
});

export const bulkItemsResponse = z.object({
  items: z.array(
    z.object({
      seq: z.number().int(),
      orderId: z.string(),
      outcome: z.enum(['applied', 'refused', 'failed']).nullable(),
      detail: z.string().nullable(),
      doneAt: timestamp.nullable(),
    }),
  ),
  nextAfter: z.number().int().nullable(),
});

// ---------------------------------------------------------------------------------------------
// Admin: feature toggles

/** How many audit rows `GET /api/admin/features` returns. */
export const FEATURE_CHANGES_SHOWN = 50;

const featureName = z.enum(Object.keys(FEATURES) as [FeatureName, ...FeatureName[]]);

export const featureNameParam = featureName.meta({
  description: 'The toggle (names are case-sensitive); any other name answers 404 unknown_feature.',
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

// ---------------------------------------------------------------------------------------------
// Dashboard: system health; demo tools: scenarios and the load generator

/** The dashboard's demo scenarios, by the name in their route. */
export const SCENARIOS = [
  'broken-order',
  'queue-reliability',
  'monitoring-load',
  'system-monitoring',
  'reset',
] as const;

/** `:name` of `POST /api/scenarios/:name`. */
export const scenarioNameParam = z.enum(SCENARIOS).meta({
  description: 'The scenario; any other name answers 404 scenario_not_found.',
});

/** A load asked for from the page lasts at most this long; the config's default may differ. */
const MAX_REQUESTED_DURATION_S = 3600;

/**
 * The optional body of `POST /api/scenarios/:name`: the load of the two load scenarios (the
 * others take it and ignore it). The rate's ceiling is the running API's LOAD_MAX_RATE_PER_SECOND.
 */
export function loadRequest(maxRatePerSecond: number) {
  return z.strictObject(
    {
      ratePerSecond: z
        .number('must be a number')
        .positive('must be above 0')
        .max(maxRatePerSecond, `must be at most ${maxRatePerSecond}`)
        .optional()
        .meta({ description: 'Orders per second (at the start, for the ramp).' }),
      durationSeconds: z
        .number(`must be an integer from 1 to ${MAX_REQUESTED_DURATION_S}`)
        .int(`must be an integer from 1 to ${MAX_REQUESTED_DURATION_S}`)
        .min(1, `must be an integer from 1 to ${MAX_REQUESTED_DURATION_S}`)
        .max(MAX_REQUESTED_DURATION_S, `must be an integer from 1 to ${MAX_REQUESTED_DURATION_S}`)
        .optional(),
    },
    OBJECT_BODY,
  );
}

/** The load generator's run, as `GET`/`DELETE /api/load` and the scenarios answer it. */
export const loadStatusResponse = z.object({
  running: z.boolean(),
  scenario: z.string().nullable(),
  ratePerSecond: z.number().meta({ description: 'Orders per second right now (0 when stopped).' }),
  maxRatePerSecond: z.number().nullable(),
  startedAt: timestamp.nullable(),
  endsAt: timestamp.nullable(),
  placed: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int().meta({ description: 'Skipped while too many were in flight.' }),
  lastError: z.string().nullable(),
});

const financeModeState = financeModeSchema.required();

const unreachablePart = z
  .object({ error: z.string() })
  .meta({ description: 'This part did not answer; the rest of the answer stands.' });

const taskQueueHealth = z.object({
  name: z.string(),
  role: z.string(),
  kind: z.enum(['workflow', 'activity']),
  pollers: z.number().int(),
  lastPollAt: timestamp.nullable(),
  backlog: z.number().int(),
  backlogAgeMs: z.number(),
  addRatePerSecond: z.number(),
  dispatchRatePerSecond: z.number(),
  workerRateLimitPerSecond: z.number().nullable(),
});

const temporalPlace = { namespace: z.string(), uiUrl: z.string() };
const quota = { quotaBytes: z.number().int().nullable() };

/** `GET /api/system`: each part read on its own, `{ error }` when it did not answer. */
export const systemResponse = z.object({
  temporal: z.union([
    z.object({
      ...temporalPlace,
      runningWorkflows: z.number().int(),
      taskQueues: z.array(taskQueueHealth),
    }),
    z.object({ ...temporalPlace, ...unreachablePart.shape }),
  ]),
  database: z.union([
    z.object({ ...quota, dialect: z.string(), sizeBytes: z.number().int() }),
    z.object({ ...quota, ...unreachablePart.shape }),
  ]),
  launches: z
    .union([
      z.object({ waiting: z.number().int(), oldestSeconds: z.number().nullable() }),
      unreachablePart,
    ])
    .meta({
      description:
        "Accepted orders whose workflow the launcher has not started yet, and the oldest one's age.",
    }),
  finance: z.union([
    financeModeState,
    unreachablePart,
    z.object({ simulator: z.literal(false), reason: z.string() }),
  ]),
  load: loadStatusResponse
    .nullable()
    .meta({ description: 'Null when the demo tools are off: there is no load generator.' }),
  demo: z.boolean().meta({ description: 'Whether the demo scenarios are on (DEMO_SCENARIOS).' }),
  generatedAt: timestamp,
});
export type SystemResponse = z.infer<typeof systemResponse>;

/** What a scenario did: its message and the parts it changed. */
export const scenarioResponse = z.object({
  scenario: z.enum(SCENARIOS),
  message: z.string(),
  order: orderResponse.optional().meta({ description: 'The order broken-order placed.' }),
  finance: financeModeState
    .nullable()
    .optional()
    .meta({ description: "The simulator's mode now; null when there is no simulator." }),
  load: loadStatusResponse.optional(),
});

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
sessionRequest.register(requestSchemas, { id: 'SessionRequest' });
bulkActionRequest.register(requestSchemas, { id: 'BulkActionRequest' });
codecPayloads.register(requestSchemas, { id: 'CodecPayloads' });

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
sessionResponse.register(responseSchemas, { id: 'Session' });
systemResponse.register(responseSchemas, { id: 'System' });
loadStatusResponse.register(responseSchemas, { id: 'LoadStatus' });
scenarioResponse.register(responseSchemas, { id: 'ScenarioResult' });
bulkActionResponse.register(responseSchemas, { id: 'BulkAction' });
bulkPreviewResponse.register(responseSchemas, { id: 'BulkPreview' });
bulkListResponse.register(responseSchemas, { id: 'BulkActionList' });
bulkItemsResponse.register(responseSchemas, { id: 'BulkActionItems' });
z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()), data: z.string() })),
}).register(responseSchemas, { id: 'CodecAnswer' });
errorResponse.register(responseSchemas, { id: 'Error' });
