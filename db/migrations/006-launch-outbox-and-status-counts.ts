import type { MigrationFn } from 'umzug';
import { DataTypes, Transaction, type QueryInterface, type Sequelize } from 'sequelize';
import { ORDER_STATUSES } from '../../domain/order';
import { LAUNCHES_TABLE, ORDERS_TABLE, STATUS_COUNTS_TABLE } from '../models';

/**
 * The launch outbox and the counts by status, both kept by triggers on `orders`, so they change
 * in the same statement (and transaction) as the row, whoever writes it: the API's insert, the
 * status-write activity, an operator's bulk action, a seed script or a hand-written UPDATE.
 *
 * - `order_launches`: one entry per order whose workflow is not known to have started
 *   (`workflow_started_at IS NULL`). The insert of the order adds it; recording the start removes
 *   it. The API's launcher claims due entries (`next_attempt_at`), which doubles as its lease and
 *   its backoff.
 * - `order_status_counts`: one row per status with its number of orders. Each change is an
 *   in-place `n = n ± 1`; a status change locks the two rows in name order, so two concurrent
 *   changes never wait on each other in a cycle.
 */
const SQLITE = [
  `CREATE TRIGGER orders_counted_insert AFTER INSERT ON ${ORDERS_TABLE} BEGIN
     UPDATE ${STATUS_COUNTS_TABLE} SET n = n + 1 WHERE status = NEW.status;
   END`,
  `CREATE TRIGGER orders_outbox_insert AFTER INSERT ON ${ORDERS_TABLE}
   WHEN NEW.workflow_started_at IS NULL BEGIN
     INSERT INTO ${LAUNCHES_TABLE} (order_id, accepted_at, attempts, next_attempt_at)
     VALUES (NEW.id, NEW.created_at, 0, NEW.created_at);
   END`,
  // SQLite has one writer at a time: the two rows need no lock order.
  `CREATE TRIGGER orders_counted_status AFTER UPDATE OF status ON ${ORDERS_TABLE}
   WHEN OLD.status <> NEW.status BEGIN
     UPDATE ${STATUS_COUNTS_TABLE} SET n = n + CASE WHEN status = NEW.status THEN 1 ELSE -1 END
     WHERE status IN (OLD.status, NEW.status);
   END`,
  `CREATE TRIGGER orders_outbox_started AFTER UPDATE OF workflow_started_at ON ${ORDERS_TABLE}
   WHEN NEW.workflow_started_at IS NOT NULL BEGIN
     DELETE FROM ${LAUNCHES_TABLE} WHERE order_id = NEW.id;
   END`,
  `CREATE TRIGGER orders_counted_delete AFTER DELETE ON ${ORDERS_TABLE} BEGIN
     UPDATE ${STATUS_COUNTS_TABLE} SET n = n - 1 WHERE status = OLD.status;
     DELETE FROM ${LAUNCHES_TABLE} WHERE order_id = OLD.id;
   END`,
];

const POSTGRES = [
  // Statement-level with a transition table: a bulk insert of 10,000 rows is one counter update
  // per status, not 10,000.
  `CREATE FUNCTION orders_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE r record;
   BEGIN
     FOR r IN SELECT status, COUNT(*) AS n FROM new_rows GROUP BY status ORDER BY status LOOP
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n + r.n WHERE status = r.status;
     END LOOP;
     INSERT INTO ${LAUNCHES_TABLE} (order_id, accepted_at, attempts, next_attempt_at)
       SELECT id, created_at, 0, created_at FROM new_rows WHERE workflow_started_at IS NULL;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER orders_counted_insert AFTER INSERT ON ${ORDERS_TABLE}
   REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_counted_insert()`,
  `CREATE FUNCTION orders_counted_status() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF OLD.status < NEW.status THEN
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n - 1 WHERE status = OLD.status;
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n + 1 WHERE status = NEW.status;
     ELSE
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n + 1 WHERE status = NEW.status;
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n - 1 WHERE status = OLD.status;
     END IF;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER orders_counted_status AFTER UPDATE OF status ON ${ORDERS_TABLE}
   FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
   EXECUTE FUNCTION orders_counted_status()`,
  `CREATE FUNCTION orders_outbox_started() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     DELETE FROM ${LAUNCHES_TABLE} WHERE order_id = NEW.id;
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER orders_outbox_started AFTER UPDATE OF workflow_started_at ON ${ORDERS_TABLE}
   FOR EACH ROW WHEN (OLD.workflow_started_at IS NULL AND NEW.workflow_started_at IS NOT NULL)
   EXECUTE FUNCTION orders_outbox_started()`,
  `CREATE FUNCTION orders_counted_delete() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE r record;
   BEGIN
     FOR r IN SELECT status, COUNT(*) AS n FROM old_rows GROUP BY status ORDER BY status LOOP
       UPDATE ${STATUS_COUNTS_TABLE} SET n = n - r.n WHERE status = r.status;
     END LOOP;
     DELETE FROM ${LAUNCHES_TABLE} WHERE order_id IN (SELECT id FROM old_rows);
     RETURN NULL;
   END $$`,
  `CREATE TRIGGER orders_counted_delete AFTER DELETE ON ${ORDERS_TABLE}
   REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_counted_delete()`,
];

