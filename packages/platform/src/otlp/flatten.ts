import { wellFormed } from '../wellformed.js';
import { LOGS_REQUEST_PLAN, METRICS_REQUEST_PLAN, OtlpDecodeError, decodeLogHeaders, decodeLogsRequest, decodeMetricsRequest, detectEncoding, encodeRawRequest, type DecodedRequest, type RawRequest } from './decode.js';
import { readLogsDirect, readMetricsDirect, type DirectLogs, type DirectMetrics } from './direct.js';

/**
 * OTLP requests flattened into one record per data point or log record, with attributes as
 * string maps: the shape of the OpenTelemetry ClickHouse exporter's rows, and what the rules
 * worker aggregates.
 *
 * This is the edge where whatever a sender wrote becomes something the engine can store, for the
 * intake and for ingest alike (one decoder, so what the intake accepted, ingest stores):
 * - what the OTLP spec allows is normalised: a missing start time is 0 (as the OpenTelemetry
 *   ClickHouse exporter writes it), a missing time is the observed time, else the arrival time;
 *   strings with lone UTF-16 surrogates (or invalid UTF-8, which the protobuf reader turns into
 *   them) get U+FFFD; times are written as 19-digit nanosecond strings, the only text form the
 *   engine never misreads (it reads "1" as a date in 2026 and "100000000" as seconds);
 * - what the engine cannot store or the spec does not allow (a time after 2100-01-01, see
 *   `MAX_TIME_NANOS`; "abc" or -5 as a time; a negative count or flag;
 *   a severity outside 0-24; values nested deeper than `MAX_DEPTH`) rejects that data point or
 *   log record, named by its path, and the rest of the request is kept (`rejected`).
 * A payload that is not an OTLP request at all throws OtlpDecodeError.
 */
export type Attributes = Record<string, string>;

export interface ResourceInfo {
  attributes: Attributes;
  schemaUrl: string;
  serviceName: string;
}

export interface ScopeInfo {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  schemaUrl: string;
}

export interface Exemplar {
  filteredAttributes: Attributes;
  /** Unix nanoseconds as a 19-digit decimal string. */
  timeUnixNano: string;
  value: number;
  spanId: string;
  traceId: string;
}

interface PointBase {
  resource: ResourceInfo;
  scope: ScopeInfo;
  name: string;
  description: string;
  unit: string;
  attributes: Attributes;
  /** Unix nanoseconds as 19-digit decimal strings (int64 does not fit a double). */
  startTimeUnixNano: string;
  timeUnixNano: string;
  flags: number;
  exemplars: Exemplar[];
}

export type AggregationTemporality = 0 | 1 | 2;

export type MetricPoint = PointBase &
  (
    | { kind: 'gauge'; value: number }
    | { kind: 'sum'; value: number; temporality: AggregationTemporality; monotonic: boolean }
    | {
        kind: 'histogram';
        count: number;
        sum: number;
        bucketCounts: number[];
        explicitBounds: number[];
        min: number;
        max: number;
        temporality: AggregationTemporality;
      }
    | {
        kind: 'exponential_histogram';
        count: number;
        sum: number;
        scale: number;
        zeroCount: number;
        positiveOffset: number;
        positiveBucketCounts: number[];
        negativeOffset: number;
        negativeBucketCounts: number[];
        min: number;
        max: number;
        temporality: AggregationTemporality;
      }
    | { kind: 'summary'; count: number; sum: number; quantiles: { quantile: number; value: number }[] }
  );

export interface LogEntry {
  resource: ResourceInfo;
  scope: ScopeInfo;
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: Attributes;
  traceId: string;
  spanId: string;
  flags: number;
  eventName: string;
}

/** A data point or log record left out, and why: `path` is its place in the request (OTLP/JSON names). */
export interface Rejection {
  path: string;
  reason: string;
  /** Data points or log records left out for it. */
  records: number;
}

export interface ReadOptions {
  /**
   * When the request arrived, Unix milliseconds: the time of a record that carries none (a Kafka
   * record's timestamp at ingest, the receive time at the intake). Default: now.
   */
  arrivalMs?: number;
}

