/**
 * The OpenAPI 3.1 document, rendered from the zod schemas that validate requests (`schemas.ts`)
 * and from the access map (`access.ts`): every route the map names is an operation here, with the
 * security and roles the map gives it. Only the routing facts (summaries, statuses) are written
 * here.
 */
import { z } from 'zod';
import type { Config } from '../domain/config';
import { ROUTE_ACCESS, STAFF_ROLES, type Access, type RouteAccess } from './access';
import { SESSION_COOKIE, SESSION_HEADER } from './auth';
import {
  bulkItemsQuery,
  bulkListQuery,
  exportOrdersQuery,
  featureNameParam,
  idempotencyKeyHeader,
  listOrdersQuery,
  loadRequest,
  MAX_BODY_BYTES,
  orderIdParams,
  requestSchemas,
  responseSchemas,
  scenarioNameParam,
} from './schemas';

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown> & { responses: Record<string, object> };

/** What of the running API's configuration the document states. */
export type DocumentConfig = Pick<
  Config,
  | 'DEMO_SCENARIOS'
  | 'LOAD_MAX_RATE_PER_SECOND'
  | 'ORDER_RATE_LIMIT_PER_MINUTE'
  | 'AUTH_FAILURES_PER_ADDRESS_PER_MINUTE'
>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** A schema as it sits inside the document: no `$schema`/`$id` of its own. */
function embedded(schema: JsonSchema): JsonSchema {
  const rest = { ...schema };
  delete rest.$schema;
  delete rest.$id;
  return rest;
}

function components(registry: typeof requestSchemas, io: 'input' | 'output'): JsonSchema {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    uri: (id) => ref(id).$ref,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [id, embedded(schema as JsonSchema)]),
  );
}

function parameter(
  name: string,
  where: 'query' | 'path' | 'header',
  schema: z.ZodType,
  required: boolean,
) {
  const { description, ...rest } = embedded(z.toJSONSchema(schema, { io: 'input' }));
  return { name, in: where, required, ...(description ? { description } : {}), schema: rest };
}

const json = (schema: object) => ({ 'application/json': { schema } });
const answer = (description: string, schemaId = 'Error', headers?: object) => ({
  description,
  content: json(ref(schemaId)),
  ...(headers ? { headers } : {}),
});

const header = (description: string, type = 'string') => ({ description, schema: { type } });
const RETRY_AFTER = { 'Retry-After': header('Seconds to wait', 'integer') };
const LOCATION = { Location: header('The order') };

function errorAnswers(config: DocumentConfig): Record<number, object> {
  return {
    400: answer('Invalid field (named in `details`), malformed JSON or a duplicate key'),
    404: answer('No such order'),
    409: answer('Conflicts with the current state (the reason is in `message`)'),
    413: answer(`Body over ${MAX_BODY_BYTES / 1024} KiB`),
    415: answer('Body is not JSON (`application/json` or `application/*+json`, UTF-8)'),
    429: answer(
      `More than ${config.ORDER_RATE_LIMIT_PER_MINUTE} orders per minute from this client`,
      'Error',
      RETRY_AFTER,
    ),
    503: answer('The database or Temporal is unavailable', 'Error', RETRY_AFTER),
  };
}

/** The answers of a route that needs a credential: none, the wrong one, or too many wrong ones. */
function accessAnswers(config: DocumentConfig): Record<string, object> {
  return {
    '401': answer('No credential', 'Error', {
      'WWW-Authenticate': header('`Bearer realm="orders"`'),
    }),
    '403': answer('The credential is not valid, or its role may not call this route'),
    '429': answer(
      `More than ${config.AUTH_FAILURES_PER_ADDRESS_PER_MINUTE} refused credentials from this ` +
        'address this minute: its requests that carry credentials wait for the minute to end',
      'Error',
      RETRY_AFTER,
    ),
  };
}

/** The roles a route admits: `viewer` in a list admits every staff role after it, and so on. */
export function admittedRoles(access: Access): string[] {
  if (access === 'public') return [];
  if (access === 'scrape') return ['scrape', ...STAFF_ROLES];
  const admitted = new Set<string>();
  for (const role of access) {
    const rank = (STAFF_ROLES as readonly string[]).indexOf(role);
    if (rank < 0) admitted.add(role);
    else STAFF_ROLES.slice(rank).forEach((staff) => admitted.add(staff));
  }
  return [...admitted];
}

