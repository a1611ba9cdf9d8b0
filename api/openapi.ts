/**
 * The OpenAPI 3.1 document, rendered from the zod schemas that validate requests (`schemas.ts`).
 * Only the routing facts (paths, methods, statuses) are written here.
 */
import { z } from 'zod';
import {
  bulkItemsQuery,
  bulkListQuery,
  exportOrdersQuery,
  featureNameParam,
  idempotencyKeyHeader,
  listOrdersQuery,
  MAX_BODY_BYTES,
  operatorNameHeader,
  orderIdParams,
  requestSchemas,
  responseSchemas,
} from './schemas';

type JsonSchema = Record<string, unknown>;

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

const ERROR_ANSWERS: Record<number, string> = {
  400: 'Invalid field (named in `details`), malformed JSON or a duplicate key',
  401: 'No `Authorization: Bearer` header',
  403: 'Wrong operator token',
  404: 'No such order (or route)',
  405: 'Method not allowed here (see `Allow`)',
  409: 'Conflicts with the current state (the reason is in `message`)',
  413: `Body over ${MAX_BODY_BYTES / 1024} KiB`,
  415: 'Body is not JSON',
  429: 'Too many orders from this client (see `Retry-After`)',
  503: 'The database or Temporal is unavailable (see `Retry-After`)',
};

function errors(...statuses: number[]): Record<string, object> {
  return Object.fromEntries(
    statuses.map((status) => [String(status), answer(ERROR_ANSWERS[status] ?? 'Error')]),
  );
}

const idParam = parameter('id', 'path', orderIdParams.shape.id, true);
const location = { Location: { description: 'The order', schema: { type: 'string' } } };

function operatorAction(summary: string, bodyId: string) {
  return {
    post: {
      summary,
      security: [{ operatorToken: [] }],
      parameters: [idParam],
      requestBody: { required: false, content: json(ref(bodyId)) },
      responses: {
        '202': answer('Signal sent to the workflow', 'ActionAccepted'),
        ...errors(400, 401, 403, 404, 405, 409, 415, 503),
      },
    },
  };
}

/** Query parameters from a strict zod object, one per field. */
function queryParameters(shape: Record<string, z.ZodType>) {
  return Object.entries(shape).map(([name, schema]) =>
    parameter(name, 'query', schema, !schema.safeParse(undefined).success),
  );
}

const bulkIdParam = parameter('id', 'path', orderIdParams.shape.id, true);

