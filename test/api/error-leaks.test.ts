/**
 * Error answers never carry internal details. The failures are provoked for real: malformed and
 * oversized requests, unknown routes, Temporal and the finance package unreachable, a closed
 * database, a database whose tables are gone (genuine SQL errors) and, on PostgreSQL, a cut
 * connection. No answer may hold a stack frame, a source path, SQL text or a driver's message,
 * a network error, the connection string or any part of it (password, host and port, file), or
 * the operator token. `bad-input` and `outages` check the status and code of most of these; this
 * file checks what else the answer says, and that the details went to the log instead.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import {
  FEATURE_TOGGLE_CHANGES_TABLE,
  FEATURE_TOGGLES_TABLE,
  ORDERS_TABLE,
  STATUS_COUNTS_TABLE,
} from '../../db/models';
import { DATABASES } from '../support/database';
import { newOrder } from '../support/orders';
import {
  JSON_TYPE,
  orderBody,
  startApi,
  unreachableTemporal,
  type Answer,
  type CallOptions,
  type RunningApi,
} from './harness';
import { databaseOutage, type DatabaseOutage } from './outage';

/** What no answer may contain, whatever went wrong. */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\bat (?:async )?[\w$.<>[\]]+ \(|(?:\n|\\n)\s*at \S/],
  ['a source path', /\.[cm]?[jt]s:\d+|\/work\/|node_modules|node:internal/],
  [
    'SQL text',
    /\b(?:SELECT\s[^]*\sFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|DROP\s+TABLE)\b/i,
  ],
  [
    "a database driver's message",
    /SQLITE_|Sequelize|ConnectionManager|relation "|no such table|syntax error at|pg_/i,
  ],
  ['a network error', /ECONN[A-Z]+|ENOTFOUND|EPIPE|ETIMEDOUT|getaddrinfo|\d+ UNAVAILABLE/],
  ['a connection string', /\b(?:postgres(?:ql)?|mssql|sqlite):/i],
];

/** The parts of a database's connection settings (`url`, opened as `db`) that stay on the server. */
function secretsOf(db: Database, url: string): string[] {
  if (url.startsWith('sqlite:')) return [url, url.slice('sqlite:'.length)];
  const { host, port, password, database } = db.sequelize.config;
  // The name of a fresh database is unique (orders_<uuid>): it shows only if it leaked.
  return [url, password ?? '', `${host}:${port}`, database].filter((part) => part.length > 0);
}

/** The API's error shape: `{ error: { code, message, details? } }` and nothing else. */
function assertErrorShape(answer: Answer, code: string): void {
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, answer.text);
  const body = answer.body as { error?: Record<string, unknown> } | null;
  assert.deepEqual(Object.keys(body ?? {}), ['error'], answer.text);
  const error = body?.error ?? {};
  assert.deepEqual(
    Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key)),
    [],
    answer.text,
  );
  assert.equal(error.code, code, answer.text);
  assert.equal(typeof error.message, 'string');
}

