import { MAX_STORED_TIME_MS, MIN_STORED_TIME_MS, ParameterError, STORED_RANGE_HINT, formatDuration, isStorableTime, parseDuration, parseRfc3339 } from '@vigil/platform';

/**
 * Query parameters as people type them (times, durations, severities) turned into plain numbers,
 * with errors that name the parameter, the value and what is allowed. Pure: `now` is passed in.
 * Every value is checked against what ClickHouse can store before any SQL is built, so bad input
 * is a 400 naming the parameter, never an engine error answered as 503.
 */

/** A request parameter that cannot be used (answered 400 `invalid_parameter`): the one every Vigil API throws. */
export { ParameterError };

const TIME_HINT = 'use Unix milliseconds or RFC 3339, e.g. 1763780000000 or 2025-11-22T02:53:20Z';
const DURATION_HINT = 'use a duration such as 10s, 5m, 1h';

const MS_PATTERN = /^\d{1,16}$/;

/** A point in time as Unix milliseconds or RFC 3339, within the range ClickHouse stores (1970 to 2262). */
export function parseTime(parameter: string, text: string): number {
  const t = text.trim();
  const ms = MS_PATTERN.test(t) ? Number(t) : parseRfc3339(t);
  if (ms === undefined) throw new ParameterError(parameter, `${JSON.stringify(text)} is not a time (${TIME_HINT})`);
  if (!isStorableTime(ms)) {
    throw new ParameterError(parameter, `${JSON.stringify(text)} is ${ms < MIN_STORED_TIME_MS ? 'before' : 'after'} any time stored (give a time ${STORED_RANGE_HINT})`);
  }
  return ms;
}

/** A positive duration in milliseconds (`since=15m`), no longer than the range ClickHouse stores. */
export function parsePositiveDuration(parameter: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new ParameterError(parameter, `${JSON.stringify(text)} is not a duration (${DURATION_HINT})`);
  if (ms <= 0) throw new ParameterError(parameter, `${JSON.stringify(text)} must be longer than zero (${DURATION_HINT})`);
  if (!(ms <= MAX_STORED_TIME_MS)) throw new ParameterError(parameter, `${JSON.stringify(text)} is longer than any time stored (${DURATION_HINT})`);
  return ms;
}

/** The start of a `since` window ending now; it may not reach back before 1970, where nothing is stored. */
export function sinceStart(text: string | undefined, defaultMs: number, now: number, parameter = 'since'): number {
  if (text === undefined) return Math.max(MIN_STORED_TIME_MS, now - defaultMs);
  const ms = parsePositiveDuration(parameter, text);
  if (now - ms < MIN_STORED_TIME_MS) {
    throw new ParameterError(parameter, `${JSON.stringify(text)} reaches back before ${new Date(MIN_STORED_TIME_MS).toISOString()}, where nothing is stored (use at most ${formatDuration(now - MIN_STORED_TIME_MS)})`);
  }
  return now - ms;
}

/** Most rows a list route returns. */
export const MAX_LIMIT = 1000;

/**
 * `limit`, once more after the schema: ajv coerces "1e400" to Infinity and lets it through
 * `maximum`, and Infinity in a `{limit:UInt32}` parameter fails in ClickHouse.
 */
export function checkLimit(limit: number): number {
  if (Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT) return limit;
  throw new ParameterError('limit', `${JSON.stringify(String(limit))} is not a whole number from 1 to ${MAX_LIMIT}`);
}

export const DEFAULT_RANGE_MS = 3_600_000;
/** Aim of the default step: a chart's worth of points. */
export const TARGET_POINTS = 300;
/** Refused above this: more points than any chart shows, and a heavy query. */
export const MAX_POINTS = 11_000;
export const MIN_STEP_MS = 1_000;
/** A step longer than this has one bucket for any range worth asking; it also keeps `{step:UInt64}` far from overflow. */
export const MAX_STEP_MS = 3650 * 86_400_000;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Steps people read easily on a time axis; beyond the last, whole days. */
export const NICE_STEPS_MS: readonly number[] = [
  1, 2, 5, 10, 15, 30,
].map((s) => s * SECOND).concat([1, 2, 5, 10, 15, 30].map((m) => m * MINUTE), [1, 2, 3, 6, 12].map((h) => h * HOUR), [1, 2, 7].map((d) => d * DAY));

/** The smallest nice step that is at least `ms`. */
export function niceStepAtLeast(ms: number): number {
  for (const step of NICE_STEPS_MS) if (step >= ms) return step;
  return Math.ceil(ms / DAY) * DAY;
}

/** Number of step-wide buckets that [from, to) spans. */
export function pointCount(fromMs: number, toMs: number, stepMs: number): number {
  return Math.ceil((toMs - fromMs) / stepMs);
}