export interface Read<T> {
  records: T[];
  rejected: Rejection[];
  /**
   * The request without the rejected records, in the payload's own encoding (the original
   * bytes when nothing was rejected): what the intake forwards after a partial success.
   */
  accepted(): Buffer;
}

/** Nested arrays and maps in attribute values and bodies beyond this depth are refused. */
export const MAX_DEPTH = 32;

/**
 * The latest time Vigil stores. `TimestampTime` and the TTLs are `DateTime` (seconds in a UInt32,
 * up to 2106-02-07); a TTL past that wraps to 1970 and the engine drops the row at once, so the
 * limit leaves room for years of retention.
 */
export const MAX_TIME_NANOS = 4_102_444_800_000_000_000n;
const MAX_TIME_TEXT = MAX_TIME_NANOS.toString();
const ZERO_TIME = '0000000000000000000';
const LATEST = '2100-01-01T00:00:00Z';

class FieldError extends Error {
  constructor(
    /** Where, relative to what was being read when it was thrown; callers prefix their own place. */
    public field: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** A string of decimal digits only, the first not 0 (a time as the wire reader writes it). */
function plainDigits(v: string): boolean {
  const n = v.length;
  if (n === 0 || v.charCodeAt(0) === 48) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
};

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  return wellFormed(typeof v === 'string' ? v : String(v));
}

/** Unix nanoseconds as 19 digits, or `fallback` when the field is absent or 0. */
function time(v: unknown, field: string, fallback: string): string {
  // The common case first: what the wire reader gives (digits, no leading zero) within range.
  if (typeof v === 'string' && v.length <= MAX_TIME_TEXT.length && plainDigits(v) && (v.length < MAX_TIME_TEXT.length || v <= MAX_TIME_TEXT)) return v.padStart(19, '0');
  if (v === undefined || v === null || v === '' || v === 0 || v === '0') return fallback;
  let digits: string;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new FieldError(field, `${show(v)} is not a time in Unix nanoseconds (a whole number >= 0)`);
    digits = BigInt(v).toString();
  } else if (typeof v === 'string' && /^\d+$/.test(v)) {
    digits = v.replace(/^0+/, '');
    if (digits === '') return fallback;
  } else {
    throw new FieldError(field, `${show(v)} is not a time in Unix nanoseconds (a whole number >= 0)`);
  }
  if (digits.length > MAX_TIME_TEXT.length || (digits.length === MAX_TIME_TEXT.length && digits > MAX_TIME_TEXT)) {
    throw new FieldError(field, `${show(v)} is after ${LATEST}, the latest time that can be stored`);
  }
  return digits.padStart(19, '0');
}

/** A non-negative integer (uint32, uint64, fixed64 as protobuf or JSON writes it). */
function uint(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  if (!Number.isInteger(n) || n < 0) throw new FieldError(field, `${show(v)} is not a count (a whole number >= 0)`);
  return n;
}

/** A signed integer (int32, sint32, sfixed64). */
function int(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  if (!Number.isInteger(n)) throw new FieldError(field, `${show(v)} is not a whole number`);
  return n;
}

/** A double; proto3 JSON writes non-finite ones as "NaN", "Infinity", "-Infinity". */
function double(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (!Number.isNaN(n) || v === 'NaN') return n;
  }
  throw new FieldError(field, `${show(v)} is not a number`);
}

function list(v: unknown, field: string): RawRequest[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FieldError(field, 'expected a list');
  return v as RawRequest[];
}

const uints = (v: unknown, field: string): number[] => list(v, field).map((x, i) => uint(x, `${field}[${i}]`));
const doubles = (v: unknown, field: string): number[] => list(v, field).map((x, i) => double(x, `${field}[${i}]`));

const TEMPORALITY: Record<string, AggregationTemporality> = { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 };
function temporality(v: unknown): AggregationTemporality {
  const t = typeof v === 'string' ? (TEMPORALITY[v] ?? Number(v)) : v;
  return t === 1 || t === 2 ? t : 0;
}

