/**
 * The API against its own OpenAPI document, property-based: for every operation, requests are
 * generated from the document itself (test/support/json-schema.ts) and sent over real HTTP to
 * the real system (Temporal dev server, workers, finance simulator, PostgreSQL), with a
 * credential the route admits. A request the document allows is never a 5xx and never refused
 * as invalid (400/422); every answer has a status the operation declares and a body its schema
 * allows. A request the document forbids (wrong type, out of bounds, unknown field) is a 4xx
 * naming the field, never a 5xx. Fixed seed; bounded in count and in time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { ROUTE_ACCESS, type Access } from '../../api/access';
import { openApiPath } from '../../api/openapi';
import type { FeatureListResponse, OrderResponse } from '../../api/schemas';
import { freshPostgresUrl } from '../support/database';
import {
  arbitraryOf,
  documentValidator,
  type DocumentValidator,
  type Schema,
} from '../support/json-schema';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerForSuite } from '../support/temporal';
import { errorOf, orderBody, startSystemWithApi, type Answer, type RunningApi } from './harness';

const SEED = 20_261_202;
/** Cases per operation and property; the time limits below cut a slow run short. */
const VALID_RUNS = 80;
const INVALID_RUNS = 15;
/** An operation without parameters or body has one request to send: a few tries say it all. */
const FIXED_RUNS = 3;
/** The whole run's budget, shared by the operations (a cut run still asserts what it ran). */
const BUDGET_MS = 90_000;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
interface Operation {
  operationId: string;
  'x-undescribed'?: true;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

interface Target {
  method: string;
  path: string;
  access: Access;
  op: Operation;
}

/** A request as the document describes it: parameter values by name, and the body. */
interface Generated {
  params: Record<string, unknown>;
  body?: unknown;
}

const COMPONENT = '#/components/schemas/';

void describe('the API against its own OpenAPI document (property-based)', () => {
  const devServer = devServerForSuite();
  // Nested, so the system stops before the dev server it runs on.
  void describe('on PostgreSQL', () => suite(devServer));
});

function suite(devServer: () => TestWorkflowEnvironment): void {
  let api: RunningApi;
  let stop: () => Promise<void>;
  let doc: Document;
  let validator: DocumentValidator;
  let features: FeatureListResponse['features'];
  /** Ids of real orders, so order routes are fuzzed on orders that exist as well as on others. */
  const orders: string[] = [];

  const resolve = (ref: string): Schema => {
    assert.ok(ref.startsWith(COMPONENT), ref);
    const schema = doc.components.schemas[ref.slice(COMPONENT.length)];
    assert.ok(schema, ref);
    return schema;
  };

  before(async () => {
    ({ api, stop } = await startSystemWithApi(devServer(), await freshPostgresUrl(), {
      // Generated sign-ins carry wrong tokens; past the default 30 a minute every request with
      // a credential would be a 429, and the rest of the run would test nothing else.
      AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: '1000000',
      // The load scenarios are fuzzed too: at most one order a second, a few seconds by default.
      LOAD_RATE_PER_SECOND: '1',
      LOAD_MAX_RATE_PER_SECOND: '1',
      LOAD_DURATION: '5s',
    }));
    const answer = await api.call('GET', '/api/openapi.json');
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    doc = answer.body as Document;
    validator = documentValidator(doc.components.schemas);
    const list = await api.call('GET', '/api/admin/features', {});
    assert.equal(list.status, 200, list.text);
    features = (list.body as FeatureListResponse).features;
    for (const overrides of [{}, { datePlaced: '3000-01-01T00:00:00Z' }, {}]) {
      const placed = await api.call('POST', '/api/orders', {
        json: orderBody(overrides),
      });
      assert.equal(placed.status, 201, placed.text);
      orders.push((placed.body as OrderResponse).id);
    }
  });

  after(async () => {
    // Undo what the run switched: toggles back to their values, load stopped, finance normal.
    for (const { name, enabled } of features ?? []) {
      const put = await api.call('PUT', `/api/admin/features/${name}`, {
        json: { enabled },
      });
      assert.equal(put.status, 200, put.text);
    }
    const reset = await api.call('POST', '/api/scenarios/reset', {});
    assert.equal(reset.status, 200, reset.text);
    await stop();
  });

  function targets(): Target[] {
    // The dashboard's page routes are not part of the API's document.
    return ROUTE_ACCESS.filter((route) => !route.page).flatMap((route) => {
      const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${route.path} is in the document`);
      // Undescribed routes fail the document's own test; there is nothing here to generate.
      if (op['x-undescribed']) return [];
      return [{ method: route.method, path: openApiPath(route.path), access: route.access, op }];
    });
  }

  const takesInput = ({ op }: Target) => (op.parameters ?? []).length > 0 || !!op.requestBody;

  const bodySchema = (op: Operation) => op.requestBody?.content['application/json']?.schema;

  function valid(schema: Schema, value: unknown): boolean {
    return validator.compile(schema)(value);
  }

  /** Whether every part of `request` is one the document allows. */
  function documentAllows(target: Target, request: Generated): boolean {
    for (const parameter of target.op.parameters ?? []) {
      const value = request.params[parameter.name];
      if (value === undefined) {
        if (parameter.required) return false;
        continue;
      }
      if (!valid(parameter.schema, value)) return false;
    }
    const known = new Set((target.op.parameters ?? []).map((p) => p.name));
    if (Object.keys(request.params).some((name) => !known.has(name))) return false;
    const schema = bodySchema(target.op);
    if (request.body === undefined) return !target.op.requestBody?.required;
    return schema !== undefined && valid(schema, request.body);
  }

  function requests(target: Target): fc.Arbitrary<Generated> {
    const params = Object.fromEntries(
      (target.op.parameters ?? []).map((parameter) => {
        let values = arbitraryOf(parameter.schema, resolve);
        if (parameter.in === 'path' && parameter.name === 'id') {
          values = fc.oneof(fc.constantFrom(...orders), values);
        }
        return [
          parameter.name,
          parameter.required ? values : fc.option(values, { nil: undefined }),
        ];
      }),
    );
    const schema = bodySchema(target.op);
    const body = schema
      ? target.op.requestBody?.required
        ? arbitraryOf(schema, resolve)
        : fc.option(arbitraryOf(schema, resolve), { nil: undefined })
      : fc.constant(undefined);
    return fc
      .record({ params: fc.record(params), body })
      .map(({ params: values, body: sent }) => ({
        params: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)),
        ...(sent === undefined ? {} : { body: sent }),
      }))
      .filter((request) => documentAllows(target, request));
  }

  async function send(target: Target, request: Generated): Promise<Answer> {
    const where = (place: Parameter['in']) =>
      (target.op.parameters ?? []).filter((p) => p.in === place).map((p) => p.name);
    const path = target.path.replace(/\{(\w+)\}/g, (_all, name: string) =>
      encodeURIComponent(String(request.params[name])),
    );
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.params)) {
      if (where('header').includes(name)) headers[name] = String(value);
      else if (!where('path').includes(name)) query.set(name, String(value));
    }
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return api.call(target.method, `${path}${search}`, {
      headers,
      ...(request.body === undefined ? {} : { json: request.body }),
    });
  }

  /** Why `answer` breaks the document's promise for `target`, or null when it keeps it. */
  function broken(target: Target, answer: Answer): string | null {
    const declared = target.op.responses[String(answer.status)];
    if (!declared) return `answered ${answer.status}, which the operation does not declare`;
    const type = answer.headers.get('content-type') ?? '';
    for (const [media, { schema }] of Object.entries(declared.content ?? {})) {
      if (!type.startsWith(media)) return `answered ${type}, not the declared ${media}`;
      if (media !== 'application/json') continue;
      const validate = validator.compile(schema);
      if (!validate(answer.body)) {
        return `the body does not match the declared schema: ${validator.errorsText(validate)}`;
      }
    }
    return null;
  }

  const describeCase = (target: Target, request: Generated, answer: Answer) =>
    `${target.method} ${target.path} ${JSON.stringify(request).slice(0, 500)} -> ` +
    `${answer.status} ${answer.text.slice(0, 400)}`;

  /** fast-check's report (seed, path, counterexample) as the failure, and the case count. */
  async function check<T>(
    t: TestContext,
    name: string,
    property: fc.IAsyncProperty<[T]>,
    numRuns: number,
    timeLimit: number,
  ): Promise<number> {
    const details = await fc.check(property, {
      seed: SEED,
      numRuns,
      interruptAfterTimeLimit: timeLimit,
    });
    if (details.failed) assert.fail(`${name}\n${fc.defaultReportMessage(details)}`);
    t.diagnostic(`${name}: ${details.numRuns} cases${details.interrupted ? ' (time limit)' : ''}`);
    return details.numRuns;
  }

  /** One way of breaking a generated request, and the field the refusal must name. */
  interface Mutation {
    request: Generated;
    field: string;
  }

  /** Values of the wrong JSON type for a schema: the validator picks those it refuses. */
  const WRONG_TYPES: unknown[] = [true, 12_345, 'not-this', null, [], {}];

  function outOfBounds(schema: Schema): unknown[] {
    const flat = typeof schema.$ref === 'string' ? resolve(schema.$ref) : schema;
    const values: unknown[] = [];
    if (typeof flat.maximum === 'number') values.push(flat.maximum + 1);
    if (typeof flat.minimum === 'number') values.push(flat.minimum - 1);
    if (typeof flat.exclusiveMinimum === 'number') values.push(flat.exclusiveMinimum);
    if (typeof flat.maxLength === 'number') values.push('x'.repeat(flat.maxLength + 1));
    if (typeof flat.minLength === 'number' && flat.minLength > 0) values.push('');
    return values;
  }

  function mutations(target: Target): fc.Arbitrary<Mutation> | null {
    const options: fc.Arbitrary<Mutation>[] = [];
    const base = requests(target);
    const schema = bodySchema(target.op);
    const bodyShape = schema && (typeof schema.$ref === 'string' ? resolve(schema.$ref) : schema);
    if (bodyShape?.type === 'object') {
      const properties = (bodyShape.properties ?? {}) as Record<string, Schema>;
      options.push(
        base.map((request) => ({
          request: { ...request, body: { ...(request.body as object), zzUnknown: 1 } },
          field: 'zzUnknown',
        })),
      );
      for (const [field, part] of Object.entries(properties)) {
        options.push(
          fc
            .tuple(base, fc.constantFrom(...WRONG_TYPES, ...outOfBounds(part)))
            .map(([request, value]) => ({
              request: { ...request, body: { ...(request.body as object), [field]: value } },
              field,
            })),
        );
      }
    }
    for (const parameter of target.op.parameters ?? []) {
      if (parameter.in === 'path') continue;
      const wrong = [...outOfBounds(parameter.schema), 'not-this', '-1', '1.5', 'x'.repeat(1000)];
      options.push(
        fc.tuple(base, fc.constantFrom(...wrong)).map(([request, value]) => ({
          request: { ...request, params: { ...request.params, [parameter.name]: value } },
          field: parameter.name,
        })),
      );
    }
    if ((target.op.parameters ?? []).some((p) => p.in === 'query')) {
      options.push(
        base.map((request) => ({
          request: { ...request, params: { ...request.params, zzUnknown: '1' } },
          field: 'zzUnknown',
        })),
      );
    }
    if (options.length === 0) return null;
    return fc
      .oneof(...options)
      .filter((mutation) => !documentAllowsMutation(target, mutation.request));
  }

  /** Header values travel as text: a mutated header is judged by its text, as it arrives. */
  function documentAllowsMutation(target: Target, request: Generated): boolean {
    const params = Object.fromEntries(
      Object.entries(request.params).map(([name, value]) => {
        const parameter = target.op.parameters?.find((p) => p.name === name);
        return [name, parameter && parameter.in !== 'path' ? coerce(parameter, value) : value];
      }),
    );
    return documentAllows(target, { ...request, params });
  }

  /** A query or header value as the server reads it back from its text. */
  function coerce(parameter: Parameter, value: unknown): unknown {
    const text = String(value);
    if (parameter.schema.type === 'integer' || parameter.schema.type === 'number') {
      return text.trim() === '' ? text : Number(text);
    }
    return text;
  }

  void test('a request the document forbids is a 4xx naming the field, never 5xx', async (t) => {
    const all = targets().flatMap((target) => {
      const arbitrary = mutations(target);
      return arbitrary ? [{ target, arbitrary }] : [];
    });
    let cases = 0;
    for (const { target, arbitrary } of all) {
      const name = `${target.method} ${target.path}`;
      cases += await check(
        t,
        name,
        fc.asyncProperty(
          arbitrary.map((mutation) => ({ ...mutation.request, field: mutation.field })),
          async ({ field, ...request }) => {
            const answer = await send(target, request);
            const said = `${field}: ${describeCase(target, request, answer)}`;
            assert.ok(answer.status < 500, `a server error: ${said}`);
            assert.ok(answer.status >= 400, `a request the document forbids was served: ${said}`);
            const problem = broken(target, answer);
            assert.equal(problem, null, `${problem}: ${said}`);
            // A rate limit answers before the request is read; it names no field, and says so.
            if (answer.status === 429) return;
            const paths = (errorOf(answer).details ?? []).map((detail) => detail.path);
            assert.ok(
              paths.some((path) => path === field || path.startsWith(`${field}.`)),
              `the refusal names ${field}: ${said}`,
            );
          },
        ),
        INVALID_RUNS,
        (BUDGET_MS * 0.3) / all.length,
      );
    }
    t.diagnostic(`${cases} document-invalid requests over ${all.length} operations`);
    assert.ok(cases >= all.length, 'every operation ran at least one case');
  });

  void test('a request the document allows is answered as the document says, never 5xx or 400', async (t) => {
    const all = targets();
    let cases = 0;
    for (const target of all) {
      const name = `${target.method} ${target.path}`;
      cases += await check(
        t,
        name,
        fc.asyncProperty(requests(target), async (request) => {
          const answer = await send(target, request);
          const said = describeCase(target, request, answer);
          assert.ok(answer.status < 500, `a server error: ${said}`);
          assert.ok(
            answer.status !== 400 && answer.status !== 422,
            `a request the document allows was refused as invalid: ${said}`,
          );
          const problem = broken(target, answer);
          assert.equal(problem, null, `${problem}: ${said}`);
        }),
        takesInput(target) ? VALID_RUNS : FIXED_RUNS,
        (BUDGET_MS * 0.7) / all.filter(takesInput).length,
      );
    }
    t.diagnostic(`${cases} document-valid requests over ${all.length} operations`);
    assert.ok(cases >= all.length, 'every operation ran at least one case');
  });
}