export interface RangeQuery {
  from?: string;
  to?: string;
  step?: string;
}

export interface Range {
  fromMs: number;
  toMs: number;
  stepMs: number;
}

/**
 * from/to/step of a series query. Defaults: to = now, from = to − 1h, step = the nice step that
 * gives at most ~300 points. An explicit step must be at least 1s and give at most 11,000 points.
 */
export function planRange(q: RangeQuery, now: number): Range {
  const toMs = q.to === undefined ? now : parseTime('to', q.to);
  const fromMs = q.from === undefined ? Math.max(MIN_STORED_TIME_MS, toMs - DEFAULT_RANGE_MS) : parseTime('from', q.from);
  if (fromMs >= toMs) {
    throw new ParameterError('from', `${new Date(fromMs).toISOString()} is not before to (${new Date(toMs).toISOString()}); give a from earlier than to`);
  }
  const span = toMs - fromMs;
  if (q.step === undefined) {
    return { fromMs, toMs, stepMs: niceStepAtLeast(Math.max(MIN_STEP_MS, span / TARGET_POINTS)) };
  }
  const stepMs = parseDuration(q.step);
  if (stepMs === undefined) throw new ParameterError('step', `${JSON.stringify(q.step)} is not a duration (use 10s, 1m, 1h)`);
  if (stepMs < MIN_STEP_MS) throw new ParameterError('step', `${JSON.stringify(q.step)} is below the minimum of 1s`);
  if (!(stepMs <= MAX_STEP_MS)) throw new ParameterError('step', `${JSON.stringify(q.step)} is above the maximum of ${formatDuration(MAX_STEP_MS)} (omit step for one that fits from and to)`);
  const points = pointCount(fromMs, toMs, stepMs);
  if (points > MAX_POINTS) {
    const least = niceStepAtLeast(span / MAX_POINTS);
    throw new ParameterError(
      'step',
      `${JSON.stringify(q.step)} over ${formatDuration(span)} gives ${points} points, more than the ${MAX_POINTS} allowed (use a step of at least ${formatDuration(least)}, or omit step)`,
    );
  }
  return { fromMs, toMs, stepMs };
}

export const AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Minimum-severity filter names and the lowest OpenTelemetry SeverityNumber of each. */
export const SEVERITY_FLOOR = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 } as const;
export type SeverityName = keyof typeof SEVERITY_FLOOR;
export const SEVERITY_NAMES = Object.keys(SEVERITY_FLOOR) as SeverityName[];

/** The severity name of an OpenTelemetry SeverityNumber (1–24); '' for 0 (unspecified). */
export function severityName(n: number): SeverityName | '' {
  let name: SeverityName | '' = '';
  for (const s of SEVERITY_NAMES) if (n >= SEVERITY_FLOOR[s]) name = s;
  return name;
}

export interface WindowQuery {
  since?: string;
  from?: string;
  to?: string;
}

/**
 * The time window of a list: `from` (and `to`, default now) when given, else `since` back from
 * `to`, else the default. `from` must come before `to`.
 */
export function planWindow(q: WindowQuery, defaultMs: number, now: number): { fromMs: number; toMs: number } {
  const toMs = q.to === undefined ? now : parseTime('to', q.to);
  let fromMs: number;
  if (q.from !== undefined) fromMs = parseTime('from', q.from);
  else if (q.to === undefined) fromMs = sinceStart(q.since, defaultMs, now);
  else fromMs = Math.max(MIN_STORED_TIME_MS, toMs - (q.since === undefined ? defaultMs : parsePositiveDuration('since', q.since)));
  if (fromMs >= toMs) {
    throw new ParameterError('from', `${new Date(fromMs).toISOString()} is not before to (${new Date(toMs).toISOString()}); give a from earlier than to`);
  }
  return { fromMs, toMs };
}

/** Where a page of records ends: the last record's time (Unix ns) and content hash. */
export interface Cursor {
  ns: bigint;
  hash: bigint;
}

const UINT64_MAX = (1n << 64n) - 1n;

/** An opaque, URL-safe cursor: `<ns>.<hash>` in base64url. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.ns}.${c.hash}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  const bad = () => new ParameterError('cursor', `${JSON.stringify(text)} is not a cursor of this API (pass the \`next\` of the previous page unchanged, or omit cursor for the first page)`);
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(text)) throw bad();
  const m = /^(\d{1,19})\.(\d{1,20})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!m) throw bad();
  const ns = BigInt(m[1]!);
  const hash = BigInt(m[2]!);
  if (ns <= 0n || ns > BigInt(MAX_STORED_TIME_MS) * 1_000_000n + 999_999n || hash > UINT64_MAX) throw bad();
  return { ns, hash };
}
