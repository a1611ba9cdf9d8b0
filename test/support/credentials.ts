/**
 * Credentials for tests, made the way the CLI makes them (the credential repository on the test's
 * own database): one function for "a credential for role R", and the headers a client sends.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../../api/access';
import { SESSION_COOKIE, SESSION_HEADER } from '../../api/auth';
import type { Database } from '../../db';

/** One way in: the headers to send, and what made it (to revoke or expire it). */
export interface TestCredential {
  role: Role;
  /** What audits record for it: the username, or `key:<id>`. */
  label: string;
  /** What the orders it places record: `client:<name>` or `user:<username>`. */
  placedBy: string;
  headers: Record<string, string>;
  /** Staff users: their name and password (the browser tests sign in with them). */
  username?: string;
  password?: string;
  /** Staff users: the session id behind `headers` (cookie and dashboard header). */
  sessionId?: string;
  /** Clients: the key's id and whole secret (`headers` sends it as a bearer token). */
  keyId?: string;
  key?: string;
}

/** The headers that present a session: the cookie, and the header that makes it count. */
export function sessionHeaders(sessionId: string): Record<string, string> {
  return { cookie: `${SESSION_COOKIE}=${sessionId}`, [SESSION_HEADER]: '1' };
}

/** The header that presents an API key. */
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

const suffix = () => randomBytes(3).toString('hex');

/**
 * A new credential for `role`: a client's API key (for client `name`, or a fresh one), or a staff
 * user with a signed-in session.
 */
export async function credentialFor(
  db: Database,
  role: Role,
  options: { name?: string; sessionTtlMs?: number } = {},
): Promise<TestCredential> {
  const name = options.name ?? `${role}-${suffix()}`;
  if (role === 'client') {
    const { key, secret } = await db.credentials.addKey(name, 'client');
    return {
      role,
      label: `key:${key.id}`,
      placedBy: `client:${name}`,
      headers: bearer(secret),
      keyId: key.id,
      key: secret,
    };
  }
  const { user, password } = await db.credentials.addUser(name, role);
  const session = await db.credentials.startSession(user, options.sessionTtlMs ?? 3600_000);
  return {
    role,
    label: user.username,
    placedBy: `user:${user.username}`,
    headers: sessionHeaders(session.id),
    username: user.username,
    password,
    sessionId: session.id,
  };
}

/** One credential per role, for an API on `db`. */
export async function credentialsForEveryRole(db: Database): Promise<Record<Role, TestCredential>> {
  return {
    client: await credentialFor(db, 'client'),
    viewer: await credentialFor(db, 'viewer'),
    operator: await credentialFor(db, 'operator'),
    admin: await credentialFor(db, 'admin'),
  };
}

/** Makes a session's time run out, as the clock would. */
export async function expireSession(db: Database, sessionId: string): Promise<void> {
  const hash = createHash('sha256').update(sessionId).digest('hex');
  await db.sequelize.query('UPDATE sessions SET expires_at = :past WHERE id_hash = :hash', {
    replacements: { past: new Date(Date.now() - 60_000), hash },
  });
}
