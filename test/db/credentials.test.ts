/**
 * Users, API keys and sessions in SQL, on both databases: what is stored is never the secret, the
 * first admin is made once, and revoking a user ends their sessions.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { openDatabase, type Database } from '../../db';
import { API_KEYS_TABLE, ensureFirstAdmin, USERS_TABLE } from '../../db/credentials';
import { DATABASES } from '../support/database';

for (const target of DATABASES) {
  void describe(`credentials in ${target.name}`, () => {
    async function freshDatabase(t: TestContext): Promise<Database> {
      const db = await openDatabase(await target.url());
      t.after(() => db.close());
      return db;
    }
    const rowsOf = async (db: Database, table: string) =>
      JSON.stringify((await db.sequelize.query(`SELECT * FROM ${table}`))[0]);

    void test('a database without an admin gets one, once; with a given password, that one', async (t) => {
      const db = await freshDatabase(t);
      const first = await ensureFirstAdmin(db.credentials);
      assert.ok(first?.generated);
      assert.equal(first.username, 'admin');
      assert.ok((await db.credentials.checkPassword('admin', first.password))?.role === 'admin');
      assert.equal(await ensureFirstAdmin(db.credentials), null, 'an admin exists: nothing made');

      const other = await freshDatabase(t);
      const given = await ensureFirstAdmin(other.credentials, 'a-chosen-password-0123');
      assert.deepEqual(given, {
        username: 'admin',
        password: 'a-chosen-password-0123',
        generated: false,
      });
      assert.ok(await other.credentials.checkPassword('admin', 'a-chosen-password-0123'));
    });

    void test('neither a password nor a key secret is stored as given', async (t) => {
      const db = await freshDatabase(t);
      const { password } = await db.credentials.addUser('someone', 'viewer');
      const { secret } = await db.credentials.addKey('a-shop');
      assert.ok(!(await rowsOf(db, USERS_TABLE)).includes(password));
      const keys = await rowsOf(db, API_KEYS_TABLE);
      assert.ok(!keys.includes(secret.slice(20)), 'the secret part of the key');
      assert.equal((await db.credentials.checkKey(secret))?.client, 'a-shop');
      assert.equal(await db.credentials.checkKey(`${secret.slice(0, -1)}x`), null);
      assert.equal(await db.credentials.checkPassword('someone', `${password}x`), null);
      await assert.rejects(db.credentials.addUser('someone', 'admin'), /exists already/);
      await assert.rejects(db.credentials.addUser('No:Colons', 'admin'), /not a username/);
    });

    void test('revoking a user ends every session of theirs and stops their password', async (t) => {
      const db = await freshDatabase(t);
      const { user, password } = await db.credentials.addUser('leaver', 'operator');
      const sessions = [
        await db.credentials.startSession(user, 60_000),
        await db.credentials.startSession(user, 60_000),
      ];
      for (const session of sessions) {
        assert.equal((await db.credentials.sessionUser(session.id))?.username, 'leaver');
      }
      await db.credentials.revokeUser('leaver');
      for (const session of sessions)
        assert.equal(await db.credentials.sessionUser(session.id), null);
      assert.equal(await db.credentials.checkPassword('leaver', password), null);
      const listed = await db.credentials.listUsers();
      assert.ok(listed.find((u) => u.username === 'leaver')?.revokedAt);
    });
  });
}