function assertNoLeak(answer: Answer, secrets: string[]): void {
  const headers = [...answer.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
  assert.equal(answer.headers.get('x-powered-by'), null);
  for (const [where, text] of [
    ['body', answer.text],
    ['headers', headers],
  ] as const) {
    for (const [what, pattern] of LEAKS) {
      assert.doesNotMatch(text, pattern, `the ${where} carries ${what}: ${text.slice(0, 500)}`);
    }
    for (const secret of [process.cwd(), ...secrets]) {
      assert.ok(!text.includes(secret), `the ${where} carries "${secret}": ${text.slice(0, 500)}`);
    }
  }
}

interface Provocation {
  name: string;
  method: string;
  path: string | (() => string);
  request?: CallOptions;
  status: number;
  /** The error code, or null for a 200 whose parts say what is unreachable. */
  code: string | null;
}

const ORDERS = '/api/orders';
const TOGGLE = '/api/admin/features/NEW_VERIFICATION';
const placeOrder: CallOptions = { json: orderBody() };
const flipToggle: CallOptions = { json: { enabled: true } };
/** Temporal calls give up fast: the point is the answer, not the wait. */
const FAST = { temporalTimeoutMs: 300 };

/** A URL for `target` with a password in it (PostgreSQL's test server trusts any password). */
function withPassword(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  const parsed = new URL(url);
  parsed.password = `pw-${randomUUID()}`;
  return parsed.toString();
}

for (const target of DATABASES) {
  void describe(`error answers leak nothing internal (${target.name})`, () => {
    const dbs: Database[] = [];
    const apis: RunningApi[] = [];
    let outage: DatabaseOutage | null = null;
    let secrets: string[] = [];
    let orderId = '';

    const open = async (url: string) => {
      const db = await openDatabase(url);
      dbs.push(db);
      secrets.push(...secretsOf(db, url));
      return db;
    };
    const api = async (db: Database, env: Record<string, string> = {}) => {
      const running = await startApi({ db, temporal: unreachableTemporal(), env, override: FAST });
      apis.push(running);
      return running;
    };

    /** Temporal and the finance package unreachable; the database works. */
    let healthy: RunningApi;
    /** The database handle is closed: every query fails before reaching the server. */
    let closed: RunningApi;
    /** The tables are gone: every query reaches the database and fails there, with SQL. */
    let broken: RunningApi;
    /** PostgreSQL only: the connection is cut (refused), as when the server goes away. */
    let cut: RunningApi | null = null;

    before(async () => {
      const db = await open(withPassword(await target.url()));
      orderId = (await db.orders.create(newOrder())).id;
      healthy = await api(db, { FINANCE_URL: 'http://127.0.0.1:1' });

      const closedDb = await open(withPassword(await target.url()));
      // Started first (the harness makes its credentials in the database), then closed.
      closed = await api(closedDb);
      await closedDb.close();
      dbs.splice(dbs.indexOf(closedDb), 1); // closed once is enough: SQLite throws on a second close

      const brokenDb = await open(withPassword(await target.url()));
      const tables = brokenDb.sequelize.getQueryInterface();
      for (const table of [
        ORDERS_TABLE,
        STATUS_COUNTS_TABLE,
        FEATURE_TOGGLE_CHANGES_TABLE,
        FEATURE_TOGGLES_TABLE,
      ]) {
        await tables.dropTable(table);
      }
      broken = await api(brokenDb);

      if (target.name === 'PostgreSQL') {
        const url = withPassword(await target.url());
        outage = await databaseOutage(url);
        secrets.push(...secretsOf(outage.db, url));
        cut = await api(outage.db);
        await outage.cut();
      }
      secrets = [...new Set(secrets)];
    });
    after(async () => {
      for (const running of apis) await running.close();
      await outage?.close();
      for (const db of dbs) await db.close();
    });

    const check = (via: () => RunningApi | null, cases: Provocation[]) => {
      for (const provoked of cases) {
        void test(`${provoked.name}: ${provoked.status}${provoked.code ? ` ${provoked.code}` : ''}, nothing internal in it`, async () => {
          const running = via();
          assert.ok(running);
          const path = typeof provoked.path === 'string' ? provoked.path : provoked.path();
          const answer = await running.call(provoked.method, path, provoked.request);
          assert.equal(answer.status, provoked.status, answer.text);
          if (provoked.code) assertErrorShape(answer, provoked.code);
          const credentials = Object.values(running.credentials).flatMap((c) =>
            [c.key, c.sessionId, c.password].filter((s): s is string => s !== undefined),
          );
          assertNoLeak(answer, [...secrets, ...credentials]);
        });
      }
    };

    void describe('bad requests, and Temporal and finance unreachable', () => {
      check(
        () => healthy,
        [
          {
            name: 'malformed JSON',
            method: 'POST',
            path: ORDERS,
            request: { raw: '{"customerId":', headers: JSON_TYPE },
            status: 400,
            code: 'malformed_json',
          },
          {
            name: 'a body of 1 MiB',
            method: 'POST',
            path: ORDERS,
            request: { raw: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }), headers: JSON_TYPE },
            status: 413,
            code: 'payload_too_large',
          },
          {
            name: 'an unknown route',
            method: 'GET',
            path: '/api/no/such/route',
            status: 404,
            code: 'not_found',
          },
          {
            name: 'a broken percent escape in the path',
            method: 'GET',
            path: `${ORDERS}/%E0%A4%A`,
            status: 400,
            code: 'bad_request',
          },
          {
            name: 'a method the route lacks',
            method: 'PATCH',
            path: ORDERS,
            status: 405,
            code: 'method_not_allowed',
          },
          {
            name: 'cancel with Temporal unreachable',
            method: 'POST',
            path: () => `${ORDERS}/${orderId}/cancel`,
            request: {},
            status: 503,
            code: 'temporal_unavailable',
          },
          {
            name: "an order's detail with Temporal unreachable",
            method: 'GET',
            path: () => `${ORDERS}/${orderId}`,
            status: 200,
            code: null,
          },
          {
            name: 'readyz with Temporal unreachable',
            method: 'GET',
            path: '/readyz',
            status: 503,
            code: 'not_ready',
          },
          {
            name: 'a scenario with the finance package unreachable',
            method: 'POST',
            path: '/api/scenarios/queue-reliability',
            request: {},
            status: 503,
            code: 'finance_unavailable',
          },
          {
            name: 'the system panel with Temporal and finance unreachable',
            method: 'GET',
            path: '/api/system',
            status: 200,
            code: null,
          },
        ],
      );
    });

    const everyCall = (status: number, code: string): Provocation[] => [
      { name: 'placing an order', method: 'POST', path: ORDERS, request: placeOrder, status, code },
      { name: 'listing orders', method: 'GET', path: ORDERS, status, code },
      { name: 'flipping a toggle', method: 'PUT', path: TOGGLE, request: flipToggle, status, code },
      {
        name: 'listing toggles',
        method: 'GET',
        path: '/api/admin/features',
        request: {},
        status,
        code,
      },
      { name: 'stats', method: 'GET', path: '/api/stats', status, code },
      { name: 'metrics', method: 'GET', path: '/metrics', status, code },
    ];

    void describe('the database handle closed', () => {
      check(
        () => closed,
        [
          ...everyCall(503, 'database_unavailable'),
          {
            name: "an order's detail",
            method: 'GET',
            path: () => `${ORDERS}/${orderId}`,
            status: 503,
            code: 'database_unavailable',
          },
          { name: 'readyz', method: 'GET', path: '/readyz', status: 503, code: 'not_ready' },
        ],
      );
      void test("readyz's answer names the database; its error is in the log", async () => {
        const answer = await closed.call('GET', '/readyz');
        assert.equal(answer.status, 503);
        const details = (answer.body as { error: { details: { path: string; message: string }[] } })
          .error.details;
        assert.deepEqual(
          details.find((detail) => detail.path === 'database'),
          {
            path: 'database',
            message: 'the check failed; the API log has the error',
          },
        );
        const logged = closed.logs.find((line) => line.message === 'readiness check failed');
        assert.match(String(logged?.database), /connection manager was closed/i);
      });
    });

    void describe('SQL errors (the tables dropped)', () => {
      check(() => broken, everyCall(500, 'internal_error'));
      void test('each of them is in the log with its error, SQL and stack', () => {
        const logged = broken.logs.filter((line) => line.message === 'unexpected error');
        assert.deepEqual(
          logged.map((line) => `${String(line.method)} ${String(line.path)}`).sort(),
          [
            'GET /api/admin/features',
            'GET /api/orders',
            'GET /api/stats',
            'GET /metrics',
            'POST /api/orders',
            'PUT /api/admin/features/NEW_VERIFICATION',
          ],
        );
        for (const line of logged) {
          assert.match(String(line.error), /no such table|does not exist/);
          assert.match(String(line.sql), /\b(SELECT|INSERT|UPDATE)\b/);
          assert.match(String(line.stack), /\n\s+at /);
        }
      });
    });

    if (target.name === 'PostgreSQL') {
      void describe('the connection to PostgreSQL cut', () => {
        check(
          () => cut,
          [
            ...everyCall(503, 'database_unavailable'),
            { name: 'readyz', method: 'GET', path: '/readyz', status: 503, code: 'not_ready' },
          ],
        );
        void test("readyz's database error (host and port refused) is in the log only", () => {
          const logged = cut?.logs.find((line) => line.message === 'readiness check failed');
          assert.match(String(logged?.database), /ECONNREFUSED 127\.0\.0\.1:\d+/);
        });
      });
    }
  });
}