/** SeverityNumber 0-24; proto3 JSON may write the enum's name. */
function severity(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string' && v.startsWith('SEVERITY_NUMBER_')) {
    const i = SEVERITY_NAMES.indexOf(v.slice('SEVERITY_NUMBER_'.length));
    if (i >= 0) return i;
  }
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 24) throw new FieldError(field, `${show(v)} is not a severity number (0-24)`);
  return n;
}
const SEVERITY_NAMES = ['UNSPECIFIED', ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((s) => [s, `${s}2`, `${s}3`, `${s}4`])];

type AnyValue = RawRequest | undefined;

/** Attribute values become strings: scalars as written, arrays and maps as JSON, bytes as base64. */
export function anyValueToString(v: AnyValue, ids: DecodedRequest['ids'] = 'base64', field = 'value'): string {
  if (v && typeof v === 'object' && typeof v.stringValue === 'string') return wellFormed(v.stringValue);
  const js = anyValueToJs(v, ids, field, 0);
  if (js === null || js === undefined) return '';
  return typeof js === 'string' ? js : typeof js === 'object' ? JSON.stringify(js) : String(js);
}

function anyValueToJs(v: AnyValue, ids: DecodedRequest['ids'], field: string, depth: number): unknown {
  if (!v || typeof v !== 'object') return v === undefined || v === null ? null : typeof v === 'string' ? wellFormed(v) : v;
  if (depth > MAX_DEPTH) throw new FieldError(field, `values nested deeper than ${MAX_DEPTH} levels`);
  if (v.stringValue !== undefined) return text(v.stringValue);
  if (v.boolValue !== undefined) return Boolean(v.boolValue);
  if (v.intValue !== undefined) {
    if (!/^-?\d+$/.test(String(v.intValue))) throw new FieldError(`${field}.intValue`, `${show(v.intValue)} is not a whole number`);
    return String(v.intValue);
  }
  if (v.doubleValue !== undefined) return double(v.doubleValue, `${field}.doubleValue`);
  if (v.arrayValue !== undefined) return list(v.arrayValue?.values, `${field}.arrayValue.values`).map((x, i) => anyValueToJs(x, ids, `${field}.arrayValue.values[${i}]`, depth + 1));
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue?.values, ids, `${field}.kvlistValue.values`, depth + 1);
  // Base64 in both encodings: OTLP/JSON writes only trace and span ids as hex, bytesValue keeps proto3's base64.
  if (v.bytesValue !== undefined) {
    const b64 = String(v.bytesValue);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) throw new FieldError(`${field}.bytesValue`, `${show(v.bytesValue)} is not base64`);
    return b64;
  }
  return null;
}

function attributes(v: unknown, ids: DecodedRequest['ids'], field: string, depth = 0): Attributes {
  const out: Attributes = {};
  if (v === undefined || v === null) return out;
  const kvs = list(v, field);
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i];
    if (!kv || typeof kv.key !== 'string') continue;
    const value = kv.value as AnyValue;
    const sv = value?.stringValue;
    out[wellFormed(kv.key)] = typeof sv === 'string' ? wellFormed(sv) : anyValueToStringAt(value, ids, `${field}[${i}].value`, depth);
  }
  return out;
}

function anyValueToStringAt(v: AnyValue, ids: DecodedRequest['ids'], field: string, depth: number): string {
  const js = anyValueToJs(v, ids, field, depth);
  if (js === null || js === undefined) return '';
  return typeof js === 'string' ? js : typeof js === 'object' ? JSON.stringify(js) : String(js);
}

function id(v: unknown, ids: DecodedRequest['ids']): string {
  if (typeof v !== 'string' || v === '') return '';
  return ids === 'hex' ? wellFormed(v.toLowerCase()) : Buffer.from(v, 'base64').toString('hex');
}

function resource(r: RawRequest, ids: DecodedRequest['ids'], at: string): ResourceInfo {
  const attrs = attributes(r.resource?.attributes, ids, `${at}.resource.attributes`);
  return { attributes: attrs, schemaUrl: text(r.schemaUrl), serviceName: attrs['service.name'] ?? '' };
}

