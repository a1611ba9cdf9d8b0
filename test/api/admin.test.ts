/**
 * The feature-toggle admin API over HTTP: an operator reads and flips toggles, every flip leaves
 * an audit row, a log line and a count; nobody else gets in.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { ApiDeps } from '../../api/app';
import type { FeatureListResponse, FeatureToggleResponse } from '../../api/schemas';
import { openDatabase, type Database } from '../../db';
import { FEATURES } from '../../domain/features';
import { credentialFor } from '../support/credentials';
import { DATABASES } from '../support/database';
import { errorOf, startApi, unreachableTemporal, type RunningApi } from './harness';

const FEATURES_PATH = '/api/admin/features';
const TOGGLE_PATH = `${FEATURES_PATH}/NEW_VERIFICATION`;

for (const target of DATABASES) {
  void describe(`feature toggle admin API with ${target.name}`, () => {
    /** A fresh database and API per test: toggles are global, tests must not see each other's. */
    async function start(
      t: TestContext,
      override: (db: Database) => Partial<ApiDeps> = () => ({}),
    ): Promise<{ api: RunningApi; db: Database }> {
      const db = await openDatabase(await target.url());
      // Admin routes never talk to Temporal.
      const api = await startApi({ db, temporal: unreachableTemporal(), override: override(db) });
      t.after(async () => {
        await api.close();
        await db.close();
      });
      return { api, db };
    }

    const flip = (
      api: RunningApi,
      enabled: unknown,
      headers: Record<string, string> = {},
      path = TOGGLE_PATH,
    ) => api.call('PUT', path, { json: { enabled }, headers });

    void test('an operator sees every toggle at its default and no changes yet', async (t) => {
      const { api } = await start(t);
      const answer = await api.call('GET', FEATURES_PATH);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      const expected: FeatureListResponse = {
        features: [
          {
            name: 'NEW_VERIFICATION',
            description: FEATURES.NEW_VERIFICATION.description,
            enabled: false,
            updatedBy: null,
            updatedAt: null,
          },
        ],
        changes: [],
      };
      assert.deepEqual(answer.body, expected);
    });

    void test('a PUT flips the toggle: 200 with it, and the list shows it with its audit rows (who, as signed in), newest first', async (t) => {
      const { api, db } = await start(t);
      // A name the caller writes is not who it is: the audit records the signed-in admin.
      const on = await flip(api, true, { 'X-Operator': 'alice@example.com' });
      assert.equal(on.status, 200, on.text);
      const toggle = on.body as FeatureToggleResponse;
      assert.equal(toggle.name, 'NEW_VERIFICATION');
      assert.equal(toggle.enabled, true);
      assert.equal(toggle.updatedBy, api.credentials.admin.label);
      assert.ok(Math.abs(Date.parse(toggle.updatedAt ?? '') - Date.now()) < 60_000);

      const other = await credentialFor(db, 'admin');
      const off = await flip(api, false, other.headers);
      assert.equal(off.status, 200, off.text);
      assert.equal((off.body as FeatureToggleResponse).updatedBy, other.label);

      const list = await api.call('GET', FEATURES_PATH);
      assert.equal(list.status, 200, list.text);
      const body = list.body as FeatureListResponse;
      assert.deepEqual(body.features, [off.body]);
      assert.deepEqual(body.changes, [
        {
          name: 'NEW_VERIFICATION',
          enabled: false,
          changedBy: other.label,
          changedAt: (off.body as FeatureToggleResponse).updatedAt,
        },
        {
          name: 'NEW_VERIFICATION',
          enabled: true,
          changedBy: api.credentials.admin.label,
          changedAt: toggle.updatedAt,
        },
      ]);
    });

    void test('a flip is counted on /metrics and logged with who, what and the value it replaced', async (t) => {
      const { api } = await start(t);
      assert.equal((await flip(api, true)).status, 200);

      const metrics = await api.call('GET', '/metrics');
      assert.match(
        metrics.text,
        /^feature_toggle_changes_total\{name="NEW_VERIFICATION",enabled="true"\} 1$/m,
      );
      assert.match(
        metrics.text,
        /^feature_toggle_changes_total\{name="NEW_VERIFICATION",enabled="false"\} 0$/m,
      );

      const logged = api.logs.filter((line) => line.message === 'feature toggle changed');
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.level, 'info');
      assert.equal(logged[0]?.name, 'NEW_VERIFICATION');
      assert.equal(logged[0]?.enabled, true);
      assert.equal(logged[0]?.changedBy, api.credentials.admin.label);
      assert.equal(logged[0]?.previous, false);
    });

    void test('without a credential reading and flipping are 401, with a wrong one 401, as an operator 403, and nothing changes', async (t) => {
      const { api, db } = await start(t);
      const wrong = { authorization: 'Bearer not-the-token' };
      for (const [method, path] of [
        ['GET', FEATURES_PATH],
        ['PUT', TOGGLE_PATH],
        ['PUT', `${FEATURES_PATH}/NO_SUCH_TOGGLE`], // not revealed as unknown without a token
      ] as const) {
        const json = method === 'PUT' ? { enabled: true } : undefined;
        const missing = await api.call(method, path, { json, as: null });
        assert.equal(missing.status, 401, `${method} ${path}`);
        assert.equal(errorOf(missing).code, 'unauthorized');
        assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
        const invalid = await api.call(method, path, { json, headers: wrong });
        assert.equal(invalid.status, 401, `${method} ${path}`);
        assert.equal(errorOf(invalid).code, 'unauthorized');
        const forbidden = await api.call(method, path, { json, as: 'operator' });
        assert.equal(forbidden.status, 403, `${method} ${path}`);
        assert.equal(errorOf(forbidden).code, 'forbidden');
      }
      assert.equal((await db.features.get('NEW_VERIFICATION')).enabled, false);
      assert.deepEqual(await db.features.changes({ limit: 50 }), []);
      assert.equal(api.logs.filter((line) => line.message === 'feature toggle changed').length, 0);
    });

    void test('an unknown toggle is 404 unknown_feature; names are case-sensitive', async (t) => {
      const { api } = await start(t);
      for (const name of ['NO_SUCH_TOGGLE', 'new_verification']) {
        const answer = await flip(api, true, {}, `${FEATURES_PATH}/${name}`);
        assert.equal(answer.status, 404, name);
        assert.equal(errorOf(answer).code, 'unknown_feature');
        assert.match(errorOf(answer).message, /known: NEW_VERIFICATION/);
      }
    });

    void test('a body without enabled, with enabled "yes", or with an extra field is 400 naming the field', async (t) => {
      const { api, db } = await start(t);
      const cases: [unknown, string, RegExp][] = [
        [{}, 'enabled', /true or false/],
        [{ enabled: 'yes' }, 'enabled', /true or false/],
        [{ enabled: 1 }, 'enabled', /true or false/],
        [{ enabled: null }, 'enabled', /true or false/],
        [{ enabled: true, changedBy: 'mallory' }, 'changedBy', /not a known field/],
        [true, '(body)', /JSON object/],
      ];
      for (const [json, path, message] of cases) {
        const answer = await api.call('PUT', TOGGLE_PATH, { json });
        assert.equal(answer.status, 400, JSON.stringify(json));
        const error = errorOf(answer);
        assert.equal(error.code, 'validation_failed');
        assert.deepEqual(
          error.details?.map((d) => d.path),
          [path],
          JSON.stringify(json),
        );
        assert.match(error.details?.[0]?.message ?? '', message);
      }
      const empty = await api.call('PUT', TOGGLE_PATH);
      assert.equal(empty.status, 400);
      assert.equal(errorOf(empty).code, 'missing_body');
      const duplicate = await api.call('PUT', TOGGLE_PATH, {
        raw: '{"enabled":false,"enabled":true}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(duplicate.status, 400);
      assert.equal(errorOf(duplicate).code, 'duplicate_key');
      assert.deepEqual(await db.features.changes({ limit: 50 }), []);
    });

    void test('an X-Operator header changes nothing about who is recorded, whatever it says', async (t) => {
      const { api, db } = await start(t);
      for (const name of ['x'.repeat(101), '   ', 'someone-else']) {
        const answer = await flip(api, true, { 'X-Operator': name });
        assert.equal(answer.status, 200, JSON.stringify(name));
      }
      const changes = await db.features.changes({ limit: 50 });
      assert.deepEqual(
        changes.map((change) => change.changedBy),
        [1, 2, 3].map(() => api.credentials.admin.label),
      );
    });

    void test('a body that is not JSON is 415', async (t) => {
      const { api } = await start(t);
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
        const answer = await api.call('PUT', TOGGLE_PATH, {
          raw: 'enabled=true',
          headers: { 'content-type': contentType },
        });
        assert.equal(answer.status, 415, contentType);
        assert.equal(errorOf(answer).code, 'unsupported_media_type');
      }
    });

    void test('other methods are 405 with the allowed ones', async (t) => {
      const { api } = await start(t);
      for (const [method, path, allow] of [
        ['POST', FEATURES_PATH, 'GET, HEAD'],
        ['DELETE', FEATURES_PATH, 'GET, HEAD'],
        ['GET', TOGGLE_PATH, 'PUT'],
        ['POST', TOGGLE_PATH, 'PUT'],
        ['PATCH', TOGGLE_PATH, 'PUT'],
        ['DELETE', TOGGLE_PATH, 'PUT'],
      ] as const) {
        const answer = await api.call(method, path);
        assert.equal(answer.status, 405, `${method} ${path}`);
        assert.equal(errorOf(answer).code, 'method_not_allowed');
        assert.equal(answer.headers.get('allow'), allow);
      }
    });
  });
}
