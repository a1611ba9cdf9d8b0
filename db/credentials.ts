/**
 * Who may use the API, in SQL: staff users (a username and a scrypt hash of their password), API
 * keys (a public id and the SHA-256 of a random secret) and the dashboard's sign-in sessions
 * (the SHA-256 of an opaque random id). No secret is ever stored as given: a copy of the tables
 * lets nobody sign in.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import {
  DataTypes,
  Model,
  Op,
  UniqueConstraintError,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;

/** Everything a credential may carry; kept here so the database needs nothing from the API. */
export type CredentialRole = 'client' | 'viewer' | 'operator' | 'admin';
export const CREDENTIAL_ROLES: readonly CredentialRole[] = [
  'client',
  'viewer',
  'operator',
  'admin',
];

export const USERS_TABLE = 'users';
export const API_KEYS_TABLE = 'api_keys';
export const SESSIONS_TABLE = 'sessions';

/** Names people type: lower-case letters, digits, `.`, `_`, `-`; never `:` (see actor labels). */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Client names, as recorded on the orders a client places. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Frozen like the order columns: migration 005 creates the tables from these objects. */
export const userColumns = {
  id: { type: DataTypes.STRING(32), primaryKey: true, allowNull: false },
  username: { type: DataTypes.STRING(64), allowNull: false, unique: true },
  role: { type: DataTypes.STRING(16), allowNull: false },
  passwordHash: { type: DataTypes.STRING(128), allowNull: false, field: 'password_hash' },
  passwordSalt: { type: DataTypes.STRING(64), allowNull: false, field: 'password_salt' },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  revokedAt: { type: DataTypes.DATE, allowNull: true, field: 'revoked_at' },
} as const;

export const apiKeyColumns = {
  id: { type: DataTypes.STRING(32), primaryKey: true, allowNull: false },
  client: { type: DataTypes.STRING(64), allowNull: false },
  role: { type: DataTypes.STRING(16), allowNull: false },
  secretHash: { type: DataTypes.STRING(64), allowNull: false, field: 'secret_hash' },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  revokedAt: { type: DataTypes.DATE, allowNull: true, field: 'revoked_at' },
} as const;

export const sessionColumns = {
  idHash: { type: DataTypes.STRING(64), primaryKey: true, allowNull: false, field: 'id_hash' },
  userId: { type: DataTypes.STRING(32), allowNull: false, field: 'user_id' },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: 'created_at' },
  expiresAt: { type: DataTypes.DATE, allowNull: false, field: 'expires_at' },
  revokedAt: { type: DataTypes.DATE, allowNull: true, field: 'revoked_at' },
} as const;

class UserRow extends Model<InferAttributes<UserRow>, InferCreationAttributes<UserRow>> {
  declare id: string;
  declare username: string;
  declare role: CredentialRole;
  declare passwordHash: string;
  declare passwordSalt: string;
  declare createdAt: Date;
  declare revokedAt: CreationOptional<Date | null>;
}

class ApiKeyRow extends Model<InferAttributes<ApiKeyRow>, InferCreationAttributes<ApiKeyRow>> {
  declare id: string;
  declare client: string;
  declare role: CredentialRole;
  declare secretHash: string;
  declare createdAt: Date;
  declare revokedAt: CreationOptional<Date | null>;
}

class SessionRow extends Model<InferAttributes<SessionRow>, InferCreationAttributes<SessionRow>> {
  declare idHash: string;
  declare userId: string;
  declare createdAt: Date;
  declare expiresAt: Date;
  declare revokedAt: CreationOptional<Date | null>;
}

/** A staff user as the API and the CLI see it: never the hash. */
export interface User {
  id: string;
  username: string;
  role: CredentialRole;
  createdAt: string;
  revokedAt: string | null;
}

/** An API key without its secret. */
export interface ApiKey {
  id: string;
  client: string;
  role: CredentialRole;
  createdAt: string;
  revokedAt: string | null;
}

/** Thrown when a username or key id is unknown, taken or malformed; the CLI prints it. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const randomId = (): string => randomBytes(8).toString('hex');
/** 256 bits: guessing one is hopeless, so a matching hash needs no slow function. */
const secret = (): string => randomBytes(32).toString('base64url');

