/**
 * Malformed requests, table-driven: each gets a deliberate 4xx naming what is wrong, and none of
 * them writes anything. Validation happens before Temporal is touched, so Temporal is left
 * unreachable here on purpose: a request that slipped through would still answer 201.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { DATABASES } from '../support/database';
import {
  errorOf,
  JSON_TYPE,
  orderBody,
  startApi,
  unreachableTemporal,
  type CallOptions,
  type RunningApi,
} from './harness';

interface Case {
  name: string;
  method?: string;
  path?: string;
  request: CallOptions;
  status: number;
  code: string;
  /** The field, parameter or header the answer must name; null when there is none. */
  field: string | null;
}

const ORDERS = '/api/orders';
const SOME_ORDER = '/api/orders/00000000-0000-0000-0000-000000000000';

/** The valid order with `field` replaced (or removed, for `undefined`). */
const withField = (field: string, value: unknown): CallOptions => ({
  json: orderBody({ [field]: value }),
});
/** The valid order with `field`'s value written as raw JSON text (for what JS cannot express). */
const withRawField = (field: string, json: string): CallOptions => ({
  raw: JSON.stringify(orderBody({ [field]: '§' })).replace('"§"', json),
  headers: JSON_TYPE,
});
const invalid = (name: string, field: string, request: CallOptions): Case => ({
  name,
  request,
  status: 400,
  code: 'validation_failed',
  field,
});

