/**
 * Guessing credentials. Failed checks count per client address, over every route and the session
 * check alike; past the limit that address's further failures and its sign-ins get 429, while a
 * valid key or session from it still works and other addresses are untouched. Wrong passwords
 * also count per username, from all addresses together: past that limit the user can still sign
 * in from an address they used before. Addresses come from X-Forwarded-For only with TRUST_PROXY.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { bearer, credentialFor, sessionHeaders } from '../support/credentials';
import { freshSqliteUrl } from '../support/database';
import { errorOf, orderBody, startApi, unreachableTemporal, type RunningApi } from './harness';

const LIMIT = 5;
let db: Database;

before(async () => {
  db = await openDatabase(freshSqliteUrl());
});

after(async () => {
  await db?.close();
});

/** An API of its own (its own counts), believing X-Forwarded-For from loopback unless told not. */
async function start(t: TestContext, env: Record<string, string> = {}): Promise<RunningApi> {
  const api = await startApi({
    db,
    temporal: unreachableTemporal(),
    env: {
      AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: String(LIMIT),
      TRUST_PROXY: 'loopback',
      ...env,
    },
  });
  t.after(() => api.close());
  return api;
}

const from = (address: string) => ({ 'x-forwarded-for': address });

void test('failed checks from one address, over several routes and the session check, are cut off; its valid credentials still work, other addresses are untouched', async (t) => {
  const api = await start(t);
  const attacker = from('203.0.113.7');
  const viewer = await credentialFor(db, 'viewer');
  const wrongKey = bearer(`ok_0123456789abcdef_${'A'.repeat(43)}`);
  const failures = [
    () => api.call('GET', '/api/stats', { headers: { ...attacker, ...wrongKey } }),
    () =>
      api.call('GET', '/api/session', {
        headers: { ...attacker, ...sessionHeaders('x'.repeat(43)) },
      }),
    () => api.call('GET', '/api/orders', { headers: { ...attacker, authorization: 'Basic eDp5' } }),
    () =>
      api.call('POST', '/api/session', {
        headers: attacker,
        json: { username: viewer.username, password: 'a-wrong-guess' },
        as: null,
      }),
    () => api.call('GET', '/api/admin/features', { headers: { ...attacker, ...wrongKey } }),
  ];
  for (const [index, attempt] of failures.entries()) {
    const answer = await attempt();
    assert.equal(answer.status, 401, `failure ${index + 1}: ${answer.text}`);
  }
  const cut = await api.call('GET', '/api/system', { headers: { ...attacker, ...wrongKey } });
  assert.equal(cut.status, 429, cut.text);
  assert.equal(errorOf(cut).code, 'rate_limited');
  assert.ok(Number(cut.headers.get('retry-after')) >= 1);
  const guessedSession = await api.call('GET', '/api/session', {
    headers: { ...attacker, ...sessionHeaders('y'.repeat(43)) },
  });
  assert.equal(guessedSession.status, 429, 'the session check is counted like the others');

  // The password is never even checked from that address now, right or wrong.
  const signIn = await api.call('POST', '/api/session', {
    headers: attacker,
    json: { username: viewer.username, password: viewer.password },
    as: null,
  });
  assert.equal(signIn.status, 429, signIn.text);
  assert.equal(signIn.headers.get('set-cookie'), null);

  // Credentials that cannot be guessed still work from the same address.
  const placed = await api.call('POST', '/api/orders', { headers: attacker, json: orderBody() });
  assert.equal(placed.status, 201, placed.text);
  const stats = await api.call('GET', '/api/stats', {
    headers: { ...attacker, ...viewer.headers },
  });
  assert.equal(stats.status, 200, stats.text);

  // Another address is not held back at all.
  const other = from('198.51.100.2');
  const wrong = await api.call('GET', '/api/stats', { headers: { ...other, ...wrongKey } });
  assert.equal(wrong.status, 401, wrong.text);
  const signedIn = await api.call('POST', '/api/session', {
    headers: other,
    json: { username: viewer.username, password: viewer.password },
    as: null,
  });
  assert.equal(signedIn.status, 200, signedIn.text);
});

void test('wrong passwords for one user from many addresses stop sign-ins from new addresses only; the user signs in from one used before; other users are untouched', async (t) => {
  const api = await start(t, { SIGN_IN_FAILURES_PER_USER: '3' });
  const victim = await credentialFor(db, 'operator');
  const bystander = await credentialFor(db, 'operator');
  const signIn = (address: string, username: string | undefined, password: string | undefined) =>
    api.call('POST', '/api/session', {
      headers: from(address),
      json: { username, password },
      as: null,
    });

  const home = await signIn('192.0.2.10', victim.username, victim.password);
  assert.equal(home.status, 200, home.text);
  for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
    const guess = await signIn(address, victim.username, 'a-wrong-guess-for-the-victim');
    assert.equal(guess.status, 401, `${address}: ${guess.text}`);
  }
  const more = await signIn('203.0.113.4', victim.username, 'another-wrong-guess');
  assert.equal(more.status, 429, more.text);
  // The trade-off: from an address never used before, even the right password waits.
  const elsewhere = await signIn('198.51.100.9', victim.username, victim.password);
  assert.equal(elsewhere.status, 429, elsewhere.text);
  const again = await signIn('192.0.2.10', victim.username, victim.password);
  assert.equal(again.status, 200, `the victim's own address: ${again.text}`);
  const other = await signIn('198.51.100.9', bystander.username, bystander.password);
  assert.equal(other.status, 200, `another user: ${other.text}`);
});

void test('without TRUST_PROXY a forged X-Forwarded-For is ignored: it does not escape the limit', async (t) => {
  const api = await start(t, { TRUST_PROXY: 'false' });
  const wrongKey = bearer(`ok_0123456789abcdef_${'B'.repeat(43)}`);
  for (let i = 0; i < LIMIT; i++) {
    const answer = await api.call('GET', '/api/stats', {
      headers: { ...from(`10.0.0.${i}`), ...wrongKey },
    });
    assert.equal(answer.status, 401, answer.text);
  }
  const next = await api.call('GET', '/api/stats', {
    headers: { ...from('10.0.0.99'), ...wrongKey },
  });
  assert.equal(next.status, 429, next.text);
});

void test('behind a TLS proxy that TRUST_PROXY names, the session cookie is Secure', async (t) => {
  const api = await start(t);
  const user = await credentialFor(db, 'viewer');
  const answer = await api.call('POST', '/api/session', {
    headers: { 'x-forwarded-proto': 'https' },
    json: { username: user.username, password: user.password },
    as: null,
  });
  assert.equal(answer.status, 200, answer.text);
  assert.match(answer.headers.get('set-cookie') ?? '', /; Secure/);
});
