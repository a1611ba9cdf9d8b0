/** Time-zone arithmetic without a library: `Intl` knows every IANA zone and its DST rules. */

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** Building a formatter costs far more than using one (it showed in the worker's profile). */
function offsetFormat(zone: string): Intl.DateTimeFormat {
  let format = offsetFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    offsetFormats.set(zone, format);
  }
  return format;
}

/** Offset of `zone` at `instant`, in minutes east of UTC (Europe/London in July → 60). */
export function zoneOffsetMinutes(instant: Date, zone: string): number {
  const name = offsetFormat(zone)
    .formatToParts(instant)
    .find((part) => part.type === 'timeZoneName')?.value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '');
  if (!match) return 0; // "GMT" alone: the zone is at UTC at that instant
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `instant` as local time in `zone` with its numeric offset: `2026-07-01T10:00:00+01:00`. */
export function formatInZone(instant: Date, zone: string): string {
  const offset = zoneOffsetMinutes(instant, zone);
  const shifted = new Date(instant.getTime() + offset * 60_000);
  return `${shifted.toISOString().slice(0, 19)}${formatOffset(offset)}`;
}

/** Numeric offset written in an ISO-8601 string, in minutes; null when it has none or uses `Z`. */
export function writtenOffsetMinutes(iso: string): number | null {
  const match = /([+-])(\d{2}):(\d{2})$/.exec(iso);
  if (!match) return null;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/** Parses a duration like `500ms`, `30s`, `5m`, `2h`, `7d` into milliseconds; null if malformed. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}
