/**
 * The encryption codec on its own: what an encrypted payload looks like, key rotation, and the
 * errors an operator meets with a wrong or missing key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  codecKeyring,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../../clients/codec';
import { formatCodecKey } from '../../domain/codec-keys';
import { ConfigError, loadConfig } from '../../domain/config';
import { keyringOf } from '../support/codec';

const keyA = formatCodecKey('key-a', randomBytes(32));
const keyB = formatCodecKey('key-b', randomBytes(32));
const order = { customerId: 'cust-secret-7', amount: '123.45', product: 'Gizmo' };

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const plain = () => defaultPayloadConverter.toPayload(order);

void test('an encrypted payload names its key and encoding, and carries nothing in clear', async () => {
  const codec = new EncryptionCodec(keyringOf(keyA));
  const [first, second] = await codec.encode([plain(), plain()]);
  assert.ok(first && second);
  assert.equal(text(first.metadata?.encoding), ENCRYPTED_ENCODING);
  assert.equal(text(first.metadata?.[KEY_ID_METADATA]), 'key-a');
  assert.deepEqual(Object.keys(first.metadata ?? {}).sort(), ['encoding', KEY_ID_METADATA]);
  for (const secret of ['cust-secret-7', '123.45', 'Gizmo', 'json/plain']) {
    assert.ok(!Buffer.from(first.data ?? []).includes(secret), `${secret} in clear`);
  }
  // A fresh IV each time: the same order encrypts to different bytes.
  assert.notDeepEqual(Buffer.from(first.data ?? []), Buffer.from(second.data ?? []));
  const [back] = await codec.decode([first]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(back as Payload), order);
  assert.equal(text(back?.metadata?.encoding), 'json/plain');
});

void test('rotation: payloads under the old key decode after a new key becomes current', async () => {
  const before = new EncryptionCodec(keyringOf(keyA));
  const [old] = await before.encode([plain()]);
  assert.ok(old);
  // The new key first: it encrypts; the old one stays listed and still decrypts.
  const after = new EncryptionCodec(keyringOf(`${keyB},${keyA}`));
  assert.equal(after.currentKeyId, 'key-b');
  const [decoded] = await after.decode([old]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(decoded as Payload), order);
  const [fresh] = await after.encode([plain()]);
  assert.equal(text(fresh?.metadata?.[KEY_ID_METADATA]), 'key-b');

  // TEMPORAL_CODEC_KEY_ID picks the current key among the listed ones, in any order.
  const chosen = codecKeyring(
    loadConfig({ TEMPORAL_CODEC_KEYS: `${keyA},${keyB}`, TEMPORAL_CODEC_KEY_ID: 'key-b' }),
  );
  assert.equal(new EncryptionCodec(chosen).currentKeyId, 'key-b');
});

void test('a payload under a key that is not listed fails with an error naming the key', async () => {
  const [old] = await new EncryptionCodec(keyringOf(keyA)).encode([plain()]);
  assert.ok(old);
  const without = new EncryptionCodec(keyringOf(keyB));
  await assert.rejects(without.decode([old]), (error: unknown) => {
    assert.ok(error instanceof PayloadDecryptionError);
    assert.match(error.message, /key "key-a", which TEMPORAL_CODEC_KEYS does not list/);
    return true;
  });
  // Another key under the same id, or altered bytes, fail authentication instead of decoding.
  const impostor = new EncryptionCodec(keyringOf(formatCodecKey('key-a', randomBytes(32))));
  await assert.rejects(impostor.decode([old]), /fails authentication/);
  const altered = Buffer.from(old.data ?? []);
  altered[20] = (altered[20] ?? 0) ^ 1;
  await assert.rejects(
    new EncryptionCodec(keyringOf(keyA)).decode([{ ...old, data: altered }]),
    /fails authentication/,
  );
});

void test('payloads that are not encrypted pass through decoding unchanged', async () => {
  const codec = new EncryptionCodec(keyringOf(keyA));
  const clear = plain();
  const binary: Payload = { metadata: { encoding: Buffer.from('binary/null') } };
  assert.deepEqual(await codec.decode([clear, binary]), [clear, binary]);
});

void test('the key config is checked at start-up, with messages naming the variable', () => {
  const problem = (env: Record<string, string>) => {
    try {
      codecKeyring(loadConfig(env));
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    return 'no error';
  };
  assert.match(problem({}), /TEMPORAL_CODEC_KEYS: must be set/);
  assert.match(problem({ TEMPORAL_CODEC_KEYS: 'no-separator' }), /TEMPORAL_CODEC_KEYS: entry 1/);
  assert.match(
    problem({ TEMPORAL_CODEC_KEYS: `k1:${randomBytes(16).toString('base64')}` }),
    /TEMPORAL_CODEC_KEYS: key "k1" must be 32 random bytes/,
  );
  assert.match(problem({ TEMPORAL_CODEC_KEYS: 'k1:not base64!' }), /key "k1" must be 32/);
  assert.match(
    problem({ TEMPORAL_CODEC_KEYS: `${keyA},${keyA}` }),
    /TEMPORAL_CODEC_KEYS: key id "key-a" appears twice/,
  );
  assert.match(
    problem({ TEMPORAL_CODEC_KEYS: keyA, TEMPORAL_CODEC_KEY_ID: 'key-z' }),
    /TEMPORAL_CODEC_KEY_ID: names no key in TEMPORAL_CODEC_KEYS/,
  );
  // The key itself never appears in a message.
  const secret = randomBytes(31).toString('base64');
  assert.doesNotMatch(problem({ TEMPORAL_CODEC_KEYS: `k1:${secret}` }), new RegExp(secret));
});

const ROOT = resolve(__dirname, '../..');

for (const entry of ['worker/main.ts', 'api/main.ts']) {
  void test(`${entry} refuses to start without TEMPORAL_CODEC_KEYS, naming it`, () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      API_PORT: '0',
    };
    delete env.TEMPORAL_CODEC_KEYS;
    const run = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /Invalid configuration: TEMPORAL_CODEC_KEYS: must be set/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
}
