/**
 * Guessing the operator token: after OPERATOR_AUTH_FAILURES_PER_MINUTE wrong tokens from one
 * address, whatever routes they were spread over, that address's credentialed requests get 429 —
 * the right token included, so a guess that happens to be right is not confirmed — while orders
 * placed without credentials go on being accepted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { freshSqliteUrl } from '../support/database';
import {
  AUTH,
  errorOf,
  OPERATOR_TOKEN,
  orderBody,
  startApi,
  unreachableTemporal,
  type RunningApi,
} from './harness';

const LIMIT = 5;
let db: Database;
let api: RunningApi;

before(async () => {
  db = await openDatabase(freshSqliteUrl());
  api = await startApi({
    db,
    temporal: unreachableTemporal(),
    env: { OPERATOR_AUTH_FAILURES_PER_MINUTE: String(LIMIT) },
  });
});

after(async () => {
  await api?.close();
  await db?.close();
});

void test('wrong tokens spread over several routes are cut off after the limit; orders still flow', async () => {
  const wrong = { authorization: `Bearer ${OPERATOR_TOKEN}-guess` };
  const guesses = [
    () => api.call('GET', '/api/admin/features', { headers: wrong }),
    () => api.call('POST', '/api/scenarios/reset', { headers: wrong }),
    () => api.call('DELETE', '/api/load', { headers: wrong }),
    () => api.call('POST', '/api/session', { json: { token: 'not-the-token-at-all' } }),
    () => api.call('GET', '/api/admin/features', { headers: { authorization: 'Bearer x' } }),
  ];
  assert.equal(guesses.length, LIMIT);
  for (const guess of guesses) assert.equal((await guess()).status, 403);

  // The limit is reached: the next credentialed request waits, even with the right token.
  for (const headers of [wrong, AUTH]) {
    const refused = await api.call('GET', '/api/admin/features', { headers });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(errorOf(refused).code, 'rate_limited');
    assert.match(errorOf(refused).message, /wrong operator tokens/);
  }
  const signIn = await api.call('POST', '/api/session', { json: { token: OPERATOR_TOKEN } });
  assert.equal(signIn.status, 429);
  assert.equal(signIn.headers.get('set-cookie'), null);

  // A shop placing orders from the same address is not held back.
  const order = await api.call('POST', '/api/orders', { json: orderBody() });
  assert.equal(order.status, 201, order.text);
});

void test('right tokens never count towards the limit', async () => {
  const fresh = await startApi({
    db,
    temporal: unreachableTemporal(),
    env: { OPERATOR_AUTH_FAILURES_PER_MINUTE: String(LIMIT) },
  });
  try {
    for (let i = 0; i < LIMIT * 3; i++) {
      const answer = await fresh.call('GET', '/api/admin/features', { headers: AUTH });
      assert.equal(answer.status, 200, `request ${i + 1}: ${answer.text}`);
    }
  } finally {
    await fresh.close();
  }
});