/** `/api/bulk-actions` and its sub-routes: every one needs the operator token. */
function bulkPaths(): Record<string, object> {
  const security = [{ operatorToken: [] }];
  const control = (summary: string) => ({
    post: {
      summary,
      security,
      parameters: [bulkIdParam],
      responses: {
        '202': answer('Accepted by the batch workflow; its progress', 'BulkAction'),
        ...errors(400, 401, 403, 404, 405, 409, 503),
      },
    },
  });
  return {
    '/api/orders/export.csv': {
      get: {
        summary: 'The filtered order list as CSV, streamed (operator)',
        security,
        parameters: queryParameters(exportOrdersQuery.shape),
        responses: {
          '200': { description: 'CSV, one line per order', content: { 'text/csv': {} } },
          ...errors(400, 401, 403, 503),
        },
      },
    },
    '/api/bulk-actions': {
      get: {
        summary: 'Bulk actions, newest first (operator)',
        security,
        parameters: queryParameters(bulkListQuery.shape),
        responses: { '200': answer('A page', 'BulkActionList'), ...errors(400, 401, 403, 503) },
      },
      post: {
        summary: 'Preview (count and sample) or, with `confirm`, start a bulk retry or cancel',
        security,
        requestBody: { required: true, content: json(ref('BulkActionRequest')) },
        responses: {
          '200': answer('Preview: nothing was touched', 'BulkPreview'),
          '201': answer('Started', 'BulkAction'),
          ...errors(400, 401, 403, 413, 415, 503),
        },
      },
    },
    '/api/bulk-actions/{id}': {
      get: {
        summary: 'A bulk action and its progress (operator)',
        security,
        parameters: [bulkIdParam],
        responses: { '200': answer('Progress', 'BulkAction'), ...errors(401, 403, 404, 503) },
      },
    },
    '/api/bulk-actions/{id}/items': {
      get: {
        summary: 'The outcome of each order of a bulk action (operator)',
        security,
        parameters: [bulkIdParam, ...queryParameters(bulkItemsQuery.shape)],
        responses: {
          '200': answer('A page of outcomes', 'BulkActionItems'),
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    '/api/bulk-actions/{id}/pause': control('Pause a bulk action after the order in hand'),
    '/api/bulk-actions/{id}/resume': control('Resume a paused bulk action'),
    '/api/bulk-actions/{id}/cancel': control('Cancel a bulk action; the orders not reached stay'),
  };
}

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Order processing API',
      version: '1.0.0',
      description:
        'Orders placed over HTTP, each processed by a durable Temporal workflow. Every error is ' +
        '`{ "error": { "code", "message", "details"? } }`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths: {
      '/api/orders': {
        get: {
          summary: 'List orders, newest first (keyset pagination)',
          parameters: Object.entries(listOrdersQuery.shape).map(([name, schema]) =>
            parameter(name, 'query', schema, false),
          ),
          responses: { '200': answer('A page of orders', 'OrderList'), ...errors(400, 503) },
        },
        post: {
          summary: 'Place an order and start its workflow',
          parameters: [parameter('Idempotency-Key', 'header', idempotencyKeyHeader, false)],
          requestBody: { required: true, content: json(ref('CreateOrderRequest')) },
          responses: {
            '201': answer('Accepted; its workflow is started', 'Order', location),
            '200': answer('Replay of an earlier request with this Idempotency-Key', 'Order'),
            ...errors(400, 409, 413, 415, 429, 503),
          },
        },
      },
      '/api/orders/{id}': {
        get: {
          summary: 'One order: its SQL row and live facts from its Temporal workflow',
          parameters: [idParam],
          responses: { '200': answer('The order', 'OrderDetail'), ...errors(404, 503) },
        },
      },
      '/api/orders/{id}/cancel': operatorAction('Cancel an order', 'CancelOrderRequest'),
      '/api/orders/{id}/retry': operatorAction('Retry a failed order', 'RetryOrderRequest'),
      ...bulkPaths(),
      '/api/admin/features': {
        get: {
          summary: 'Every feature toggle with its value, and the latest changes (operator)',
          security: [{ operatorToken: [] }],
          responses: {
            '200': answer('Toggles and audit rows', 'FeatureList'),
            ...errors(401, 403, 405, 503),
          },
        },
      },
      '/api/admin/features/{name}': {
        put: {
          summary: 'Switch a feature toggle on or off; recorded with who and when (operator)',
          security: [{ operatorToken: [] }],
          parameters: [
            parameter('name', 'path', featureNameParam, true),
            parameter('X-Operator', 'header', operatorNameHeader, false),
          ],
          requestBody: { required: true, content: json(ref('SetFeatureRequest')) },
          responses: {
            '200': answer('The toggle as it is now', 'FeatureToggle'),
            ...errors(400, 401, 403),
            '404': answer('No such toggle (`unknown_feature`)'),
            ...errors(405, 413, 415, 503),
          },
        },
      },
      '/api/stats': {
        get: {
          summary: 'Counts by status (SQL and Temporal visibility), created/processed per minute',
          responses: { '200': answer('Dashboard numbers', 'Stats'), ...errors(503) },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/healthz': {
        get: { summary: 'The process is alive', responses: { '200': answer('Alive', 'Health') } },
      },
      '/readyz': {
        get: {
          summary: 'The database and Temporal are reachable',
          responses: {
            '200': answer('Ready', 'Ready'),
            '503': answer('Not ready: `details` names `database` and/or `temporal`'),
          },
        },
      },
    },
    components: {
      schemas: { ...components(requestSchemas, 'input'), ...components(responseSchemas, 'output') },
      securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } },
    },
  };
}
