import { ERROR_FINGERPRINT_ATTRIBUTE, LOG_SEVERITY_EXPR, type Storage } from '@vigil/platform';
import { isoFromMs, readRows, toNumber, type ChNumber } from './read-rows.js';
import { severityName } from './parameters.js';

/**
 * Errors by fingerprint over a window ("which errors, how often, since when"). Without a text,
 * event or category filter the counts come from the log-count rollups (per hour and per minute,
 * by host, service, severity and fingerprint): the window is cut into whole hours, whole minutes
 * around them and the raw records of its ragged edges, so the counts are exact while a day reads
 * a few thousand rollup rows instead of every record. The newest body and the exact first and
 * last times then come from the raw records of each group's first and last bucket only.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** The per-minute rollup keeps 8 days (migrations.ts); older minutes are read from the raw records. */
export const MINUTE_ROLLUP_REACH_MS = 7 * 24 * HOUR;
/** Ranges of raw records the details query names one by one; beyond, it reads one range over them all. */
const MAX_DETAIL_RANGES = 64;

export interface CountPart {
  source: 'raw' | '1m' | '1h';
  fromMs: number;
  toMs: number;
}

/**
 * The window `[fromMs, toMs)` as parts that together hold each instant once: whole hours from the
 * hourly rollup, whole minutes from the per-minute one (while it keeps them), the rest raw. Pure.
 */
export function planCountParts(fromMs: number, toMs: number, nowMs: number): CountPart[] {
  const up = (t: number, step: number) => Math.ceil(t / step) * step;
  const down = (t: number, step: number) => Math.floor(t / step) * step;
  const a = up(fromMs, MINUTE);
  const b = down(toMs, MINUTE);
  if (a >= b) return [{ source: 'raw', fromMs, toMs }];
  const parts: CountPart[] = [];
  const add = (source: CountPart['source'], f: number, t: number) => {
    if (f < t) parts.push({ source, fromMs: f, toMs: t });
  };
  const minutes = (f: number, t: number) => {
    // Minutes the per-minute rollup no longer keeps are read raw.
    const reach = up(nowMs - MINUTE_ROLLUP_REACH_MS, MINUTE);
    add('raw', f, Math.min(t, Math.max(f, reach)));
    add('1m', Math.max(f, reach), t);
  };
  add('raw', fromMs, a);
  const ha = up(a, HOUR);
  const hb = down(b, HOUR);
  if (ha < hb) {
    minutes(a, ha);
    add('1h', ha, hb);
    minutes(hb, b);
  } else minutes(a, b);
  add('raw', b, toMs);
  return parts;
}

/** What every error-group query filters by; empty strings mean "any". */
export interface GroupFilters {
  host: string;
  service: string;
  event: string;
  category: string;
  fingerprint: string;
  q: string;
  minSeverity: number;
}

export interface ErrorGroupItem {
  fingerprint: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  body: string;
  eventName: string;
  severity: string;
  hosts: string[];
  services: string[];
}

/** The rollups answer only filters they keep: no text, event name or category. */
export function rollupsAnswer(f: GroupFilters): boolean {
  return f.q === '' && f.event === '' && f.category === '';
}

/** Raw records in `[{<p>from}, {<p>to})` (Unix ms), by the sort key's second and the exact time. */
function rawRange(p: string): string {
  return rawRangeOf(`{${p}from:Int64}`, `{${p}to:Int64}`);
}

/** Raw records from `from` to before `to`: SQL expressions of Unix ms, constant in the query (parameters, scalar subqueries). */
export function rawRangeOf(from: string, to: string): string {
  return `(TimestampTime >= toDateTime(intDiv(${from}, 1000)) AND TimestampTime <= toDateTime(intDiv(${to}, 1000))
    AND Timestamp >= fromUnixTimestamp64Milli(${from}) AND Timestamp < fromUnixTimestamp64Milli(${to}))`;
}

/**
 * The filters every raw records query shares, over `[{<p>from}, {<p>to})`: only those set, each a
 * query parameter. An unset filter is left out of the text rather than written as `{x} = '' OR …`:
 * the engine plans every condition it is given, and on the embedded engine planning is most of a
 * small query's time.
 */
