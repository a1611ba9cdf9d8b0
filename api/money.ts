/**
 * Money as integer cents, so `quantity × unitPrice` is exact: 0.1 + 0.2 never happens here.
 * Every amount the API accepts is below 2^53 cents, where integers are exact in a double.
 */

const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/;

/** "12.5" → 1250; null for anything but an unsigned decimal with at most 2 places. */
export function parseCents(text: string): number | null {
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(2, '0'));
  const cents = whole * 100 + fraction;
  return Number.isSafeInteger(cents) ? cents : null;
}

/** 1250 → "12.50". */
export function formatCents(cents: number): string {
  const whole = Math.floor(cents / 100);
  return `${whole}.${String(cents % 100).padStart(2, '0')}`;
}