const CASES: Case[] = [
  invalid('customerId missing', 'customerId', withField('customerId', undefined)),
  invalid('customerId empty', 'customerId', withField('customerId', '')),
  invalid('customerId blank', 'customerId', withField('customerId', '   ')),
  invalid('customerId a number', 'customerId', withField('customerId', 42)),
  invalid('customerId over 100 characters', 'customerId', withField('customerId', 'c'.repeat(101))),
  invalid('customerId with a NUL', 'customerId', withField('customerId', 'a\u0000b')),
  invalid('customerId with a newline', 'customerId', withField('customerId', 'a\nb')),
  invalid('customerId a lone surrogate', 'customerId', withRawField('customerId', '"\\ud800"')),
  invalid('product missing', 'product', withField('product', undefined)),
  invalid('product null', 'product', withField('product', null)),
  invalid('product an array', 'product', withField('product', ['Widget'])),
  invalid('product over 200 characters', 'product', withField('product', 'p'.repeat(201))),
  invalid('product 60,000 characters', 'product', withField('product', '商'.repeat(20_000))),
  invalid('quantity missing', 'quantity', withField('quantity', undefined)),
  invalid('quantity 0', 'quantity', withField('quantity', 0)),
  invalid('quantity negative', 'quantity', withField('quantity', -1)),
  invalid('quantity fractional', 'quantity', withField('quantity', 2.5)),
  invalid('quantity a numeric string', 'quantity', withField('quantity', '2')),
  invalid('quantity above 10000', 'quantity', withField('quantity', 10_001)),
  invalid('quantity 1e309 (infinite)', 'quantity', withRawField('quantity', '1e309')),
  invalid('quantity a boolean', 'quantity', withField('quantity', true)),
  invalid('unitPrice missing', 'unitPrice', withField('unitPrice', undefined)),
  invalid('unitPrice 0.001 (number)', 'unitPrice', withField('unitPrice', 0.001)),
  invalid('unitPrice "0.001" (string)', 'unitPrice', withField('unitPrice', '0.001')),
  invalid('unitPrice negative number', 'unitPrice', withField('unitPrice', -5)),
  invalid('unitPrice negative string', 'unitPrice', withField('unitPrice', '-5.00')),
  invalid('unitPrice 1e309 (infinite)', 'unitPrice', withRawField('unitPrice', '1e309')),
  invalid('unitPrice in exponent notation', 'unitPrice', withField('unitPrice', '1e3')),
  invalid('unitPrice not a number', 'unitPrice', withField('unitPrice', 'abc')),
  invalid('unitPrice "NaN"', 'unitPrice', withField('unitPrice', 'NaN')),
  invalid('unitPrice zero', 'unitPrice', withField('unitPrice', 0)),
  invalid('unitPrice "0.00"', 'unitPrice', withField('unitPrice', '0.00')),
  invalid('unitPrice above 99999999.99', 'unitPrice', withField('unitPrice', 100_000_000)),
  invalid('unitPrice with spaces', 'unitPrice', withField('unitPrice', ' 12.50')),
  invalid('unitPrice with a decimal comma', 'unitPrice', withField('unitPrice', '12,50')),
  invalid('unitPrice null', 'unitPrice', withField('unitPrice', null)),
  invalid('currency missing', 'currency', withField('currency', undefined)),
  invalid('currency lower case', 'currency', withField('currency', 'gbp')),
  invalid('currency not ISO 4217', 'currency', withField('currency', 'XYZ')),
  invalid('currency four letters', 'currency', withField('currency', 'GBPX')),
  invalid('currency numeric code', 'currency', withField('currency', 826)),
  invalid(
    'datePlaced without an offset',
    'datePlaced',
    withField('datePlaced', '2026-07-01T10:00:00'),
  ),
  invalid('datePlaced a date only', 'datePlaced', withField('datePlaced', '2026-07-01')),
  invalid('datePlaced 30 February', 'datePlaced', withField('datePlaced', '2026-02-30T10:00:00Z')),
  invalid('datePlaced in words', 'datePlaced', withField('datePlaced', 'yesterday')),
  invalid('datePlaced epoch millis', 'datePlaced', withField('datePlaced', 1_700_000_000_000)),
  invalid(
    'datePlaced offset without colon',
    'datePlaced',
    withField('datePlaced', '2026-07-01T10:00:00+0100'),
  ),
  invalid('an unknown field', 'unit_price', { json: { ...orderBody(), unit_price: '1.00' } }),
  invalid('a __proto__ key', '__proto__', {
    raw: JSON.stringify(orderBody()).replace('{', '{"__proto__":{"admin":true},'),
    headers: JSON_TYPE,
  }),
  invalid('body an array', '(body)', { json: [orderBody()] }),
  invalid('body a string', '(body)', { json: 'order' }),
  invalid('body null', '(body)', { raw: 'null', headers: JSON_TYPE }),
  invalid('body 5,000 nested arrays', '(body)', {
    raw: '['.repeat(5000) + ']'.repeat(5000),
    headers: JSON_TYPE,
  }),
  invalid('Idempotency-Key over 200 characters', 'Idempotency-Key', {
    json: orderBody(),
    headers: { 'idempotency-key': 'k'.repeat(201) },
  }),
  invalid('Idempotency-Key with a space', 'Idempotency-Key', {
    json: orderBody(),
    headers: { 'idempotency-key': 'my key' },
  }),
  {
    name: 'a duplicate key',
    request: {
      raw: JSON.stringify(orderBody()).replace('{', '{"currency":"USD",'),
      headers: JSON_TYPE,
    },
    status: 400,
    code: 'duplicate_key',
    field: 'currency',
  },
  {
    name: 'a duplicate key inside a nested object',
    request: withRawField('customerId', '{"a":1,"b":[{"x":1,"x":2}]}'),
    status: 400,
    code: 'duplicate_key',
    field: 'customerId.b.0.x',
  },
  {
    name: 'JSON with a trailing comma',
    request: { raw: '{"customerId":"c",}', headers: JSON_TYPE },
    status: 400,
    code: 'malformed_json',
    field: null,
  },
  {
    name: 'JSON that is not UTF-8',
    request: {
      raw: Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
      headers: JSON_TYPE,
    },
    status: 400,
    code: 'malformed_json',
    field: null,
  },
  {
    name: 'an empty body',
    request: { raw: '', headers: JSON_TYPE },
    status: 400,
    code: 'missing_body',
    field: null,
  },
  {
    name: 'a text/plain body',
    request: { raw: JSON.stringify(orderBody()) },
    status: 415,
    code: 'unsupported_media_type',
    field: null,
  },
  {
    name: 'a body without a content type',
    request: { raw: new TextEncoder().encode(JSON.stringify(orderBody())) },
    status: 415,
    code: 'unsupported_media_type',
    field: null,
  },
  {
    name: 'JSON declared as latin1',
    request: {
      raw: JSON.stringify(orderBody()),
      headers: { 'content-type': 'application/json; charset=latin1' },
    },
    status: 415,
    code: 'unsupported_media_type',
    field: null,
  },
  ...(
    [
      ['limit above 200', 'limit=201', 'limit'],
      ['limit 0', 'limit=0', 'limit'],
      ['limit not a number', 'limit=abc', 'limit'],
      ['an unknown status', 'status=shipped', 'status'],
      ['status given twice', 'status=failed&status=queued', 'status'],
      ['a cursor the API never gave', 'cursor=not-a-cursor', 'cursor'],
      ['an unknown query parameter', 'sort=price', 'sort'],
      ['an empty customerId', 'customerId=', 'customerId'],
    ] as const
  ).map(([name, query, field]): Case => ({
    name: `listing with ${name}`,
    method: 'GET',
    path: `${ORDERS}?${query}`,
    request: {},
    status: 400,
    code: 'validation_failed',
    field,
  })),
  {
    name: 'cancel with a reason that is not text',
    path: `${SOME_ORDER}/cancel`,
    request: { json: { reason: 5 } },
    status: 400,
    code: 'validation_failed',
    field: 'reason',
  },
  {
    name: 'cancel with an unknown field',
    path: `${SOME_ORDER}/cancel`,
    request: { json: { force: true } },
    status: 400,
    code: 'validation_failed',
    field: 'force',
  },
  {
    name: 'retry with a body it does not take',
    path: `${SOME_ORDER}/retry`,
    request: { json: { attempts: 3 } },
    status: 400,
    code: 'validation_failed',
    field: 'attempts',
  },
  {
    name: 'an order id that is not valid percent-encoding',
    method: 'GET',
    path: `${ORDERS}/%E0%A4%A`,
    request: {},
    status: 400,
    code: 'bad_request',
    field: null,
  },
];

