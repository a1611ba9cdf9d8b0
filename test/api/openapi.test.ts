/**
 * The OpenAPI document as a contract, checked offline: it is well-formed OpenAPI 3.1 as far as
 * that can be checked without fetching meta-schemas (every embedded schema compiles under strict
 * JSON Schema 2020-12, every $ref resolves, every path parameter is declared, operationIds are
 * unique), it has one described operation per route of the access map with that route's
 * security and roles, it lists exactly what the app serves, and on generated input its schemas
 * accept exactly what the server's zod schemas accept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { ROUTE_ACCESS, type RouteAccess } from '../../api/access';
import { createApiApp } from '../../api/app';
import { admittedRoles, openApiDocument, openApiPath } from '../../api/openapi';
import {
  cancelOrderRequest,
  createOrderRequest,
  idempotencyKeyHeader,
  listOrdersQuery,
  loadRequest,
  sessionRequest,
  setFeatureRequest,
} from '../../api/schemas';
import { openDatabase, type Database } from '../../db';
import { loadConfig } from '../../domain/config';
import { createLogger } from '../../observability/logger';
import { freshSqliteUrl } from '../support/database';
import { documentValidator, type DocumentValidator, type Schema } from '../support/json-schema';
import { orderBody, startApi, unreachableTemporal, type RunningApi } from './harness';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  operationId: string;
  security: Record<string, string[]>[];
  'x-roles': string[];
  'x-undescribed'?: true;
  'x-demo'?: true;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SEED = 20_261_201;

function operations(doc: Document): { key: string; path: string; method: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
  );
}

const routeKey = (route: Pick<RouteAccess, 'method' | 'path'>) =>
  `${route.method} ${openApiPath(route.path)}`;

/** Every `$ref` anywhere in `value`, with where it was found. */
function refs(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => refs(item, `${at}/${i}`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string'
      ? [{ ref: inner, at }]
      : refs(inner, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`),
  );
}

function pointer(doc: unknown, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `${ref} is a reference into this document`);
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (node, part) =>
        typeof node === 'object' && node !== null
          ? (node as Record<string, unknown>)[part]
          : undefined,
      doc,
    );
}

/** The routes an Express app serves, as `METHOD /path`, walking its routers. */
function servedRoutes(app: { router: { stack: unknown[] } }): string[] {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const walk = (stack: Layer[]): string[] =>
    stack.flatMap((layer) => {
      if (layer.route) {
        const { path, methods } = layer.route;
        return Object.keys(methods)
          .filter((method) => method !== '_all')
          .map((method) => `${method.toUpperCase()} ${path}`);
      }
      return layer.handle?.stack ? walk(layer.handle.stack) : [];
    });
  return walk(app.router.stack as Layer[]);
}

/**
 * Routes of the dashboard's page that are not API: its files and vendored assets, and the
 * redirect from an order to its Temporal UI page. Everything else the app serves is an operation.
 */
/** What the dashboard's browser loads: in the access map, not in the API's document. */
const PAGE_ROUTES = new Set(
  ROUTE_ACCESS.filter((route) => route.page).map((route) => `${route.method} ${route.path}`),
);

void describe('the OpenAPI document', () => {
  let db: Database;
  let api: RunningApi;
  let doc: Document;
  let validator: DocumentValidator;

  before(async () => {
    db = await openDatabase(freshSqliteUrl());
    // Nothing here needs Temporal: the document and the routes are the same without it.
    api = await startApi({ db, temporal: unreachableTemporal() });
    const answer = await api.call('GET', '/api/openapi.json');
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    doc = answer.body as Document;
    validator = documentValidator(doc.components.schemas);
  });
  after(async () => {
    await api.close();
    await db.close();
  });

  void test('is OpenAPI 3.1 and every schema in it compiles under strict JSON Schema 2020-12', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.info.title && doc.info.version);
    for (const name of Object.keys(doc.components.schemas)) {
      assert.doesNotThrow(() => validator.compile({ $ref: `#/components/schemas/${name}` }), name);
    }
    for (const { key, op } of operations(doc)) {
      for (const parameter of op.parameters ?? []) {
        assert.doesNotThrow(() => validator.compile(parameter.schema), `${key} ${parameter.name}`);
      }
      const contents = [
        ...Object.values(op.requestBody?.content ?? {}),
        ...Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {})),
      ];
      for (const { schema } of contents) {
        assert.doesNotThrow(() => validator.compile(schema), key);
      }
    }
  });

  void test('every $ref resolves, path parameters are declared, operationIds are unique', () => {
    for (const { ref, at } of refs(doc)) {
      assert.notEqual(pointer(doc, ref), undefined, `${ref} (at ${at}) resolves`);
    }
    const ids = operations(doc).map(({ op }) => op.operationId);
    assert.equal(new Set(ids).size, ids.length, `operationIds are unique: ${ids.join(', ')}`);
    for (const { key, path, op } of operations(doc)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      assert.deepEqual(declared.map((p) => p.name).sort(), inPath, `${key}: path parameters`);
      assert.ok(
        declared.every((p) => p.required === true),
        `${key}: path parameters are required`,
      );
      const names = (op.parameters ?? []).map((p) => `${p.in}:${p.name.toLowerCase()}`);
      assert.equal(new Set(names).size, names.length, `${key}: no parameter twice`);
      assert.ok(Object.keys(op.responses).length > 0, `${key} has answers`);
      for (const [status, response] of Object.entries(op.responses)) {
        assert.match(status, /^([1-5]\d\d|default)$/, `${key}: ${status} is a status`);
        assert.ok(response.description, `${key} ${status} has a description`);
      }
    }
  });

  void test('has one described operation per route of the access map, with its security and roles', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.bearer, {
      type: 'http',
      scheme: 'bearer',
      description: schemes.bearer?.description,
    });
    assert.equal(schemes.sessionCookie?.type, 'apiKey');
    assert.equal(schemes.sessionCookie?.in, 'cookie');
    assert.equal(schemes.sessionHeader?.in, 'header');
    const byKey = new Map(operations(doc).map((entry) => [entry.key, entry.op]));
    const api = ROUTE_ACCESS.filter((route) => !route.page);
    assert.deepEqual([...byKey.keys()].sort(), api.map(routeKey).sort());
    for (const route of api) {
      const key = routeKey(route);
      const op = byKey.get(key);
      assert.ok(op, `${key} is in the document`);
      assert.equal(op['x-undescribed'], undefined, `${key} is described in api/openapi.ts`);
      assert.deepEqual(op['x-roles'], admittedRoles(route.access), `${key}: roles`);
      assert.equal(op['x-demo'], route.demo, `${key}: marked as a demo route or not`);
      if (route.access === 'public') {
        assert.deepEqual(op.security, [], `${key} is public`);
        continue;
      }
      assert.ok(op.security.length > 0, `${key} needs a credential`);
      for (const requirement of op.security) {
        for (const scheme of Object.keys(requirement)) {
          assert.ok(schemes[scheme], `${key}: the scheme ${scheme} is defined`);
        }
      }
      for (const status of ['401', '403', '429']) {
        assert.ok(op.responses[status], `${key} declares ${status}`);
      }
    }
    for (const { key, op } of operations(doc)) {
      if (!op.requestBody) continue;
      assert.deepEqual(Object.keys(op.requestBody.content), ['application/json'], key);
      for (const status of ['400', '413', '415']) {
        assert.ok(op.responses[status], `${key} has a body and declares ${status}`);
      }
    }
  });

  void test('lists exactly the routes the app serves, with and without the demo tools', async () => {
    for (const demo of ['on', 'off'] as const) {
      const config = loadConfig({ DEMO_SCENARIOS: demo });
      const app = createApiApp({
        db,
        temporal: unreachableTemporal(),
        config,
        log: createLogger({ service: 'api', level: 'error' }),
      }) as unknown as { router: { stack: unknown[] } };
      const served = servedRoutes(app)
        .filter((route) => !PAGE_ROUTES.has(route))
        .map((route) => {
          const [method = '', path = ''] = route.split(' ');
          return routeKey({ method: method as RouteAccess['method'], path });
        });
      const documented = operations(openApiDocument(config) as Document).map(({ key }) => key);
      assert.deepEqual(served.sort(), documented.sort(), `demo tools ${demo}`);
      const demoRoutes = ROUTE_ACCESS.filter((route) => route.demo).map(routeKey);
      for (const key of demoRoutes) {
        assert.equal(documented.includes(key), demo === 'on', `${key} with demo tools ${demo}`);
      }
    }
    const served = await api.call('GET', '/api/openapi.json');
    assert.deepEqual(served.body, JSON.parse(JSON.stringify(openApiDocument(api.deps.config))));
  });

  /**
   * Near misses of each field, generated: the document's schema and the server's zod schema must
   * say the same of every one. Covers the rules that were once checks the document could not
   * show (a price of "0", the cursor's form, control characters in a reason).
   */
  void test('accepts exactly what the server accepts, field by field', () => {
    const component = (name: string) => validator.compile({ $ref: `#/components/schemas/${name}` });
    const parameterOf = (key: string, name: string) => {
      const op = operations(doc).find((entry) => entry.key === key)?.op;
      const found = op?.parameters?.find((p) => p.name === name);
      assert.ok(found, `${key} has the parameter ${name}`);
      return validator.compile(found.schema);
    };
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'grapheme', maxLength: 120 }),
      fc.constantFrom(
        ' ',
        '\u00a0',
        'a\u0007',
        '\u0085',
        'x'.repeat(100),
        '😀'.repeat(50),
        '😀'.repeat(51),
      ),
    );
    const price = fc.oneof(
      fc.stringMatching(/^-?\d{0,10}(\.\d{0,3})?$/),
      fc.double({ noNaN: true, min: -1, max: 1e9 }),
      fc.integer({ min: -5, max: 100 }).map((cents) => cents / 100),
      fc.constantFrom('0', '0.0', '0.00', '0.01', '00.10', '99999999.99', '100000000', 0, 1e-7),
    );
    const cursor = fc.oneof(
      fc.stringMatching(/^\d{0,16}\.[\w.~-]{0,66}$/),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.constantFrom('not-a-cursor', '1767225600000.6b0e9d2c-6a55-4f0b-8a7c-31c7c2a0f5de'),
    );
    const body = orderBody();
    const cases: {
      name: string;
      zod: z.ZodType;
      doc: () => (v: unknown) => boolean;
      wrap: (v: unknown) => unknown;
      values: fc.Arbitrary<unknown>;
    }[] = [
      ...(['customerId', 'product'] as const).map((field) => ({
        name: `order ${field}`,
        zod: createOrderRequest,
        doc: () => component('CreateOrderRequest'),
        wrap: (value: unknown) => ({ ...body, [field]: value }),
        values: text,
      })),
      {
        name: 'order unitPrice',
        zod: createOrderRequest,
        doc: () => component('CreateOrderRequest'),
        wrap: (value) => ({ ...body, unitPrice: value }),
        values: price,
      },
      {
        name: 'order quantity',
        zod: createOrderRequest,
        doc: () => component('CreateOrderRequest'),
        wrap: (value) => ({ ...body, quantity: value }),
        values: fc.oneof(fc.integer({ min: -2, max: 10_002 }), fc.double({ noNaN: true })),
      },
      {
        name: 'order currency',
        zod: createOrderRequest,
        doc: () => component('CreateOrderRequest'),
        wrap: (value) => ({ ...body, currency: value }),
        values: fc.oneof(
          fc.stringMatching(/^[A-Za-z]{2,4}$/),
          fc.constantFrom('GBP', 'XYZ', 'gbp'),
        ),
      },
      {
        name: 'order datePlaced',
        zod: createOrderRequest,
        doc: () => component('CreateOrderRequest'),
        wrap: (value) => ({ ...body, datePlaced: value }),
        values: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.stringMatching(
            /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,4})?)?([Zz]|[+-]\d\d:?\d\d)?$/,
          ),
          fc.constantFrom(
            '0000-01-01T00:00:00Z',
            '0999-12-31T23:59:59Z',
            '1000-01-01T00:00:00+23:59',
            '9998-12-31T23:59:59-23:59',
            '9999-01-01T00:00:00Z',
          ),
        ),
      },
      {
        name: 'cancel reason',
        zod: cancelOrderRequest,
        doc: () => component('CancelOrderRequest'),
        wrap: (value) => ({ reason: value }),
        values: text,
      },
      {
        name: 'session token',
        zod: sessionRequest,
        doc: () => component('SessionRequest'),
        wrap: (value) => ({ token: value }),
        values: fc.oneof(
          text,
          fc.constantFrom('x'.repeat(500), '😀'.repeat(250), '😀'.repeat(251)),
        ),
      },
      {
        name: 'feature enabled',
        zod: setFeatureRequest,
        doc: () => component('SetFeatureRequest'),
        wrap: (value) => ({ enabled: value }),
        values: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)),
      },
      {
        name: 'load request',
        zod: loadRequest(api.deps.config.LOAD_MAX_RATE_PER_SECOND),
        doc: () => component('LoadRequest'),
        wrap: (value) => value,
        values: fc.record(
          {
            ratePerSecond: fc.double({ noNaN: true, min: -1, max: 20 }),
            durationSeconds: fc.oneof(fc.integer({ min: -1, max: 4000 }), fc.double()),
          },
          { requiredKeys: [] },
        ),
      },
      ...(['status', 'customerId', 'cursor', 'limit'] as const).map((name) => ({
        name: `list query ${name}`,
        zod: listOrdersQuery.shape[name],
        doc: () => parameterOf('GET /api/orders', name),
        wrap: (value: unknown) => value,
        values:
          name === 'cursor'
            ? cursor
            : name === 'limit'
              ? fc.oneof(fc.integer({ min: -1, max: 202 }), fc.double({ noNaN: true }))
              : name === 'status'
                ? fc.oneof(fc.constantFrom('failed', 'queued', 'shipped', 'FAILED'), fc.string())
                : text,
      })),
      {
        name: 'Idempotency-Key header',
        zod: idempotencyKeyHeader,
        doc: () => parameterOf('POST /api/orders', 'Idempotency-Key'),
        wrap: (value) => value,
        values: fc.oneof(
          fc.string({ maxLength: 210 }),
          fc.constantFrom('k'.repeat(200), 'k'.repeat(201)),
        ),
      },
    ];
    for (const { name, zod, doc: compile, wrap, values } of cases) {
      const documented = compile();
      fc.assert(
        fc.property(values, (value) => {
          const wrapped = wrap(value);
          const server = zod.safeParse(wrapped).success;
          const contract = documented(wrapped);
          assert.equal(
            contract,
            server,
            `${name}: ${JSON.stringify(value)} is ${server ? 'accepted' : 'refused'} by the server ` +
              `and ${contract ? 'allowed' : 'refused'} by the document`,
          );
        }),
        { seed: SEED, numRuns: 300 },
      );
    }
  });
});