function scope(s: RawRequest, ids: DecodedRequest['ids'], at: string): ScopeInfo {
  return {
    name: text(s.scope?.name),
    version: text(s.scope?.version),
    attributes: attributes(s.scope?.attributes, ids, `${at}.scope.attributes`),
    droppedAttributesCount: uint(s.scope?.droppedAttributesCount, `${at}.scope.droppedAttributesCount`),
    schemaUrl: text(s.schemaUrl),
  };
}

const NO_EXEMPLARS: Exemplar[] = [];

function exemplars(v: unknown, ids: DecodedRequest['ids'], at: string, fallbackTime: string): Exemplar[] {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return NO_EXEMPLARS;
  return list(v, `${at}.exemplars`).map((e, i) => ({
    filteredAttributes: attributes(e.filteredAttributes, ids, `${at}.exemplars[${i}].filteredAttributes`),
    timeUnixNano: time(e.timeUnixNano, `${at}.exemplars[${i}].timeUnixNano`, fallbackTime),
    value: e.asDouble !== undefined ? double(e.asDouble, `${at}.exemplars[${i}].asDouble`) : int(e.asInt, `${at}.exemplars[${i}].asInt`),
    spanId: id(e.spanId, ids),
    traceId: id(e.traceId, ids),
  }));
}

function nanosOfMillis(ms: number): string {
  return time(String(Math.max(0, Math.trunc(ms))) + '000000', 'arrival time', ZERO_TIME);
}

/**
 * Walks request → resource → scope → record. A problem in one record rejects that record; a
 * problem in a resource or scope (its attributes, say) rejects every record under it.
 */
class Walk<T> {
  readonly records: T[] = [];
  readonly rejected: Rejection[] = [];
  /** Raw records left out, to drop them from the request that is forwarded. */
  readonly dropped = new Set<RawRequest>();

  reject(field: string, reason: string, raws: RawRequest[]): void {
    this.rejected.push({ path: field, reason, records: raws.length });
    for (const r of raws) this.dropped.add(r);
  }

  /** Runs `fn`; a FieldError rejects `raws` (the record, or every record under a resource or scope). */
  guard(raws: () => RawRequest[], fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      this.reject(err.field, err.message, raws());
    }
  }

  result(decoded: DecodedRequest, payload: Buffer, prune: (body: RawRequest, dropped: Set<RawRequest>) => void): Read<T> {
    const dropped = this.dropped;
    return {
      records: this.records,
      rejected: this.rejected,
      accepted: () => {
        if (dropped.size === 0) return payload;
        prune(decoded.body, dropped);
        return encodeRawRequest(decoded);
      },
    };
  }
}

/** Every data point of a metric, whatever its type (to reject them together). */
function dataPointsOf(m: RawRequest): RawRequest[] {
  const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
  return Array.isArray(data?.dataPoints) ? (data.dataPoints as RawRequest[]) : [];
}

function pruneMetrics(body: RawRequest, dropped: Set<RawRequest>): void {
  for (const rm of body.resourceMetrics ?? []) {
    for (const sm of rm?.scopeMetrics ?? []) {
      for (const m of sm?.metrics ?? []) {
        const data = m?.gauge ?? m?.sum ?? m?.histogram ?? m?.exponentialHistogram ?? m?.summary;
        if (Array.isArray(data?.dataPoints)) data.dataPoints = data.dataPoints.filter((dp: RawRequest) => !dropped.has(dp));
      }
    }
  }
}

function pruneLogs(body: RawRequest, dropped: Set<RawRequest>): void {
  for (const rl of body.resourceLogs ?? []) {
    for (const sl of rl?.scopeLogs ?? []) {
      if (Array.isArray(sl?.logRecords)) sl.logRecords = sl.logRecords.filter((r: RawRequest) => !dropped.has(r));
    }
  }
}