/** `ok_<16 hex id>_<43 base64url secret>`: the id finds the row, the secret proves the holder. */
const API_KEY_FORMAT = /^ok_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Sessions ids are as long as key secrets; anything else cannot be one. */
const SESSION_ID_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** scrypt's defaults (N=2^14, r=8, p=1): about 16 MiB and tens of ms per check. */
const HASH_BYTES = 64;

async function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(password.normalize('NFC'), salt, HASH_BYTES);
}

/** A random password for a new user, shown once. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** What users and keys share: an id, a role and when they were made and revoked. */
function common(row: UserRow | ApiKeyRow): Pick<User, 'id' | 'role' | 'createdAt' | 'revokedAt'> {
  return {
    id: row.id,
    role: row.role,
    createdAt: new Date(row.createdAt).toISOString(),
    revokedAt: row.revokedAt ? new Date(row.revokedAt).toISOString() : null,
  };
}

const toUser = (row: UserRow): User => ({ ...common(row), username: row.username });
const toKey = (row: ApiKeyRow): ApiKey => ({ ...common(row), client: row.client });

/** A salt and hash that match no password: checked when the username is unknown. */
const DECOY = { salt: randomBytes(16), hash: randomBytes(HASH_BYTES) };

/** Users, API keys and sessions of one database connection. */
export class CredentialRepository {
  private readonly users: typeof UserRow;
  private readonly keys: typeof ApiKeyRow;
  private readonly sessions: typeof SessionRow;

  constructor(
    sequelize: Sequelize,
    private readonly now: () => Date = () => new Date(),
  ) {
    // Bound per connection, like the order models (db/models.ts).
    class BoundUser extends UserRow {}
    BoundUser.init(userColumns, {
      sequelize,
      modelName: 'UserRow',
      tableName: USERS_TABLE,
      timestamps: false,
    });
    class BoundKey extends ApiKeyRow {}
    BoundKey.init(apiKeyColumns, {
      sequelize,
      modelName: 'ApiKeyRow',
      tableName: API_KEYS_TABLE,
      timestamps: false,
    });
    class BoundSession extends SessionRow {}
    BoundSession.init(sessionColumns, {
      sequelize,
      modelName: 'SessionRow',
      tableName: SESSIONS_TABLE,
      timestamps: false,
    });
    this.users = BoundUser;
    this.keys = BoundKey;
    this.sessions = BoundSession;
  }

  /** Adds a user; `password` defaults to a random one. Returns the password to show once. */
  async addUser(
    username: string,
    role: CredentialRole,
    password: string = generatePassword(),
  ): Promise<{ user: User; password: string }> {
    if (!USERNAME_PATTERN.test(username)) {
      throw new CredentialError(
        `"${username.slice(0, 80)}" is not a username: lower-case letters, digits, ".", "_", "-" (64 at most)`,
      );
    }
    if (password.length < 12) throw new CredentialError('Passwords have at least 12 characters');
    const salt = randomBytes(16);
    const hash = await hashPassword(password, salt);
    try {
      const row = await this.users.create({
        id: randomId(),
        username,
        role,
        passwordHash: hash.toString('hex'),
        passwordSalt: salt.toString('hex'),
        createdAt: this.now(),
      });
      return { user: toUser(row), password };
    } catch (error) {
      if (error instanceof UniqueConstraintError) {
        throw new CredentialError(`A user named "${username}" exists already (revoked or not)`);
      }
      throw error;
    }
  }

  /** The user if the password is theirs and they are not revoked; null otherwise. */
  async checkPassword(username: string, password: string): Promise<User | null> {
    const row = USERNAME_PATTERN.test(username)
      ? await this.users.findOne({ where: { username } })
      : null;
    // An unknown name costs the same scrypt as a known one: the answer's time says nothing.
    const salt = row ? Buffer.from(row.passwordSalt, 'hex') : DECOY.salt;
    const expected = row ? Buffer.from(row.passwordHash, 'hex') : DECOY.hash;
    const actual = await hashPassword(password, salt);
    const matches = actual.length === expected.length && timingSafeEqual(actual, expected);
    return row && matches && !row.revokedAt ? toUser(row) : null;
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.users.findAll({ order: [['username', 'ASC']] });
    return rows.map(toUser);
  }

  /** Whether any admin can still sign in: `npm start` creates one when not. */
  async hasAdmin(): Promise<boolean> {
    return (await this.users.count({ where: { role: 'admin', revokedAt: null } })) > 0;
  }

