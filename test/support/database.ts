import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** A new, empty SQLite file. */
export function freshSqliteUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'orders-')), 'orders.sqlite')}`;
}

/**
 * A new, empty database on the PostgreSQL server that `npm test` starts (TEST_POSTGRES_URL).
 * Each test file gets its own database, so files never see each other's rows.
 */
export async function freshPostgresUrl(): Promise<string> {
  const admin = process.env.TEST_POSTGRES_URL;
  if (!admin) {
    throw new Error(
      'TEST_POSTGRES_URL is not set: run the suite with `npm test`, which starts PostgreSQL',
    );
  }
  const name = `orders_${randomUUID().replace(/-/g, '')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Both dialects the suite runs against, each as a fresh database. */
export const DATABASES: { name: string; url: () => Promise<string> }[] = [
  { name: 'SQLite', url: () => Promise.resolve(freshSqliteUrl()) },
  { name: 'PostgreSQL', url: freshPostgresUrl },
];