function topList(v: unknown, what: string, field: string): RawRequest[] {
  if (!Array.isArray(v)) {
    if (v === undefined || v === null) throw new OtlpDecodeError(what, new Error(`no ${field} in a non-empty payload`));
    throw new OtlpDecodeError(what, new Error(`${field}: expected a list`));
  }
  if (v.length === 0) throw new OtlpDecodeError(what, new Error(`no ${field} in a non-empty payload`));
  return v as RawRequest[];
}

/** How the direct reader (direct.ts) writes what it does not read itself: as this file does. */
const DIRECT: DirectLogs = { request: LOGS_REQUEST_PLAN, anyValue: (raw) => anyValueToStringAt(raw, 'base64', '.value', 0), maxTimeText: MAX_TIME_TEXT };

/** How the direct reader (direct.ts) flattens a metric it does not read itself: as this file does. */
const DIRECT_METRICS: DirectMetrics = {
  ...DIRECT,
  request: METRICS_REQUEST_PLAN,
  noExemplars: NO_EXEMPLARS,
  metric(raw, res, sc, arrival) {
    const walk = new Walk<MetricPoint>();
    try {
      metric(raw, '', res, sc, 'base64', arrival, walk);
    } catch (err) {
      if (err instanceof FieldError) return undefined;
      throw err;
    }
    return walk.rejected.length > 0 ? undefined : walk.records;
  },
};

/**
 * Decodes an `otlp_metrics` payload into data points and the points it had to leave out. A protobuf
 * request is read straight from the wire (`readMetricsDirect`) when it holds nothing unusual, else
 * (and with any other `decode`) through the plain-object tree.
 */
export function readMetrics(payload: Buffer, opts: ReadOptions = {}, decode: (payload: Buffer) => DecodedRequest = decodeMetricsRequest): Read<MetricPoint> {
  if (decode === decodeMetricsRequest && payload.length > 0 && detectEncoding(payload) === 'otlp_proto') {
    const records = readMetricsDirect(payload, nanosOfMillis(opts.arrivalMs ?? Date.now()), DIRECT_METRICS);
    if (records) return { records, rejected: [], accepted: () => payload };
  }
  const decoded = decode(payload);
  const { body, ids } = decoded;
  const arrival = nanosOfMillis(opts.arrivalMs ?? Date.now());
  const rms = topList(body.resourceMetrics, 'OTLP metrics request', 'resourceMetrics');
  const walk = new Walk<MetricPoint>();
  const allPoints = (sms: unknown) => (Array.isArray(sms) ? sms : []).flatMap((sm: RawRequest) => (Array.isArray(sm?.metrics) ? sm.metrics : []).flatMap(dataPointsOf));
  rms.forEach((rm, ri) => {
    const rAt = `resourceMetrics[${ri}]`;
    walk.guard(
      () => allPoints(rm?.scopeMetrics),
      () => {
        const res = resource(rm ?? {}, ids, rAt);
        list(rm?.scopeMetrics, `${rAt}.scopeMetrics`).forEach((sm, si) => {
          const sAt = `${rAt}.scopeMetrics[${si}]`;
          walk.guard(
            () => allPoints([sm]),
            () => {
              const sc = scope(sm ?? {}, ids, sAt);
              list(sm?.metrics, `${sAt}.metrics`).forEach((m, mi) => {
                const mAt = `${sAt}.metrics[${mi}]`;
                walk.guard(
                  () => dataPointsOf(m ?? {}),
                  () => metric(m ?? {}, mAt, res, sc, ids, arrival, walk),
                );
              });
            },
          );
        });
      },
    );
  });
  return walk.result(decoded, payload, pruneMetrics);
}

