/**
 * The codec endpoint the Temporal Web UI and CLI decode payloads through, over real HTTP: it
 * decodes only for a caller with credentials, answers CORS for the UI's origin alone, and turns
 * every malformed body into a 400 that names the field.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { EncryptionCodec } from '../../clients/codec';
import { lazyTemporalClient } from '../../clients/temporal';
import { openDatabase, type Database } from '../../db';
import { formatCodecKey } from '../../domain/codec-keys';
import { keyringOf, TEST_CODEC_KEYS, testDataConverter } from '../support/codec';
import { freshSqliteUrl } from '../support/database';
import { errorOf, JSON_TYPE, startApi, type Answer, type RunningApi } from './harness';

const UI_URL = 'http://127.0.0.1:18233';
const UI_ORIGIN = new URL(UI_URL).origin;
const SECRET = { customerId: `cust-private-${randomBytes(4).toString('hex')}`, amount: '41.99' };

type JsonPayload = { metadata: Record<string, string>; data: string };

const toJson = (payload: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});
const fromJson = (payload: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(payload.data, 'base64'),
});

void describe('the codec endpoint', () => {
  let db: Database;
  let api: RunningApi;
  const codec = new EncryptionCodec(keyringOf(TEST_CODEC_KEYS));
  let encrypted: JsonPayload;

  before(async () => {
    db = await openDatabase(freshSqliteUrl());
    // The endpoint needs no Temporal server: it runs the API client's codec, nothing more.
    const temporal = lazyTemporalClient(
      { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: 'default' },
      { dataConverter: testDataConverter() },
    );
    api = await startApi({ db, temporal, env: { TEMPORAL_UI_URL: UI_URL } });
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)]);
    assert.ok(sealed);
    encrypted = toJson(sealed);
  });
  after(async () => {
    await api?.close();
    await db?.close();
  });

  const decode = (headers: Record<string, string>, json: unknown = { payloads: [encrypted] }) =>
    api.call('POST', '/api/codec/decode', { json, headers, as: null });
  /** A viewer's session, as the dashboard presents it. */
  const auth = () => api.credentials.viewer.headers;

  const leaks = (answer: Answer) =>
    answer.text.includes(SECRET.customerId) ||
    answer.text.includes(Buffer.from(JSON.stringify(SECRET)).toString('base64'));

  void test('without credentials, or with wrong ones, nothing is decoded', async () => {
    const none = await decode({});
    assert.equal(none.status, 401);
    assert.equal(errorOf(none).code, 'unauthorized');
    assert.ok(!leaks(none), 'the refusal carries the decoded payload');
    const wrong = await decode({ authorization: 'Bearer not-a-key-anyone-was-given' });
    assert.equal(wrong.status, 401);
    assert.ok(!leaks(wrong));
    // The guard runs before the body is read: a broken body is refused the same way.
    const broken = await api.call('POST', '/api/codec/decode', {
      raw: '{',
      headers: JSON_TYPE,
      as: null,
    });
    assert.equal(broken.status, 401);
  });

  void test("a viewer's session cookie counts here without the dashboard's header; a client's key does not", async () => {
    const cookie = { cookie: auth().cookie ?? '' };
    assert.ok(cookie.cookie, 'the viewer presents a session cookie');
    const alone = await decode(cookie);
    assert.equal(alone.status, 200, alone.text);
    const client = await decode(api.credentials.client.headers);
    assert.equal(client.status, 403, client.text);
    assert.ok(!leaks(client));
  });

  void test('with credentials it decodes what the service encrypted, and encodes back', async () => {
    const answer = await decode({ ...auth(), 'x-namespace': 'default' });
    assert.equal(answer.status, 200, answer.text);
    const { payloads } = answer.body as { payloads: JsonPayload[] };
    assert.equal(payloads.length, 1);
    const [first] = payloads;
    assert.ok(first);
    assert.deepEqual(defaultPayloadConverter.fromPayload(fromJson(first)), SECRET);
    assert.equal(Buffer.from(first.metadata.encoding ?? '', 'base64').toString(), 'json/plain');

    // Encode: what the CLI or UI sends (an update's input, say) comes back encrypted.
    const encoded = await api.call('POST', '/api/codec/encode', {
      json: { payloads: [first] },
      headers: auth(),
    });
    assert.equal(encoded.status, 200, encoded.text);
    const [sealed] = (encoded.body as { payloads: JsonPayload[] }).payloads;
    assert.ok(sealed);
    assert.equal(
      Buffer.from(sealed.metadata.encoding ?? '', 'base64').toString(),
      'binary/encrypted',
    );
    assert.ok(!leaks(encoded));
    const [back] = await codec.decode([fromJson(sealed)]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(back as Payload), SECRET);

    // Plain payloads (the CLI's JSON input, old histories) pass through decode unchanged.
    const plain = toJson(defaultPayloadConverter.toPayload('hello'));
    const passed = await decode(auth(), { payloads: [plain] });
    assert.deepEqual((passed.body as { payloads: JsonPayload[] }).payloads, [plain]);
  });

  void test("CORS answers the Web UI's origin only, preflight included", async () => {
    const preflight = (origin: string) =>
      api.call('OPTIONS', '/api/codec/decode', {
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const fromUi = await preflight(UI_ORIGIN);
    assert.equal(fromUi.status, 204);
    assert.equal(fromUi.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.equal(fromUi.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(fromUi.headers.get('access-control-allow-methods'), 'POST');
    const allowed = (fromUi.headers.get('access-control-allow-headers') ?? '').split(', ');
    for (const header of ['content-type', 'x-namespace']) assert.ok(allowed.includes(header));

    for (const origin of ['http://127.0.0.1:3999', 'http://evil.example', 'null']) {
      const other = await preflight(origin);
      assert.equal(other.headers.get('access-control-allow-origin'), null, origin);
      assert.equal(other.headers.get('access-control-allow-credentials'), null, origin);
      assert.equal(other.headers.get('access-control-allow-headers'), null, origin);
    }

    const post = await decode({ ...auth(), origin: UI_ORIGIN });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.match(post.headers.get('vary') ?? '', /Origin/i);
    // The UI can read a refusal too (and so tell the person to sign in).
    const refused = await decode({ origin: UI_ORIGIN });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), UI_ORIGIN);
    const elsewhere = await decode({ ...auth(), origin: 'http://evil.example' });
    assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
  });

  void test('malformed bodies are 400s that name the field, never 500s', async () => {
    const cases: { body: unknown; raw?: string; code: string; path?: string }[] = [
      { body: undefined, raw: '{"payloads": [', code: 'malformed_json' },
      { body: { payloads: 'all of them' }, code: 'validation_failed', path: 'payloads' },
      { body: { payloads: [42] }, code: 'validation_failed', path: 'payloads.0' },
      {
        body: { payloads: [{ data: 'not base64!' }] },
        code: 'validation_failed',
        path: 'payloads.0.data',
      },
      {
        body: { payloads: [{ metadata: { encoding: 7 }, data: '' }] },
        code: 'validation_failed',
        path: 'payloads.0.metadata.encoding',
      },
    ];
    for (const { body, raw, code, path } of cases) {
      const answer = await api.call(
        'POST',
        '/api/codec/decode',
        raw === undefined
          ? { json: body, headers: auth() }
          : { raw, headers: { ...JSON_TYPE, ...auth() } },
      );
      assert.equal(answer.status, 400, `${JSON.stringify(body ?? raw)}: ${answer.text}`);
      const error = errorOf(answer);
      assert.equal(error.code, code);
      if (path)
        assert.ok(
          error.details?.some((detail) => detail.path === path),
          answer.text,
        );
    }

    // A payload under a key this API does not have: a 400 naming the payload and the key.
    const [foreign] = await new EncryptionCodec(
      keyringOf(formatCodecKey('elsewhere', randomBytes(32))),
    ).encode([defaultPayloadConverter.toPayload(SECRET)]);
    assert.ok(foreign);
    const unknownKey = await decode(auth(), { payloads: [encrypted, toJson(foreign)] });
    assert.equal(unknownKey.status, 400);
    assert.equal(errorOf(unknownKey).code, 'undecodable_payload');
    assert.match(errorOf(unknownKey).message, /payloads\.1: .*key "elsewhere"/);
    assert.ok(!leaks(unknownKey), 'the good payload is not answered alongside the error');

    // Protobuf's JSON of an empty list (a signal without input): nothing to decode.
    const empty = await decode(auth(), {});
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { payloads: [] });

    const otherNamespace = await decode({ ...auth(), 'x-namespace': 'payments' });
    assert.equal(otherNamespace.status, 400);
    assert.equal(errorOf(otherNamespace).code, 'wrong_namespace');

    const get = await api.call('GET', '/api/codec/decode', { headers: auth() });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });
});