export function rawWhere(f: GroupFilters, p = '', range = rawRange(p)): string {
  return [range, ...rawFilters(f)].join('\n  AND ');
}

function rawFilters(f: GroupFilters): string[] {
  const out: string[] = [];
  if (f.host !== '') out.push("ResourceAttributes['host.name'] = {host:String}");
  if (f.service !== '') out.push('ServiceName = {service:String}');
  if (f.event !== '') out.push('EventName = {event:String}');
  if (f.category !== '') out.push("LogAttributes['vigil.category'] = {category:String}");
  if (f.fingerprint !== '') out.push(`LogAttributes['${ERROR_FINGERPRINT_ATTRIBUTE}'] = {fingerprint:String}`);
  if (f.q !== '') out.push('positionCaseInsensitiveUTF8(Body, {q:String}) > 0');
  if (f.minSeverity > 0) out.push(`${LOG_SEVERITY_EXPR} >= {minSeverity:UInt8}`);
  return out;
}

/** The filters the log-count rollups keep (see `rollupsAnswer`), set ones only. */
function rollupFilters(f: GroupFilters): string {
  const out: string[] = [];
  if (f.fingerprint !== '') out.push('Fingerprint = {fingerprint:String}');
  if (f.host !== '') out.push('Host = {host:String}');
  if (f.service !== '') out.push('ServiceName = {service:String}');
  if (f.minSeverity > 0) out.push('SeverityNumber >= {minSeverity:UInt8}');
  return out.map((c) => ` AND ${c}`).join('');
}

const FP = `LogAttributes['${ERROR_FINGERPRINT_ATTRIBUTE}']`;

/** Every group from the raw records (any filter). */
export const rawGroupsSql = (logs: string, f: GroupFilters) => `
SELECT ${FP} AS fingerprint, count() AS count,
  toUnixTimestamp64Milli(min(Timestamp)) AS first, toUnixTimestamp64Milli(max(Timestamp)) AS last,
  argMax(Body, Timestamp) AS body, argMax(EventName, Timestamp) AS eventName, max(${LOG_SEVERITY_EXPR}) AS severityNumber,
  arraySort(groupUniqArray(10)(ResourceAttributes['host.name'])) AS hosts, arraySort(groupUniqArray(10)(ServiceName)) AS services
FROM ${logs}
WHERE ${rawWhere(f)} AND fingerprint != ''
GROUP BY fingerprint
ORDER BY count DESC, last DESC, fingerprint
LIMIT {limit:UInt32}`;

/**
 * The groups of the parts of one source: count, highest severity, hosts and services, and where
 * their first and last records lie (`flo..fhi`, `llo..lhi`: a bucket, or the exact millisecond
 * raw). Part `i`'s range is in the parameters `p<i>from` and `p<i>to`.
 */
function sourceSql(source: CountPart['source'], indexes: number[], tables: { logs: string; '1m': string; '1h': string }, f: GroupFilters): string {
  if (source === 'raw') {
    return `SELECT ${FP} AS fingerprint, count() AS n, toUnixTimestamp64Milli(min(Timestamp)) AS flo, flo + 1 AS fhi,
  toUnixTimestamp64Milli(max(Timestamp)) AS llo, llo + 1 AS lhi, toUInt8(max(${LOG_SEVERITY_EXPR})) AS sev,
  CAST(groupUniqArray(10)(ResourceAttributes['host.name']) AS Array(String)) AS hs, CAST(groupUniqArray(10)(ServiceName) AS Array(String)) AS ss
FROM ${tables.logs}
WHERE (${indexes.map((i) => rawRange(`p${i}`)).join(' OR ')})
  ${rawFilters(f).map((c) => `AND ${c} `).join('')}AND fingerprint != ''
GROUP BY fingerprint`;
  }
  const size = source === '1h' ? HOUR : MINUTE;
  const ranges = indexes.map((i) => `(Bucket >= toDateTime(intDiv({p${i}from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({p${i}to:Int64}, 1000)))`);
  return `SELECT Fingerprint AS fingerprint, sum(Count) AS n, toInt64(toUnixTimestamp(min(Bucket))) * 1000 AS flo, flo + ${size} AS fhi,
  toInt64(toUnixTimestamp(max(Bucket))) * 1000 AS llo, llo + ${size} AS lhi, toUInt8(max(SeverityNumber)) AS sev,
  CAST(groupUniqArray(10)(Host) AS Array(String)) AS hs, CAST(groupUniqArray(10)(ServiceName) AS Array(String)) AS ss
FROM ${tables[source]}
WHERE (${ranges.join(' OR ')})
  AND Fingerprint != ''${rollupFilters(f)}
GROUP BY fingerprint`;
}