for (const target of DATABASES) {
  void describe(`bad input to the order API (${target.name})`, () => {
    let db: Database;
    let api: RunningApi;

    before(async () => {
      db = await openDatabase(await target.url());
      api = await startApi({ db, temporal: unreachableTemporal() });
    });
    after(async () => {
      await api?.close();
      await db?.close();
    });

    void test(`the table has at least 40 malformed requests (${CASES.length})`, () => {
      assert.ok(CASES.length >= 40);
    });

    for (const bad of CASES) {
      void test(`${bad.name}: ${bad.status} ${bad.code}${bad.field ? ` naming ${bad.field}` : ''}`, async () => {
        const answer = await api.call(bad.method ?? 'POST', bad.path ?? ORDERS, bad.request);
        assert.equal(answer.status, bad.status, answer.text);
        const error = errorOf(answer);
        assert.equal(error.code, bad.code, answer.text);
        assert.ok(error.message.length > 0);
        if (bad.field === null) {
          assert.equal(error.details, undefined, answer.text);
        } else {
          assert.ok(
            error.details?.some((detail) => detail.path === bad.field),
            `names ${bad.field}: ${answer.text}`,
          );
          assert.ok(error.message.includes(bad.field), `the message names ${bad.field}`);
        }
      });
    }

    void test('none of them wrote an order', async () => {
      const counts = await db.orders.countByStatus();
      assert.equal(
        Object.values(counts).reduce((sum, n) => sum + n, 0),
        0,
      );
    });
  });
}
