/**
 * `ROUTE_ACCESS` is the whole truth: every route the app serves has an entry, and every entry
 * is served (the demo entries exactly when the demo tools are on). Read from the Express router
 * itself, so a route added without an entry fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUTE_ACCESS } from '../../api/access';
import { createApiApp } from '../../api/app';
import { openDatabase } from '../../db';
import { loadConfig } from '../../domain/config';
import { createLogger } from '../../observability/logger';
import { freshSqliteUrl } from '../support/database';
import { unreachableTemporal } from './harness';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD path` of every route handler in the router tree (each router is mounted at `/`). */
function servedRoutes(stack: Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const { path, methods } = layer.route;
      return Object.keys(methods)
        .filter((method) => method !== '_all')
        .map((method) => `${method.toUpperCase()} ${path}`);
    }
    return layer.handle?.stack ? servedRoutes(layer.handle.stack) : [];
  });
}

for (const demo of ['on', 'off'] as const) {
  void test(`with the demo tools ${demo}, the routes served are exactly the ROUTE_ACCESS entries`, async (t) => {
    const db = await openDatabase(freshSqliteUrl());
    t.after(() => db.close());
    const app = createApiApp({
      db,
      temporal: unreachableTemporal(),
      config: loadConfig({ DEMO_SCENARIOS: demo }),
      log: createLogger({ service: 'api', level: 'error' }),
    });
    const served = [
      ...new Set(servedRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack)),
    ].sort();
    const expected = ROUTE_ACCESS.filter((entry) => demo === 'on' || !entry.demo)
      .map((entry) => `${entry.method} ${entry.path}`)
      .sort();
    assert.deepEqual(served, expected);
  });
}
