/**
 * Feature toggles in SQL: the current value of each toggle an operator changed, an audit row per
 * change, and a small cached reader for the code paths that ask "is this on?".
 */
import { Transaction, UniqueConstraintError } from 'sequelize';
import {
  FEATURES,
  type FeatureName,
  type FeatureToggle,
  type FeatureToggleChange,
} from '../domain/features';
import type { FeatureModels, FeatureToggleChangeRow, FeatureToggleRow } from './models';

export interface FeatureChangesQuery {
  /** Only this toggle's changes; all toggles when absent. */
  name?: FeatureName;
  limit: number;
}

/** A toggle as written by `set`, with the value it had just before. */
export interface FeatureToggleWrite extends FeatureToggle {
  previous: boolean;
}

const FEATURE_NAMES = Object.keys(FEATURES) as FeatureName[];

function toToggle(name: FeatureName, row: FeatureToggleRow | null): FeatureToggle {
  return {
    name,
    description: FEATURES[name].description,
    enabled: row ? Boolean(row.enabled) : FEATURES[name].defaultEnabled,
    updatedBy: row?.updatedBy ?? null,
    updatedAt: row ? new Date(row.updatedAt).toISOString() : null,
  };
}

function toChange(row: FeatureToggleChangeRow): FeatureToggleChange {
  return {
    name: row.name as FeatureName,
    enabled: Boolean(row.enabled),
    changedBy: row.changedBy,
    changedAt: new Date(row.changedAt).toISOString(),
  };
}

/** Feature toggles of one database connection, as plain objects. */
export class FeatureToggleRepository {
  private readonly now: () => Date;
  /** The write in progress on this connection; the next one starts after it. */
  private lastWrite: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly models: FeatureModels,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Every toggle `domain/features.ts` defines, in its order, with its stored or default value. */
  async list(): Promise<FeatureToggle[]> {
    const rows = await this.models.toggles.findAll({ where: { name: FEATURE_NAMES } });
    const byName = new Map(rows.map((row) => [row.name, row]));
    return FEATURE_NAMES.map((name) => toToggle(name, byName.get(name) ?? null));
  }

  async get(name: FeatureName): Promise<FeatureToggle> {
    return toToggle(name, await this.models.toggles.findByPk(name));
  }

  /**
   * Sets a toggle and records who did it: the toggle row and its audit row are written in one
   * transaction, so there is never a value without its audit row or the other way round. Setting
   * the value a toggle already has is recorded too: the audit is of operators' actions.
   */
  set(name: FeatureName, enabled: boolean, changedBy: string): Promise<FeatureToggleWrite> {
    // One write at a time per connection. On SQLite, node-sqlite3 waits for a lock by sleeping in
    // a libuv pool thread: with several transactions of one process waiting, the one holding the
    // lock finds no thread to run its next statement on until the waits time out. Other
    // processes (and other connections) are kept apart by the database's own locks.
    const write = this.lastWrite.then(
      () => this.writeOnce(name, enabled, changedBy),
      () => this.writeOnce(name, enabled, changedBy),
    );
    this.lastWrite = write.catch(() => undefined);
    return write;
  }

  private async writeOnce(
    name: FeatureName,
    enabled: boolean,
    changedBy: string,
  ): Promise<FeatureToggleWrite> {
    try {
      return await this.write(name, enabled, changedBy);
    } catch (error) {
      // Two first-ever changes of one toggle raced and both inserted its row; the loser's
      // transaction is rolled back whole. Once more, it finds the row and updates it.
      if (!(error instanceof UniqueConstraintError)) throw error;
      return this.write(name, enabled, changedBy);
    }
  }