/**
 * `security` of a route: none when public; a bearer credential (API key or token); and for
 * staff roles also the dashboard's session, which is its cookie AND its header together.
 */
function securityOf(route: RouteAccess): object[] {
  if (route.access === 'public') return [];
  const roles = admittedRoles(route.access);
  const staff = roles.some((role) => (STAFF_ROLES as readonly string[]).includes(role));
  const session = route.cookieAlone
    ? { sessionCookie: [] }
    : { sessionCookie: [], sessionHeader: [] };
  return [{ bearer: [] }, ...(staff ? [session] : [])];
}

/** `/api/orders/:id` → `/api/orders/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

function bodyOf(schemaId: string, required: boolean) {
  return {
    required,
    description:
      `JSON (\`application/json\`, or \`application/*+json\`), UTF-8, at most ` +
      `${MAX_BODY_BYTES / 1024} KiB; no key twice in one object.`,
    'x-maxBodyBytes': MAX_BODY_BYTES,
    content: json(ref(schemaId)),
  };
}

interface Context {
  config: DocumentConfig;
  errors: (...statuses: number[]) => Record<string, object>;
}

const idParam = parameter('id', 'path', orderIdParams.shape.id, true);

function orderAction(summary: string, operationId: string, bodyId: string) {
  return ({ errors }: Context): Operation => ({
    operationId,
    summary,
    parameters: [idParam],
    requestBody: bodyOf(bodyId, false),
    responses: {
      '202': answer('Accepted by the workflow', 'ActionAccepted', LOCATION),
      ...errors(400, 404, 409, 413, 415),
      '503': answer(
        'Temporal, the database or the workflow (no worker answered) is unavailable',
        'Error',
        RETRY_AFTER,
      ),
    },
  });
}

/** A request that carries the session cookie counts as one with credentials. */
const COOKIE_HELD_BACK = answer(
  'With the session cookie: too many refused credentials from this address this minute',
  'Error',
  RETRY_AFTER,
);

const sessionAnswer = (description: string) =>
  answer(description, 'Session', {
    'Set-Cookie': header(`\`${SESSION_COOKIE}\`: HttpOnly, SameSite=Strict, Path=/api`),
  });

/** An operation that takes nothing and always answers 200 with `schemaId`. */
const plain =
  (operationId: string, summary: string, said: string, schemaId: string) => (): Operation => ({
    operationId,
    summary,
    responses: { '200': answer(said, schemaId) },
  });

