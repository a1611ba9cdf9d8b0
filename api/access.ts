/**
 * Who may call what: the one place that maps roles to routes. Routers guard each route with the
 * middleware for the entry that names it, the OpenAPI document declares each route's security
 * from it, and the auth matrix test walks it.
 */

/** Credentials carry exactly one role. `admin` ⊃ `operator` ⊃ `viewer`; `client` stands apart. */
export type Role = 'client' | 'viewer' | 'operator' | 'admin';

/**
 * `public`: anyone. `scrape`: the Prometheus scrape credential (or any `viewer` and above).
 * A list of roles: any of them; `viewer` in a list also admits `operator` and `admin`, and so on.
 */
export type Access = 'public' | 'scrape' | readonly Role[];

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteAccess {
  method: Method;
  /** Express path pattern, as the router declares it. */
  path: string;
  access: Access;
  /** Only routed when the demo tools are on (`DEMO_SCENARIOS=on`). */
  demo?: true;
  /**
   * The session cookie counts without the dashboard's header: the Temporal Web UI calls these
   * from its own origin and cannot add one. Only for routes without side effects, whose answers
   * CORS lets no other origin read.
   */
  cookieAlone?: true;
  /** A file or redirect the dashboard's browser loads, not part of the API's contract. */
  page?: true;
}

/** Roles in order of what they may do: each admits every role before it. */
export const STAFF_ROLES = ['viewer', 'operator', 'admin'] as const satisfies readonly Role[];

export const ROUTE_ACCESS: readonly RouteAccess[] = [
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/readyz', access: 'public' },
  { method: 'GET', path: '/api/openapi.json', access: 'public' },
  // The dashboard's own files and its link to the Temporal UI (a redirect built from the id):
  // no data in them. The page's HTML, CSS and JS are served as static files beside these.
  { method: 'GET', path: '/vendor/uplot/uPlot.iife.min.js', access: 'public', page: true },
  { method: 'GET', path: '/vendor/uplot/uPlot.min.css', access: 'public', page: true },
  { method: 'GET', path: '/orders/:id/temporal', access: 'public', page: true },
  { method: 'GET', path: '/metrics', access: 'scrape' },
  { method: 'GET', path: '/api/session', access: 'public' },
  { method: 'POST', path: '/api/session', access: 'public' },
  { method: 'DELETE', path: '/api/session', access: 'public' },
  // Operators place orders by hand from the dashboard; clients through their API keys.
  { method: 'POST', path: '/api/orders', access: ['client', 'operator'] },
  { method: 'GET', path: '/api/orders', access: ['client', 'viewer'] },
  { method: 'GET', path: '/api/orders/export.csv', access: ['viewer'] },
  { method: 'GET', path: '/api/orders/:id', access: ['client', 'viewer'] },
  { method: 'POST', path: '/api/orders/:id/cancel', access: ['operator'] },
  { method: 'POST', path: '/api/orders/:id/retry', access: ['operator'] },
  { method: 'GET', path: '/api/bulk-actions', access: ['viewer'] },
  { method: 'POST', path: '/api/bulk-actions', access: ['operator'] },
  { method: 'GET', path: '/api/bulk-actions/:id', access: ['viewer'] },
  { method: 'GET', path: '/api/bulk-actions/:id/items', access: ['viewer'] },
  { method: 'POST', path: '/api/bulk-actions/:id/pause', access: ['operator'] },
  { method: 'POST', path: '/api/bulk-actions/:id/resume', access: ['operator'] },
  { method: 'POST', path: '/api/bulk-actions/:id/cancel', access: ['operator'] },
  { method: 'GET', path: '/api/stats', access: ['viewer'] },
  { method: 'GET', path: '/api/system', access: ['viewer'] },
  { method: 'POST', path: '/api/codec/decode', access: ['viewer'], cookieAlone: true },
  { method: 'POST', path: '/api/codec/encode', access: ['viewer'], cookieAlone: true },
  { method: 'GET', path: '/api/admin/features', access: ['admin'] },
  { method: 'PUT', path: '/api/admin/features/:name', access: ['admin'] },
  { method: 'POST', path: '/api/scenarios/:name', access: ['operator'], demo: true },
  { method: 'GET', path: '/api/load', access: ['viewer'], demo: true },
  { method: 'DELETE', path: '/api/load', access: ['operator'], demo: true },
];