function metric(m: RawRequest, mAt: string, res: ResourceInfo, sc: ScopeInfo, ids: DecodedRequest['ids'], arrival: string, walk: Walk<MetricPoint>): void {
  if (typeof m.name !== 'string' || m.name === '') throw new FieldError(`${mAt}.name`, 'a metric needs a name');
  const name = wellFormed(m.name);
  const description = text(m.description);
  const unit = text(m.unit);
  // Per point, no closures and no path text unless a field is refused: `at` is '' and a FieldError's
  // field is relative to the point, prefixed with the point's place here (the text of every field's
  // place cost as much as reading the point).
  const points = (data: RawRequest | undefined, type: string, each: (dp: RawRequest, base: PointBase) => MetricPoint) => {
    const dps = list(data?.dataPoints, `${mAt}.${type}.dataPoints`);
    for (let i = 0; i < dps.length; i++) {
      const dp = dps[i];
      try {
        const p = dp ?? {};
        const t = time(p.timeUnixNano, '.timeUnixNano', arrival);
        const base: PointBase = {
          resource: res,
          scope: sc,
          name,
          description,
          unit,
          attributes: attributes(p.attributes, ids, '.attributes'),
          startTimeUnixNano: time(p.startTimeUnixNano, '.startTimeUnixNano', ZERO_TIME),
          timeUnixNano: t,
          flags: uint(p.flags, '.flags'),
          exemplars: exemplars(p.exemplars, ids, '', t),
        };
        walk.records.push(each(p, base));
      } catch (err) {
        if (!(err instanceof FieldError)) throw err;
        err.field = `${mAt}.${type}.dataPoints[${i}]${err.field}`;
        walk.reject(err.field, err.message, [dp!]);
      }
    }
  };
  const value = (dp: RawRequest) => (dp.asDouble !== undefined && dp.asDouble !== null ? double(dp.asDouble, '.asDouble') : int(dp.asInt, '.asInt'));
  if (m.gauge) {
    points(m.gauge, 'gauge', (dp, base) => Object.assign(base, { kind: 'gauge' as const, value: value(dp) }));
  } else if (m.sum) {
    const t = temporality(m.sum.aggregationTemporality);
    const monotonic = Boolean(m.sum.isMonotonic);
    points(m.sum, 'sum', (dp, base) => Object.assign(base, { kind: 'sum' as const, value: value(dp), temporality: t, monotonic }));
  } else if (m.histogram) {
    const t = temporality(m.histogram.aggregationTemporality);
    points(m.histogram, 'histogram', (dp, base) =>
      Object.assign(base, {
        kind: 'histogram' as const,
        count: uint(dp.count, '.count'),
        sum: double(dp.sum, '.sum'),
        bucketCounts: uints(dp.bucketCounts, '.bucketCounts'),
        explicitBounds: doubles(dp.explicitBounds, '.explicitBounds'),
        min: double(dp.min, '.min'),
        max: double(dp.max, '.max'),
        temporality: t,
      }),
    );
  } else if (m.exponentialHistogram) {
    const t = temporality(m.exponentialHistogram.aggregationTemporality);
    points(m.exponentialHistogram, 'exponentialHistogram', (dp, base) =>
      Object.assign(base, {
        kind: 'exponential_histogram' as const,
        count: uint(dp.count, '.count'),
        sum: double(dp.sum, '.sum'),
        scale: int(dp.scale, '.scale'),
        zeroCount: uint(dp.zeroCount, '.zeroCount'),
        positiveOffset: int(dp.positive?.offset, '.positive.offset'),
        positiveBucketCounts: uints(dp.positive?.bucketCounts, '.positive.bucketCounts'),
        negativeOffset: int(dp.negative?.offset, '.negative.offset'),
        negativeBucketCounts: uints(dp.negative?.bucketCounts, '.negative.bucketCounts'),
        min: double(dp.min, '.min'),
        max: double(dp.max, '.max'),
        temporality: t,
      }),
    );
  } else if (m.summary) {
    points(m.summary, 'summary', (dp, base) =>
      Object.assign(base, {
        kind: 'summary' as const,
        count: uint(dp.count, '.count'),
        sum: double(dp.sum, '.sum'),
        quantiles: list(dp.quantileValues, '.quantileValues').map((q, i) => ({
          quantile: double(q?.quantile, `.quantileValues[${i}].quantile`),
          value: double(q?.value, `.quantileValues[${i}].value`),
        })),
      }),
    );
  }
}

/**
 * Decodes an `otlp_logs` payload into log records and the records it had to leave out. A protobuf
 * request is read straight from the wire (`readLogsDirect`) when it holds nothing unusual, else (and
 * with any other `decode`) through the plain-object tree.
 */
