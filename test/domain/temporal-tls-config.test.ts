/**
 * The secured-connection settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY): validated at start-up with
 * the variable named, and turned into the options every Temporal connection is made with.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { temporalConnectionOptions } from '../../clients/temporal-connection';
import { ConfigError, loadConfig } from '../../domain/config';

const dir = mkdtempSync(join(tmpdir(), 'orders-tls-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file('ca.pem', 'CA');
const cert = file('client.pem', 'CERT');
const key = file('client.key', 'KEY');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => `${p.variable}: ${p.message}`);
  }
  return [];
}

void test('no TLS settings: a plain connection, as to the dev server', () => {
  assert.deepEqual(temporalConnectionOptions(loadConfig({})), { address: '127.0.0.1:7233' });
});

void test('mTLS: CA, certificate pair and server name are read into the connection options', () => {
  const options = temporalConnectionOptions(
    loadConfig({
      TEMPORAL_TLS_CA: ca,
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal',
    }),
  );
  assert.equal(options.tls?.serverRootCACertificate?.toString(), 'CA');
  assert.equal(options.tls?.clientCertPair?.crt.toString(), 'CERT');
  assert.equal(options.tls?.clientCertPair?.key.toString(), 'KEY');
  assert.equal(options.tls?.serverNameOverride, 'frontend.temporal');
  assert.equal(options.apiKey, undefined);
});

void test('an API key alone turns TLS on with the system roots (Temporal Cloud)', () => {
  const options = temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'secret-key' }));
  assert.deepEqual(options.tls, {});
  assert.equal(options.apiKey, 'secret-key');
});

void test('a certificate without its key, or the reverse, names the missing variable', () => {
  assert.deepEqual(problems({ TEMPORAL_TLS_CERT: cert }), [
    'TEMPORAL_TLS_KEY: must be set together with TEMPORAL_TLS_CERT',
  ]);
  assert.deepEqual(problems({ TEMPORAL_TLS_KEY: key }), [
    'TEMPORAL_TLS_CERT: must be set together with TEMPORAL_TLS_KEY',
  ]);
});

void test('a missing or unreadable file names the variable and the path', () => {
  const missing = join(dir, 'nope.pem');
  assert.deepEqual(problems({ TEMPORAL_TLS_CA: missing }), [
    `TEMPORAL_TLS_CA: must be a readable file (got "${missing}")`,
  ]);
  assert.deepEqual(problems({ TEMPORAL_TLS_CERT: dir, TEMPORAL_TLS_KEY: key }), [
    `TEMPORAL_TLS_CERT: must be a readable file (got "${dir}")`,
  ]);
});
