/**
 * Times as people and APIs write them, checked before they reach SQL: RFC 3339 read field by
 * field, and the range ClickHouse stores.
 */

/** The earliest time stored: the Unix epoch (ClickHouse DateTime starts there). */
export const MIN_STORED_TIME_MS = 0;
/** The latest time stored: 2262-04-11T23:47:16.854Z, where DateTime64(9) (nanoseconds in an Int64) ends. */
export const MAX_STORED_TIME_MS = 9_223_372_036_854;

export const STORED_RANGE_HINT = `between ${new Date(MIN_STORED_TIME_MS).toISOString()} and ${new Date(MAX_STORED_TIME_MS).toISOString()}`;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Unix milliseconds of an RFC 3339 time (sub-millisecond digits truncated), or undefined when the
 * text is not one. Checked field by field because `Date.parse` accepts impossible dates such as
 * February 30 and forms such as "1" or "Tuesday".
 */
export function parseRfc3339(text: string): number | undefined {
  const t = text.trim();
  const m = RFC3339.exec(t);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offH = m[9] === undefined ? 0 : Number(m[9]);
  const offM = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || offH > 23 || offM > 59) {
    return undefined;
  }
  const ms = Date.parse(t.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whether Unix milliseconds `ms` lie in the range ClickHouse stores. */
export function isStorableTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_STORED_TIME_MS && ms <= MAX_STORED_TIME_MS;
}
