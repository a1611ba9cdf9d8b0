/**
 * Bounding text that comes from outside (a finance package's reason, an operator's note) before it
 * is stored or carried in workflow state: the same limits on every database, so SQLite, which does
 * not enforce column lengths, behaves like PostgreSQL and SQL Server, which do. Pure, so the
 * workflow sandbox can use it.
 */

/** Column sizes of the order table's free-text fields (db/models.ts uses the same numbers). */
export const TEXT_LIMITS = {
  failureReason: 1000,
  cancelReason: 500,
  reference: 100,
} as const;

const ELLIPSIS = '…';

/**
 * `value` on one line — control characters and line separators turned into spaces, trimmed — and
 * cut to at most `max` characters (an ellipsis marks a cut); null stays null. Counted in UTF-16
 * units like `VARCHAR(n)` in the three databases' JavaScript drivers, and never splits a
 * surrogate pair.
 */
export function boundText(value: string, max: number): string;
export function boundText(value: string | null | undefined, max: number): string | null;
export function boundText(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  const clean = value.replace(/[\p{Cc}\u2028\u2029]/gu, ' ').trim();
  if (clean.length <= max) return clean;
  let cut = clean.slice(0, Math.max(0, max - ELLIPSIS.length));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}${ELLIPSIS}`;
}