export function readLogs(payload: Buffer, opts: ReadOptions = {}, decode: (payload: Buffer) => DecodedRequest = decodeLogsRequest): Read<LogEntry> {
  if (decode === decodeLogsRequest && payload.length > 0 && detectEncoding(payload) === 'otlp_proto') {
    const records = readLogsDirect(payload, nanosOfMillis(opts.arrivalMs ?? Date.now()), DIRECT);
    if (records) return { records, rejected: [], accepted: () => payload };
  }
  const decoded = decode(payload);
  const { body, ids } = decoded;
  const arrival = nanosOfMillis(opts.arrivalMs ?? Date.now());
  const rls = topList(body.resourceLogs, 'OTLP logs request', 'resourceLogs');
  const walk = new Walk<LogEntry>();
  const allRecords = (sls: unknown) => (Array.isArray(sls) ? sls : []).flatMap((sl: RawRequest) => (Array.isArray(sl?.logRecords) ? sl.logRecords : []));
  rls.forEach((rl, ri) => {
    const rAt = `resourceLogs[${ri}]`;
    walk.guard(
      () => allRecords(rl?.scopeLogs),
      () => {
        const res = resource(rl ?? {}, ids, rAt);
        list(rl?.scopeLogs, `${rAt}.scopeLogs`).forEach((sl, si) => {
          const sAt = `${rAt}.scopeLogs[${si}]`;
          walk.guard(
            () => allRecords([sl]),
            () => {
              const sc = scope(sl ?? {}, ids, sAt);
              // Per record as per metric point: no closures, the place's text only for a refused field.
              const raws = list(sl?.logRecords, `${sAt}.logRecords`);
              for (let i = 0; i < raws.length; i++) {
                const raw = raws[i];
                try {
                  const r = raw ?? {};
                  const observed = time(r.observedTimeUnixNano, '.observedTimeUnixNano', arrival);
                  walk.records.push({
                    resource: res,
                    scope: sc,
                    timeUnixNano: time(r.timeUnixNano, '.timeUnixNano', observed),
                    observedTimeUnixNano: observed,
                    severityNumber: severity(r.severityNumber, '.severityNumber'),
                    severityText: text(r.severityText),
                    body: anyValueToStringAt(r.body, ids, '.body', 0),
                    attributes: attributes(r.attributes, ids, '.attributes'),
                    traceId: id(r.traceId, ids),
                    spanId: id(r.spanId, ids),
                    flags: uint(r.flags, '.flags'),
                    eventName: text(r.eventName),
                  });
                } catch (err) {
                  if (!(err instanceof FieldError)) throw err;
                  err.field = `${sAt}.logRecords[${i}]${err.field}`;
                  walk.reject(err.field, err.message, [raw!]);
                }
              }
            },
          );
        });
      },
    );
  });
  return walk.result(decoded, payload, pruneLogs);
}

/** The data points of an `otlp_metrics` payload, leaving out those that cannot be stored; throws OtlpDecodeError for a payload that is not OTLP. */
export function metricPoints(payload: Buffer, opts?: ReadOptions): MetricPoint[] {
  return readMetrics(payload, opts).records;
}

/** The log records of an `otlp_logs` payload, leaving out those that cannot be stored; throws OtlpDecodeError for a payload that is not OTLP. */
export function logEntries(payload: Buffer, opts?: ReadOptions): LogEntry[] {
  return readLogs(payload, opts).records;
}

/**
 * The log records of an `otlp_logs` payload without their content: resource, scope, times,
 * severity and flags as `logEntries` gives them, empty body, attributes and ids (unread). A record
 * `logEntries` refuses for its content alone (a body nested too deep) is counted here.
 */
export function logHeaders(payload: Buffer, opts?: ReadOptions): LogEntry[] {
  return readLogs(payload, opts, decodeLogHeaders).records;
}

/** Unix nanoseconds (decimal string) to Unix milliseconds. */
export function nanosToMillis(n: string): number {
  return n.length > 6 ? Number(n.slice(0, -6)) : 0;
}