/**
 * SQL Server triggers are per statement, with `inserted` and `deleted`: one trigger nets both out
 * per status. NOCOUNT keeps the trigger's row counts out of the UPDATE's own affected-row count.
 * The model sets `hasTrigger`, since an OUTPUT clause without INTO is refused on such a table.
 */
const MSSQL = [
  `CREATE TRIGGER orders_counted ON ${ORDERS_TABLE} AFTER INSERT, UPDATE, DELETE AS
   BEGIN
     SET NOCOUNT ON;
     UPDATE c SET n = c.n + d.delta
     FROM ${STATUS_COUNTS_TABLE} AS c
     JOIN (SELECT status, SUM(delta) AS delta
           FROM (SELECT status, 1 AS delta FROM inserted
                 UNION ALL SELECT status, -1 AS delta FROM deleted) AS x
           GROUP BY status) AS d ON d.status = c.status
     WHERE d.delta <> 0;
     INSERT INTO ${LAUNCHES_TABLE} (order_id, accepted_at, attempts, next_attempt_at)
       SELECT i.id, i.created_at, 0, i.created_at FROM inserted AS i
       WHERE i.workflow_started_at IS NULL AND NOT EXISTS (SELECT 1 FROM deleted);
     DELETE l FROM ${LAUNCHES_TABLE} AS l JOIN inserted AS i ON i.id = l.order_id
       WHERE i.workflow_started_at IS NOT NULL;
     DELETE l FROM ${LAUNCHES_TABLE} AS l JOIN deleted AS d ON d.id = l.order_id
       WHERE NOT EXISTS (SELECT 1 FROM inserted);
   END`,
];

const DROP: Record<string, string[]> = {
  sqlite: [
    'orders_counted_insert',
    'orders_outbox_insert',
    'orders_counted_status',
    'orders_outbox_started',
    'orders_counted_delete',
  ].map((name) => `DROP TRIGGER IF EXISTS ${name}`),
  postgres: [
    'orders_counted_insert',
    'orders_counted_status',
    'orders_outbox_started',
    'orders_counted_delete',
  ].flatMap((name) => [
    `DROP TRIGGER IF EXISTS ${name} ON ${ORDERS_TABLE}`,
    `DROP FUNCTION IF EXISTS ${name}()`,
  ]),
  mssql: [`DROP TRIGGER IF EXISTS orders_counted`],
};

function triggersFor(sequelize: Sequelize): string[] {
  const dialect = sequelize.getDialect();
  if (dialect === 'sqlite') return SQLITE;
  if (dialect === 'mssql') return MSSQL;
  return POSTGRES;
}

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.createTable(LAUNCHES_TABLE, {
    order_id: { type: DataTypes.STRING(64), primaryKey: true, allowNull: false },
    /** The order's `created_at`: launch latency is measured from it. */
    accepted_at: { type: DataTypes.DATE, allowNull: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_attempt_at: { type: DataTypes.DATE, allowNull: false },
    last_error: { type: DataTypes.STRING(500), allowNull: true },
  });
  // The launcher's "due entries, oldest first".
  await qi.addIndex(LAUNCHES_TABLE, ['next_attempt_at'], { name: 'order_launches_due' });
  await qi.createTable(STATUS_COUNTS_TABLE, {
    status: { type: DataTypes.STRING(16), primaryKey: true, allowNull: false },
    n: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
  });

  // The triggers and the first counts in one transaction that holds writers of `orders` off, so
  // no change lands between the count and the trigger that would have counted it.
  const sequelize = qi.sequelize;
  const dialect = sequelize.getDialect();
  await sequelize.transaction(
    dialect === 'sqlite'
      ? { type: Transaction.TYPES.IMMEDIATE }
      : { isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE },
    async (transaction) => {
      const run = (sql: string) => sequelize.query(sql, { transaction });
      if (dialect === 'postgres')
        await run(`LOCK TABLE ${ORDERS_TABLE} IN SHARE ROW EXCLUSIVE MODE`);
      if (dialect === 'mssql') await run(`SELECT TOP (0) id FROM ${ORDERS_TABLE} WITH (TABLOCKX)`);
      for (const statement of triggersFor(sequelize)) await run(statement);
      for (const status of ORDER_STATUSES) {
        await sequelize.query(
          `INSERT INTO ${STATUS_COUNTS_TABLE} (status, n) ` +
            `SELECT :status, COUNT(*) FROM ${ORDERS_TABLE} WHERE status = :status`,
          { transaction, replacements: { status } },
        );
      }
      await run(
        `INSERT INTO ${LAUNCHES_TABLE} (order_id, accepted_at, attempts, next_attempt_at) ` +
          `SELECT id, created_at, 0, created_at FROM ${ORDERS_TABLE} ` +
          `WHERE workflow_started_at IS NULL`,
      );
    },
  );
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  for (const statement of DROP[qi.sequelize.getDialect()] ?? []) {
    await qi.sequelize.query(statement);
  }
  await qi.dropTable(STATUS_COUNTS_TABLE);
  await qi.dropTable(LAUNCHES_TABLE);
};