  /** Revokes a user and ends every session of theirs at once. */
  async revokeUser(username: string): Promise<User> {
    const row = await this.users.findOne({ where: { username } });
    if (!row) throw new CredentialError(`No user named "${username.slice(0, 80)}"`);
    const at = this.now();
    if (!row.revokedAt) await row.update({ revokedAt: at });
    await this.sessions.update({ revokedAt: at }, { where: { userId: row.id, revokedAt: null } });
    return toUser(row);
  }

  /** A new key for `client`; the whole key is returned once and never stored. */
  async addKey(
    client: string,
    role: CredentialRole = 'client',
  ): Promise<{ key: ApiKey; secret: string }> {
    if (!CLIENT_NAME_PATTERN.test(client)) {
      throw new CredentialError(
        `"${client.slice(0, 80)}" is not a client name: lower-case letters, digits, ".", "_", "-" (64 at most)`,
      );
    }
    const id = randomId();
    const part = secret();
    const row = await this.keys.create({
      id,
      client,
      role,
      secretHash: sha256(part),
      createdAt: this.now(),
    });
    return { key: toKey(row), secret: `ok_${id}_${part}` };
  }

  /** The key a presented `ok_…` string is, if it is valid and not revoked; null otherwise. */
  async checkKey(presented: string): Promise<ApiKey | null> {
    const match = API_KEY_FORMAT.exec(presented);
    if (!match?.[1] || !match[2]) return null;
    const row = await this.keys.findByPk(match[1]);
    if (!row || row.revokedAt) return null;
    const matches = timingSafeEqual(
      Buffer.from(sha256(match[2]), 'hex'),
      Buffer.from(row.secretHash, 'hex'),
    );
    return matches ? toKey(row) : null;
  }

  async listKeys(): Promise<ApiKey[]> {
    const rows = await this.keys.findAll({ order: [['createdAt', 'ASC']] });
    return rows.map(toKey);
  }

  async revokeKey(id: string): Promise<ApiKey> {
    const row = await this.keys.findByPk(id);
    if (!row) throw new CredentialError(`No API key with id "${id.slice(0, 80)}"`);
    if (!row.revokedAt) await row.update({ revokedAt: this.now() });
    return toKey(row);
  }

  /** Starts a session for a user; the opaque id goes to the cookie, only its hash is kept. */
  async startSession(user: User, ttlMs: number): Promise<{ id: string; expiresAt: Date }> {
    const id = secret();
    const at = this.now();
    const expiresAt = new Date(at.getTime() + ttlMs);
    // Expired sessions are useless; clearing them here keeps the table to live ones.
    await this.sessions.destroy({ where: { expiresAt: { [Op.lt]: at } } });
    await this.sessions.create({ idHash: sha256(id), userId: user.id, createdAt: at, expiresAt });
    return { id, expiresAt };
  }

  /** The user of a live session: not expired, not revoked, its user not revoked. */
  async sessionUser(id: string): Promise<User | null> {
    if (!SESSION_ID_FORMAT.test(id)) return null;
    const session = await this.sessions.findByPk(sha256(id));
    if (!session || session.revokedAt || new Date(session.expiresAt) <= this.now()) return null;
    const user = await this.users.findByPk(session.userId);
    return user && !user.revokedAt ? toUser(user) : null;
  }

  /** Signing out: the id stops working everywhere, whoever holds a copy. */
  async endSession(id: string): Promise<void> {
    if (!SESSION_ID_FORMAT.test(id)) return;
    await this.sessions.update(
      { revokedAt: this.now() },
      { where: { idHash: sha256(id), revokedAt: null } },
    );
  }
}

/** The first admin's name, when a database has none. */
export const FIRST_ADMIN = 'admin';

/**
 * Zero set-up: a database without an admin gets one, with `password` or a random one returned to
 * be shown once; null when there is an admin already. Several processes starting at once race on
 * the unique username: one creates it, the others find it.
 */
export async function ensureFirstAdmin(
  credentials: CredentialRepository,
  password?: string,
): Promise<{ username: string; password: string; generated: boolean } | null> {
  if (await credentials.hasAdmin()) return null;
  try {
    const added = await credentials.addUser(FIRST_ADMIN, 'admin', password);
    return { username: FIRST_ADMIN, password: added.password, generated: password === undefined };
  } catch (error) {
    if (error instanceof CredentialError && (await credentials.hasAdmin())) return null;
    throw error;
  }
}