/**
 * The parts' groups merged, most frequent first, then the later last bucket; with the groups tied
 * with the last one taken, so the exact order (by the newest record, then the fingerprint) can be
 * made once the details are known.
 */
export function countsSql(parts: CountPart[], tables: { logs: string; '1m': string; '1h': string }, f: GroupFilters): string {
  return `
SELECT fingerprint, sum(n) AS count, min(flo) AS firstLo, argMin(fhi, flo) AS firstHi,
  argMax(llo, lhi) AS lastLo, max(lhi) AS lastHi, max(sev) AS severityNumber,
  arraySlice(arraySort(arrayDistinct(arrayFlatten(groupArray(hs)))), 1, 10) AS hosts,
  arraySlice(arraySort(arrayDistinct(arrayFlatten(groupArray(ss)))), 1, 10) AS services
FROM (
${(['raw', '1m', '1h'] as const)
  .map((source) => [source, parts.flatMap((p, i) => (p.source === source ? [i] : []))] as const)
  .filter(([, indexes]) => indexes.length > 0)
  .map(([source, indexes]) => sourceSql(source, indexes, tables, f))
  .join('\nUNION ALL\n')}
)
GROUP BY fingerprint
ORDER BY count DESC, lastHi DESC
LIMIT {limit:UInt32} WITH TIES`;
}

/** Sorted, merged `[lo, hi)` ranges. */
export function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = ranges.filter(([lo, hi]) => lo < hi).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The newest body and exact first and last times of some groups, from the raw records of the ranges given. */
export function detailsSql(logs: string, ranges: number, f: GroupFilters): string {
  const within = Array.from(
    { length: ranges },
    (_, i) => `(TimestampTime >= toDateTime(intDiv({r${i}from:Int64}, 1000)) AND TimestampTime <= toDateTime(intDiv({r${i}to:Int64}, 1000))
    AND Timestamp >= fromUnixTimestamp64Milli({r${i}from:Int64}) AND Timestamp < fromUnixTimestamp64Milli({r${i}to:Int64}))`,
  ).join('\n  OR ');
  return `
SELECT ${FP} AS fingerprint, toUnixTimestamp64Milli(min(Timestamp)) AS first, toUnixTimestamp64Milli(max(Timestamp)) AS last,
  argMax(Body, Timestamp) AS body, argMax(EventName, Timestamp) AS eventName
FROM ${logs}
WHERE (${within})
  AND ${rawWhere(f)} AND fingerprint IN {fingerprints:Array(String)}
GROUP BY fingerprint`;
}

interface RawGroupRow {
  fingerprint: string;
  count: ChNumber;
  first: ChNumber;
  last: ChNumber;
  body: string;
  eventName: string;
  severityNumber: ChNumber;
  hosts: string[];
  services: string[];
}

interface CountRow {
  fingerprint: string;
  count: ChNumber;
  firstLo: ChNumber;
  firstHi: ChNumber;
  lastLo: ChNumber;
  lastHi: ChNumber;
  severityNumber: ChNumber;
  hosts: string[];
  services: string[];
}

interface DetailRow {
  fingerprint: string;
  first: ChNumber;
  last: ChNumber;
  body: string;
  eventName: string;
}

export interface GroupsQuery extends GroupFilters {
  fromMs: number;
  toMs: number;
  limit: number;
}

