/**
 * Real database outages for tests. PostgreSQL: the API talks to it through a loopback TCP proxy
 * that the test cuts (connections reset, new ones refused) and restores. SQLite: another
 * connection holds the write lock longer than the API's busy timeout.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import sqlite3 from 'sqlite3';
import { openDatabase, type Database } from '../../db';

export interface DatabaseOutage {
  /** A database handle whose connections the outage affects. */
  db: Database;
  /** Whether `readyz`'s trivial query notices the outage (a SQLite lock does not stop reads). */
  visibleToReads: boolean;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

async function postgresOutage(url: string): Promise<DatabaseOutage> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const forward = (client: Socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  let server: Server = createServer(forward);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxied = new URL(url);
  proxied.port = String(port);
  const db = await openDatabase(proxied.toString(), { poolMax: 2 });

  const cut = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  };
  return {
    db,
    visibleToReads: true,
    cut,
    async restore() {
      server = createServer(forward);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      await db.close();
      if (server.listening) await cut();
    },
  };
}

async function sqliteOutage(url: string): Promise<DatabaseOutage> {
  const file = url.slice('sqlite:'.length);
  const db = await openDatabase(url);
  const holder = new sqlite3.Database(file);
  const run = (sql: string) =>
    new Promise<void>((resolve, reject) =>
      holder.exec(sql, (error) => (error ? reject(error) : resolve())),
    );
  return {
    db,
    visibleToReads: false,
    cut: () => run('BEGIN EXCLUSIVE'),
    restore: () => run('ROLLBACK'),
    async close() {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      await db.close();
    },
  };
}

export function databaseOutage(url: string): Promise<DatabaseOutage> {
  return url.startsWith('sqlite:') ? sqliteOutage(url) : postgresOutage(url);
}
