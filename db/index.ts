import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Sequelize, Transaction, type Options } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { defineModels } from './models';
import { migrations } from './migrations';
import { OrderRepository, type Dialect } from './orders';

export type { Dialect };

export interface Database {
  dialect: Dialect;
  sequelize: Sequelize;
  orders: OrderRepository;
  /** Throws when the database cannot answer a trivial query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Receives every SQL statement; off by default. */
  logging?: (sql: string) => void;
  /** Connections per process (PostgreSQL, SQL Server). */
  poolMax?: number;
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
    const storage = url.slice('sqlite:'.length).replace(/^\/\//, '') || ':memory:';
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
    ping: async () => {
      await sequelize.query('SELECT 1');
    },
    close: () => sequelize.close(),
  };
}