/** What each route of the access map does, by `METHOD path` as the map writes it. */
const OPERATIONS: Record<string, (context: Context) => Operation> = {
  'GET /healthz': plain('health', 'The process is alive', 'Alive', 'Health'),
  'GET /readyz': () => ({
    operationId: 'ready',
    summary: 'The database and Temporal are reachable',
    responses: {
      '200': answer('Ready', 'Ready'),
      '503': answer(
        'Not ready: `details` names `database` and/or `temporal`',
        'Error',
        RETRY_AFTER,
      ),
    },
  }),
  'GET /api/openapi.json': () => ({
    operationId: 'openApiDocument',
    summary: 'This document',
    responses: {
      '200': {
        description: 'OpenAPI 3.1',
        content: json({
          type: 'object',
          properties: {
            openapi: { const: '3.1.0' },
            info: { type: 'object' },
            paths: { type: 'object' },
          },
          required: ['openapi', 'info', 'paths'],
        }),
      },
    },
  }),
  'GET /metrics': ({ errors }) => ({
    operationId: 'metrics',
    summary: "The API's Prometheus metrics",
    responses: {
      '200': {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      ...errors(503),
    },
  }),
  'GET /api/session': () => ({
    operationId: 'getSession',
    summary: 'Whether this browser holds a valid dashboard session',
    description: `Reads the \`${SESSION_COOKIE}\` cookie; it counts only with \`${SESSION_HEADER}: 1\`.`,
    responses: {
      '200': answer('The session, or `user: null` without a cookie', 'Session'),
      '401': answer('The cookie is not a live session: counted as a failed credential check'),
      '429': COOKIE_HELD_BACK,
    },
  }),
  'POST /api/session': ({ errors }) => ({
    operationId: 'signIn',
    summary: 'Sign in with a username and password: the dashboard session cookie',
    requestBody: bodyOf('SessionRequest', true),
    responses: {
      '200': sessionAnswer('Signed in: the cookie is set'),
      ...errors(400),
      '401': answer('The username or password is not right'),
      ...errors(413, 415),
      '429': answer(
        'Too many sign-in attempts, or refused credentials, from this address this minute',
        'Error',
        RETRY_AFTER,
      ),
    },
  }),
  'DELETE /api/session': () => ({
    operationId: 'signOut',
    summary: 'Sign out: the cookie is cleared',
    responses: { '200': sessionAnswer('Signed out'), '429': COOKIE_HELD_BACK },
  }),
  'POST /api/orders': ({ errors }) => ({
    operationId: 'createOrder',
    summary: 'Place an order and start its workflow',
    parameters: [parameter('Idempotency-Key', 'header', idempotencyKeyHeader, false)],
    requestBody: bodyOf('CreateOrderRequest', true),
    responses: {
      '201': answer('Accepted; its workflow is started', 'Order', LOCATION),
      '200': answer('Replay of an earlier request with this Idempotency-Key', 'Order', LOCATION),
      ...errors(400),
      '409': answer('This Idempotency-Key was already used for a different order'),
      ...errors(413, 415, 429, 503),
    },
  }),
  'GET /api/orders': ({ errors }) => ({
    operationId: 'listOrders',
    summary: 'List orders, newest first (keyset pagination)',
    description: 'Any other query parameter, or one given twice, is refused (400 naming it).',
    parameters: Object.entries(listOrdersQuery.shape).map(([name, schema]) =>
      parameter(name, 'query', schema, false),
    ),
    responses: { '200': answer('A page of orders', 'OrderList'), ...errors(400, 503) },
  }),
  'GET /api/orders/:id': ({ errors }) => ({
    operationId: 'getOrder',
    summary: 'One order: its SQL row and live facts from its Temporal workflow',
    parameters: [idParam],
    responses: { '200': answer('The order', 'OrderDetail'), ...errors(404, 503) },
  }),
  'POST /api/orders/:id/cancel': orderAction(
    'Cancel an order',
    'cancelOrder',
    'CancelOrderRequest',
  ),
  'POST /api/orders/:id/retry': orderAction(
    'Retry a failed order',
    'retryOrder',
    'RetryOrderRequest',
  ),
  'GET /api/stats': ({ errors }) => ({
    operationId: 'stats',
    summary: 'Counts by status (SQL and Temporal visibility), created/processed per minute',
    responses: { '200': answer('Dashboard numbers', 'Stats'), ...errors(503) },
  }),
  'GET /api/system': () => ({
    operationId: 'system',
    summary: 'Workers, backlogs, database size, finance mode and load, each read on its own',
    description: 'A part that does not answer is `{ "error" }`; the rest of the answer stands.',
    responses: { '200': answer('System health', 'System') },
  }),
  'GET /api/admin/features': ({ errors }) => ({
    operationId: 'listFeatures',
    summary: 'Every feature toggle with its value, and the latest changes',
    responses: { '200': answer('Toggles and audit rows', 'FeatureList'), ...errors(503) },
  }),
  'PUT /api/admin/features/:name': ({ errors }) => ({
    operationId: 'setFeature',
    summary: 'Switch a feature toggle on or off; recorded with who and when',
    parameters: [parameter('name', 'path', featureNameParam, true)],
    requestBody: bodyOf('SetFeatureRequest', true),
    responses: {
      '200': answer('The toggle as it is now', 'FeatureToggle'),
      ...errors(400),
      '404': answer('No such toggle (`unknown_feature`)'),
      ...errors(413, 415, 503),
    },
  }),
  'POST /api/scenarios/:name': ({ errors }) => ({
    operationId: 'runScenario',
    summary: 'Run a dashboard demo scenario (reversible: `reset` undoes them)',
    parameters: [parameter('name', 'path', scenarioNameParam, true)],
    requestBody: bodyOf('LoadRequest', false),
    responses: {
      '200': answer('What the scenario did', 'ScenarioResult'),
      ...errors(400),
      '404': answer('No such scenario (`scenario_not_found`)'),
      '409': answer('The finance package is not the simulator (`no_simulator`)'),
      ...errors(413, 415),
      '503': answer(
        'The finance package is unreachable, or the API refused the order the scenario placed',
        'Error',
        RETRY_AFTER,
      ),
    },
  }),
  'GET /api/load': plain('loadStatus', "The load generator's run", 'The load', 'LoadStatus'),
  'DELETE /api/load': plain('stopLoad', 'Stop the load generator', 'Stopped', 'LoadStatus'),
  'GET /api/orders/export.csv': ({ errors }) => ({
    operationId: 'exportOrders',
    summary: 'The filtered order list as CSV, streamed, newest first',
    description:
      'Cells that a spreadsheet would read as a formula (starting `=`, `+`, `-`, `@`, a tab or ' +
      "a carriage return) are prefixed with `'`.",
    parameters: queryParameters(exportOrdersQuery.shape),
    responses: {
      '200': {
        description: 'CSV (RFC 4180), a header line, then one line per order',
        content: { 'text/csv': { schema: { type: 'string' } } },
      },
      ...errors(400, 503),
    },
  }),
  'GET /api/bulk-actions': ({ errors }) => ({
    operationId: 'listBulkActions',
    summary: 'Bulk actions, newest first',
    parameters: queryParameters(bulkListQuery.shape),
    responses: { '200': answer('A page', 'BulkActionList'), ...errors(400, 503) },
  }),
  'POST /api/bulk-actions': ({ errors }) => ({
    operationId: 'createBulkAction',
    summary: 'Preview (count and sample) or, with `confirm`, start a bulk retry or cancel',
    description:
      'Confirmed, the orders the filter matches at that moment are the batch: orders that ' +
      'match later are not touched. Each gets the same workflow update as a single action.',
    requestBody: bodyOf('BulkActionRequest', true),
    responses: {
      '200': answer('Preview: nothing was touched', 'BulkPreview'),
      '201': answer('Started', 'BulkAction', LOCATION),
      ...errors(400, 413, 415, 503),
    },
  }),
  'GET /api/bulk-actions/:id': ({ errors }) => ({
    operationId: 'getBulkAction',
    summary: 'A bulk action and its progress (matched, done, outcomes, rate, ETA)',
    parameters: [bulkIdParam],
    responses: { '200': answer('Progress', 'BulkAction'), ...errors(404, 503) },
  }),
  'GET /api/bulk-actions/:id/items': ({ errors }) => ({
    operationId: 'listBulkActionItems',
    summary: 'The outcome of each order of a bulk action',
    parameters: [bulkIdParam, ...queryParameters(bulkItemsQuery.shape)],
    responses: { '200': answer('A page of outcomes', 'BulkActionItems'), ...errors(400, 404, 503) },
  }),
  'POST /api/bulk-actions/:id/pause': bulkControl(
    'pauseBulkAction',
    'Pause after the order in hand',
  ),
  'POST /api/bulk-actions/:id/resume': bulkControl('resumeBulkAction', 'Resume a paused batch'),
  'POST /api/bulk-actions/:id/cancel': bulkControl(
    'cancelBulkAction',
    'Cancel the batch; the orders it has not reached stay as they are',
  ),
  'POST /api/codec/decode': codecOperation(
    'codecDecode',
    'Decrypt payloads for the Temporal Web UI or CLI',
  ),
  'POST /api/codec/encode': codecOperation('codecEncode', 'Encrypt payloads as the service does'),
};

/** Query parameters from a strict zod object, one per field. */
function queryParameters(shape: Record<string, z.ZodType>) {
  return Object.entries(shape).map(([name, schema]) =>
    parameter(name, 'query', schema, !schema.safeParse(undefined).success),
  );
}

const bulkIdParam = parameter('id', 'path', orderIdParams.shape.id, true);

function bulkControl(operationId: string, summary: string) {
  return ({ errors }: Context): Operation => ({
    operationId,
    summary,
    parameters: [bulkIdParam],
    responses: {
      '202': answer('Accepted by the batch workflow; its progress', 'BulkAction'),
      ...errors(404),
      '409': answer('The batch has finished, or refused (its reason is in `message`)'),
      ...errors(503),
    },
  });
}

function codecOperation(operationId: string, summary: string) {
  return ({ errors }: Context): Operation => ({
    operationId,
    summary,
    description:
      "Temporal's remote codec protocol. `X-Namespace`, when sent, must be the API's namespace " +
      '(400 otherwise). Here the session cookie counts without `X-Operator-Session`: the Web UI ' +
      'calls from its own origin, which alone gets CORS headers.',
    requestBody: bodyOf('CodecPayloads', true),
    responses: {
      '200': answer('The payloads, decoded or encoded, in order', 'CodecAnswer'),
      ...errors(400, 413, 415),
    },
  });
}

/**
 * A route the map names that has no entry in OPERATIONS yet: still listed, with its security,
 * and marked `x-undescribed` (the document's test fails on it until it is described).
 */
function undescribed(route: RouteAccess): Operation {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1] ?? '');
  return {
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^\w]+(\w)?/g, (_m, c: string = '') => c.toUpperCase())}`,
    summary: `${route.method} ${route.path}`,
    'x-undescribed': true,
    parameters: names.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    })),
    responses: { default: answer('Any answer') },
  };
}

function rolesText(access: Access): string {
  if (access === 'public') return 'Public: no credential.';
  return `Roles admitted: ${admittedRoles(access).join(', ')}.`;
}

function operationFor(route: RouteAccess, context: Context): Operation {
  const described = OPERATIONS[`${route.method} ${route.path}`]?.(context) ?? undescribed(route);
  const demo = route.demo ? ' Present only while the demo tools are on (`DEMO_SCENARIOS=on`).' : '';
  const description = [described.description, rolesText(route.access) + demo]
    .filter(Boolean)
    .join('\n\n');
  return {
    ...described,
    description,
    security: securityOf(route),
    'x-roles': admittedRoles(route.access),
    ...(route.demo ? { 'x-demo': true } : {}),
    responses: route.access === 'public' ? described.responses : withAccess(described, context),
  };
}

/** The operation's answers and the credential's; a 429 both can give says both reasons. */
function withAccess(described: Operation, { config }: Context): Operation['responses'] {
  const access = accessAnswers(config);
  const own = described.responses['429'] as { description: string } | undefined;
  const limited = access['429'] as { description: string };
  return {
    ...described.responses,
    ...access,
    '429': own
      ? { ...limited, description: `${own.description}; or ${lowerFirst(limited.description)}` }
      : limited,
  };
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

/** The document of an API running with `config`: its demo routes only when they are served. */
export function openApiDocument(config: DocumentConfig): object {
  const known = errorAnswers(config);
  const context: Context = {
    config,
    errors: (...statuses) =>
      Object.fromEntries(statuses.map((status) => [String(status), known[status] ?? {}])),
  };
  const paths: Record<string, Record<string, Operation>> = {};
  for (const route of ROUTE_ACCESS) {
    if (route.page || (route.demo && config.DEMO_SCENARIOS !== 'on')) continue;
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operationFor(route, context) };
  }
  const load = loadRequest(config.LOAD_MAX_RATE_PER_SECOND);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Order processing API',
      version: '1.0.0',
      description:
        'Orders placed over HTTP, each processed by a durable Temporal workflow. Every error is ' +
        '`{ "error": { "code", "message", "details"? } }`; `details[].path` names the field, ' +
        'query parameter or header. Patterns are ECMA-262 regular expressions in Unicode mode ' +
        '(`u`). `x-maxUtf16Length` bounds a string in UTF-16 code units (an emoji counts 2), ' +
        'as the database columns count; `maxLength` beside it is the same number in characters. ' +
        '`x-roles` lists the roles a route admits.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: {
        ...components(requestSchemas, 'input'),
        LoadRequest: embedded(z.toJSONSchema(load, { io: 'input' })),
        ...components(responseSchemas, 'output'),
      },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: '`Authorization: Bearer <credential>`: an API key or a token.',
        },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'The dashboard session, set by `POST /api/session`.',
        },
        sessionHeader: {
          type: 'apiKey',
          in: 'header',
          name: SESSION_HEADER,
          description:
            'Must be `1`, beside the session cookie: a custom header a page on another origin ' +
            'cannot send without a CORS preflight, which this API never grants.',
        },
      },
    },
  };
}
