import type { TimeIntervalConfig, TimeRangeConfig } from './config.js';

/**
 * Named time intervals (Alertmanager `time_intervals`), read in a time zone through
 * Intl.DateTimeFormat so daylight-saving shifts are the zone database's business: 09:00 in
 * Europe/Berlin is 09:00 on the wall clock on both sides of a change.
 */

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

interface Span {
  start: number;
  end: number;
}

interface CompiledRange {
  weekdays: Span[];
  /** Minutes of the day, start inclusive, end exclusive. */
  times: Span[];
  /** May be negative: -1 is the last day of the month. */
  daysOfMonth: Span[];
  months: Span[];
  years: Span[];
  zone: string | undefined;
}

export interface TimeInterval {
  readonly name: string;
  /** Whether the interval holds at `now` (epoch ms). */
  holds(now: number): boolean;
}

/** Local calendar fields of an instant in a zone. */
export interface LocalTime {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string | undefined): Intl.DateTimeFormat {
  const key = zone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'long',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(key, f);
  }
  return f;
}

export function localTime(now: number, zone: string | undefined): LocalTime {
  const out: LocalTime = { year: 0, month: 0, day: 0, weekday: 0, hour: 0, minute: 0 };
  for (const p of formatter(zone).formatToParts(now)) {
    switch (p.type) {
      case 'year': out.year = Number(p.value); break;
      case 'month': out.month = Number(p.value); break;
      case 'day': out.day = Number(p.value); break;
      case 'weekday': out.weekday = WEEKDAYS.indexOf(p.value.toLowerCase()); break;
      case 'hour': out.hour = Number(p.value) % 24; break;
      case 'minute': out.minute = Number(p.value); break;
    }
  }
  return out;
}

function inSpans(spans: Span[], v: number): boolean {
  if (spans.length === 0) return true;
  for (const s of spans) if (v >= s.start && v <= s.end) return true;
  return false;
}

function rangeHolds(r: CompiledRange, now: number): boolean {
  const t = localTime(now, r.zone);
  if (!inSpans(r.years, t.year) || !inSpans(r.months, t.month) || !inSpans(r.weekdays, t.weekday)) return false;
  if (r.daysOfMonth.length > 0) {
    const last = new Date(Date.UTC(t.year, t.month, 0)).getUTCDate();
    const abs = (d: number) => (d < 0 ? last + 1 + d : d);
    if (!r.daysOfMonth.some((s) => t.day >= abs(s.start) && t.day <= abs(s.end))) return false;
  }
  if (r.times.length > 0) {
    const m = t.hour * 60 + t.minute;
    if (!r.times.some((s) => m >= s.start && m < s.end)) return false;
  }
  return true;
}

function parseSpans(items: readonly string[], at: string, value: (s: string) => number | undefined, what: string, problems: string[]): Span[] {
  const out: Span[] = [];
  items.forEach((item, i) => {
    const [a, b] = item.split(':').map((s) => s.trim().toLowerCase());
    const start = value(a!);
    const end = b === undefined ? start : value(b);
    if (start === undefined || end === undefined) {
      problems.push(`${at}[${i}]: "${item}" is not ${what}`);
      return;
    }
    // Negative days count from the month's end, so only like-signed ranges can be ordered here.
    if (Math.sign(start) === Math.sign(end) && start > end) {
      problems.push(`${at}[${i}]: "${item}" starts after it ends (write the earlier one first)`);
      return;
    }
    out.push({ start, end });
  });
  return out;
}

const int = (lo: number, hi: number) => (s: string) => {
  if (!/^-?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= lo && n <= hi ? n : undefined;
};

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/** Whether a zone name is known to this runtime's Intl. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function compileRange(r: TimeRangeConfig, at: string, problems: string[]): CompiledRange {
  const zone = r.location === 'Local' ? undefined : r.location;
  if (zone !== undefined && !isTimeZone(zone)) problems.push(`${at}.location: "${r.location}" is not an IANA time zone (use e.g. UTC, Europe/Berlin, America/New_York, Local)`);
  const times: Span[] = [];
  r.times.forEach((t, i) => {
    const start = minutes(t.startTime);
    const end = minutes(t.endTime);
    if (start >= end) problems.push(`${at}.times[${i}]: startTime ${t.startTime} is not before endTime ${t.endTime} (split a range across midnight in two)`);
    else times.push({ start, end });
  });
  const dayOfMonth = (s: string) => {
    const n = int(-31, 31)(s);
    return n === 0 ? undefined : n;
  };
  const month = (s: string) => {
    const i = MONTHS.indexOf(s);
    return i >= 0 ? i + 1 : int(1, 12)(s);
  };
  const weekday = (s: string) => {
    const i = WEEKDAYS.indexOf(s);
    return i >= 0 ? i : undefined;
  };
  return {
    zone,
    times,
    weekdays: parseSpans(r.weekdays, `${at}.weekdays`, weekday, 'a weekday or range of them (monday:friday)', problems),
    daysOfMonth: parseSpans(r.daysOfMonth, `${at}.daysOfMonth`, dayOfMonth, 'a day of the month (1..31, -31..-1) or a range of them', problems),
    months: parseSpans(r.months, `${at}.months`, month, 'a month (1..12 or january..december) or a range of them', problems),
    years: parseSpans(r.years, `${at}.years`, int(1970, 9999), 'a year or a range of them (2025:2026)', problems),
  };
}

/**
 * Compiles named intervals; problems (bad ranges, unknown zones, duplicate names) are pushed to
 * `problems`, each naming its key under `at` (e.g. `notifier.routing.timeIntervals`).
 */
export function compileTimeIntervals(configs: readonly TimeIntervalConfig[], at: string, problems: string[]): Map<string, TimeInterval> {
  const out = new Map<string, TimeInterval>();
  configs.forEach((c, i) => {
    const key = `${at}[${i}]`;
    if (out.has(c.name)) problems.push(`${key}.name: "${c.name}" is defined twice (names must be unique)`);
    const ranges = c.timeIntervals.map((r, j) => compileRange(r, `${key}.timeIntervals[${j}]`, problems));
    out.set(c.name, {
      name: c.name,
      // As in Alertmanager: no ranges never holds; a range with no fields always holds.
      holds: (now) => ranges.some((r) => rangeHolds(r, now)),
    });
  });
  return out;
}