function filterParams(q: GroupsQuery): Record<string, unknown> {
  return { host: q.host, service: q.service, event: q.event, category: q.category, fingerprint: q.fingerprint, q: q.q, minSeverity: q.minSeverity };
}

/** Every group from the raw records. */
export async function groupsFromRecords(storage: Storage, q: GroupsQuery): Promise<ErrorGroupItem[]> {
  const rows = await readRows<RawGroupRow>(storage, 'error groups', rawGroupsSql(storage.table('otel_logs'), q), { ...filterParams(q), from: q.fromMs, to: q.toMs, limit: q.limit });
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    count: toNumber(r.count),
    firstSeen: isoFromMs(r.first),
    lastSeen: isoFromMs(r.last),
    body: r.body,
    eventName: r.eventName,
    severity: severityName(toNumber(r.severityNumber)),
    hosts: r.hosts,
    services: r.services,
  }));
}

/** The groups with counts from the rollups (filters they keep only: see `rollupsAnswer`). */
export async function groupsFromRollups(storage: Storage, q: GroupsQuery, nowMs: number): Promise<ErrorGroupItem[]> {
  const logs = storage.table('otel_logs');
  const parts = planCountParts(q.fromMs, q.toMs, nowMs);
  const params: Record<string, unknown> = { ...filterParams(q), limit: q.limit };
  parts.forEach((p, i) => Object.assign(params, { [`p${i}from`]: p.fromMs, [`p${i}to`]: p.toMs }));
  const tables = { logs, '1m': storage.table('vigil_log_counts_1m'), '1h': storage.table('vigil_log_counts_1h') };
  const counts = await readRows<CountRow>(storage, 'error groups', countsSql(parts, tables, q), params);
  if (counts.length === 0) return [];
  // Each group's first and last bucket, within the window: where its first and newest records are.
  const clip = (lo: number, hi: number): [number, number] => [Math.max(q.fromMs, lo), Math.min(q.toMs, hi)];
  let ranges = mergeRanges(counts.flatMap((r) => [clip(toNumber(r.firstLo), toNumber(r.firstHi)), clip(toNumber(r.lastLo), toNumber(r.lastHi))]));
  // Many scattered ranges (a thousand errors first seen at different instants of the raw edge) would
  // make a statement past the engine's query size limit: one range over them all finds the same rows.
  if (ranges.length > MAX_DETAIL_RANGES) ranges = [[ranges[0]![0], ranges.at(-1)![1]]];
  const detailParams: Record<string, unknown> = { ...filterParams(q), from: q.fromMs, to: q.toMs, fingerprints: counts.map((r) => r.fingerprint) };
  ranges.forEach(([lo, hi], i) => Object.assign(detailParams, { [`r${i}from`]: lo, [`r${i}to`]: hi }));
  const details = new Map((await readRows<DetailRow>(storage, 'error groups', detailsSql(logs, ranges.length, q), detailParams)).map((d) => [d.fingerprint, d]));
  const groups = counts.map((r) => {
    const d = details.get(r.fingerprint);
    return {
      fingerprint: r.fingerprint,
      count: toNumber(r.count),
      // Records gone from the raw table (its TTL is shorter than the hourly rollup's) leave the bucket's start.
      firstSeen: isoFromMs(d ? d.first : Math.max(q.fromMs, toNumber(r.firstLo))),
      lastSeen: isoFromMs(d ? d.last : Math.max(q.fromMs, toNumber(r.lastLo))),
      body: d?.body ?? '',
      eventName: d?.eventName ?? '',
      severity: severityName(toNumber(r.severityNumber)),
      hosts: r.hosts,
      services: r.services,
    };
  });
  // As the raw query orders them: most frequent, newest, then by fingerprint.
  groups.sort((x, y) => y.count - x.count || (x.lastSeen < y.lastSeen ? 1 : x.lastSeen > y.lastSeen ? -1 : 0) || (x.fingerprint < y.fingerprint ? -1 : x.fingerprint > y.fingerprint ? 1 : 0));
  return groups.slice(0, q.limit);
}