  private async write(
    name: FeatureName,
    enabled: boolean,
    changedBy: string,
  ): Promise<FeatureToggleWrite> {
    const { toggles, changes } = this.models;
    const sequelize = toggles.sequelize;
    if (!sequelize) throw new Error('the feature toggle models are not bound to a database');
    // SQLite: take the write lock at BEGIN (waiting on the busy timeout), instead of failing
    // with SQLITE_BUSY when a read inside the transaction later needs to become a write. The
    // other dialects ignore the type.
    return sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, async (transaction) => {
      // Write first: an UPDATE takes the row's write lock on every dialect (Sequelize has
      // SELECT … FOR UPDATE for PostgreSQL only, nothing for SQL Server), so the value read
      // next is the one this change replaces, even with two operators flipping at once.
      const [locked] = await toggles.update(
        { updatedBy: changedBy },
        { where: { name }, transaction },
      );
      const previous =
        locked > 0
          ? Boolean((await toggles.findByPk(name, { transaction }))?.enabled)
          : FEATURES[name].defaultEnabled;
      // Read under the lock: changes of one toggle are dated in the order they were made.
      const at = this.now();
      if (locked > 0) {
        await toggles.update(
          { enabled, updatedBy: changedBy, updatedAt: at },
          { where: { name }, transaction },
        );
      } else {
        await toggles.create(
          { name, enabled, updatedBy: changedBy, updatedAt: at },
          { transaction },
        );
      }
      await changes.create({ name, enabled, changedBy, changedAt: at }, { transaction });
      return {
        name,
        description: FEATURES[name].description,
        enabled,
        updatedBy: changedBy,
        updatedAt: at.toISOString(),
        previous,
      };
    });
  }

  /** Audit rows, newest first. */
  async changes(query: FeatureChangesQuery): Promise<FeatureToggleChange[]> {
    const rows = await this.models.changes.findAll({
      where: query.name ? { name: query.name } : { name: FEATURE_NAMES },
      order: [
        ['changedAt', 'DESC'],
        ['id', 'DESC'],
      ],
      limit: query.limit,
    });
    return rows.map(toChange);
  }
}

export interface FeatureToggleServiceOptions {
  /** How long one read of the toggles is used: a flip takes effect at most this much later. */
  ttlMs: number;
  /** Milliseconds; injected by tests. */
  now?: () => number;
}

type ToggleValues = ReadonlyMap<FeatureName, boolean>;

/**
 * "Is this toggle on?" for code that asks on every order: one `list()` per TTL window, shared by
 * every caller in it (concurrent callers wait for the same read), so the database sees a read
 * every few seconds however many orders ask. A failed read is not kept: its callers get the
 * error (an activity retries) and the next call reads again.
 */
export class FeatureToggleService {
  private readonly now: () => number;
  private cached: { readAt: number; values: ToggleValues } | null = null;
  private pending: Promise<ToggleValues> | null = null;
  /** Bumped by `invalidate`, so a read that started before it cannot refill the cache. */
  private generation = 0;

  constructor(
    private readonly repository: Pick<FeatureToggleRepository, 'list'>,
    private readonly options: FeatureToggleServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async isEnabled(name: FeatureName): Promise<boolean> {
    const values = await this.values();
    return values.get(name) ?? FEATURES[name].defaultEnabled;
  }

  /** Forgets what was read: the next call reads again (this process just changed a toggle). */
  invalidate(): void {
    this.generation += 1;
    this.cached = null;
    this.pending = null;
  }

  private values(): Promise<ToggleValues> {
    const now = this.now();
    if (this.cached && now - this.cached.readAt < this.options.ttlMs) {
      return Promise.resolve(this.cached.values);
    }
    if (this.pending) return this.pending;
    const generation = this.generation;
    const current = () => this.generation === generation;
    // Dated from when the read started, so a value is never used longer than the TTL after the
    // moment it could have been read.
    const read = this.repository.list().then(
      (toggles) => {
        const values = new Map(toggles.map((toggle) => [toggle.name, toggle.enabled]));
        if (current()) {
          this.cached = { readAt: now, values };
          this.pending = null;
        }
        return values;
      },
      (error: unknown) => {
        if (current()) this.pending = null;
        throw error;
      },
    );
    this.pending = read;
    return read;
  }
}
