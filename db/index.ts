import { mkdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Sequelize, Transaction, type Options } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { CredentialRepository } from './credentials';
import { BulkActionRepository } from './bulk';
import { FeatureToggleRepository } from './features';
import { LaunchOutbox } from './launches';
import { defineBulkModels, defineFeatureModels, defineModels } from './models';
import { migrations } from './migrations';
import { OrderRepository, type Dialect } from './orders';

export type { Dialect };

export interface Database {
  dialect: Dialect;
  sequelize: Sequelize;
  orders: OrderRepository;
  /** Orders accepted whose workflow is still to be started (the launcher's outbox). */
  launches: LaunchOutbox;
  /** Feature toggles and their audit rows (read them through a `FeatureToggleService`). */
  features: FeatureToggleRepository;
  /** Users, API keys and sessions (access control). */
  credentials: CredentialRepository;
  /** Bulk actions and the outcome of each of their orders. */
  bulk: BulkActionRepository;
  /** Throws when the database cannot answer a trivial query (readiness). */
  ping(): Promise<void>;
  /** Space the database takes on disk, for the storage gauge and its alert. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Receives every SQL statement; off by default. */
  logging?: (sql: string) => void;
  /** Connections per process (PostgreSQL, SQL Server). */
  poolMax?: number;
}

/** The file of a `sqlite:<file>` URL (`sqlite::memory:` or `sqlite:` alone: in memory). */
function sqliteStorage(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\//, '') || ':memory:';
}

function sequelizeFor(
  url: string,
  options: DatabaseOptions,
): { sequelize: Sequelize; dialect: Dialect } {
  const common: Options = {
    logging: options.logging ?? false,
    pool: { max: options.poolMax ?? 10, min: 0, idle: 10_000, acquire: 10_000 },
  };
  if (url.startsWith('sqlite:')) {
    const storage = sqliteStorage(url);
    if (storage !== ':memory:') mkdirSync(dirname(storage), { recursive: true });
    return {
      dialect: 'sqlite',
      sequelize: new Sequelize({
        ...common,
        dialect: 'sqlite',
        storage,
        // Sequelize retries a locked database 5 times by default, each after the 5 s busy
        // timeout below: 25 s. Callers retry better: the API answers 503 with Retry-After, and
        // activities have Temporal's retry policy (their 10 s timeout would cut the 25 s anyway).
        retry: { max: 1 },
      }),
    };
  }
  if (url.startsWith('mssql://')) {
    const parsed = new URL(url);
    const encrypt = parsed.searchParams.get('encrypt') !== 'false';
    return {
      dialect: 'mssql',
      sequelize: new Sequelize(url.split('?')[0] ?? url, {
        ...common,
        dialect: 'mssql',
        dialectOptions: {
          options: {
            encrypt,
            trustServerCertificate: parsed.searchParams.get('trustServerCertificate') === 'true',
          },
        },
      }),
    };
  }
  return { dialect: 'postgres', sequelize: new Sequelize(url, { ...common, dialect: 'postgres' }) };
}

/**
 * Several processes (API, scaled workers) may start at once against the same database: only one
 * runs the migrations, the others wait for it and then find nothing pending.
 */
async function withMigrationLock(
  sequelize: Sequelize,
  dialect: Dialect,
  run: () => Promise<unknown>,
): Promise<void> {
  if (dialect === 'sqlite') {
    // One file, one machine: SQLite's own locking plus WAL serialise the statements; a second
    // process that loses the race to create a table finds the migration recorded on its retry.
    try {
      await run();
    } catch {
      await run();
    }
    return;
  }
  await sequelize.transaction(
    { isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED },
    async (transaction) => {
      const lock =
        dialect === 'postgres'
          ? `SELECT pg_advisory_xact_lock(7233001)`
          : `EXEC sp_getapplock @Resource = 'orders-migrations', @LockMode = 'Exclusive', @LockOwner = 'Transaction'`;
      await sequelize.query(lock, { transaction });
      await run();
    },
  );
}

const SIZE_QUERIES: Record<Exclude<Dialect, 'sqlite'>, string> = {
  postgres: 'SELECT pg_database_size(current_database()) AS bytes',
  // sys.database_files counts 8 KiB pages.
  mssql: 'SELECT SUM(CAST(size AS BIGINT)) * 8192 AS bytes FROM sys.database_files',
};

async function databaseSize(sequelize: Sequelize, dialect: Dialect, url: string): Promise<number> {
  if (dialect === 'sqlite') {
    // The write-ahead log holds recent writes until a checkpoint: it is part of the size too.
    const file = sqliteStorage(url);
    if (file === ':memory:') return 0;
    const sizes = await Promise.all(
      ['', '-wal', '-shm'].map((suffix) =>
        stat(file + suffix).then(
          (s) => s.size,
          () => 0,
        ),
      ),
    );
    return sizes.reduce((sum, size) => sum + size, 0);
  }
  const [rows] = await sequelize.query(SIZE_QUERIES[dialect]);
  return Number((rows as { bytes: number | string }[])[0]?.bytes ?? 0);
}

/** Connects, applies pending migrations, and returns the repositories. */
export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const { sequelize, dialect } = sequelizeFor(url, options);
  await sequelize.authenticate();
  if (dialect === 'sqlite') {
    // The API and the worker write the same file from separate processes: WAL lets readers go on
    // while one writes, and the busy timeout makes a writer wait instead of failing at once.
    await sequelize.query('PRAGMA journal_mode = WAL');
    await sequelize.query('PRAGMA busy_timeout = 5000');
    await sequelize.query('PRAGMA synchronous = NORMAL');
  }
  const orderModel = defineModels(sequelize);
  const umzug = new Umzug({
    migrations,
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize }),
    logger: undefined,
  });
  await withMigrationLock(sequelize, dialect, () => umzug.up());
  return {
    dialect,
    sequelize,
    orders: new OrderRepository(orderModel),
    launches: new LaunchOutbox(sequelize, dialect),
    features: new FeatureToggleRepository(defineFeatureModels(sequelize)),
    credentials: new CredentialRepository(sequelize),
    bulk: new BulkActionRepository(defineBulkModels(sequelize), orderModel),
    ping: async () => {
      await sequelize.query('SELECT 1');
    },
    sizeBytes: () => databaseSize(sequelize, dialect, url),
    close: () => sequelize.close(),
  };
}
