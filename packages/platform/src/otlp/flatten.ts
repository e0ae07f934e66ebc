import { OtlpDecodeError, decodeLogsRequest, decodeMetricsRequest, type DecodedRequest, type RawRequest } from './decode.js';

/**
 * OTLP requests flattened into one record per data point or log record, with attributes as
 * string maps: the shape of the OpenTelemetry ClickHouse exporter's rows, and what the rules
 * worker aggregates.
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
  /** Unix nanoseconds as a decimal string. */
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
  /** Unix nanoseconds as decimal strings (int64 does not fit a double). */
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

type AnyValue = RawRequest | undefined;

/** Attribute values become strings: scalars as written, arrays and maps as JSON, bytes as base64. */
export function anyValueToString(v: AnyValue, ids: DecodedRequest['ids'] = 'base64'): string {
  const js = anyValueToJs(v, ids);
  if (js === null || js === undefined) return '';
  return typeof js === 'string' ? js : typeof js === 'object' ? JSON.stringify(js) : String(js);
}

function anyValueToJs(v: AnyValue, ids: DecodedRequest['ids']): unknown {
  if (!v || typeof v !== 'object') return v ?? null;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.boolValue !== undefined) return Boolean(v.boolValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return ((v.arrayValue.values ?? []) as AnyValue[]).map((x) => anyValueToJs(x, ids));
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values, ids);
  if (v.bytesValue !== undefined) return ids === 'hex' ? Buffer.from(String(v.bytesValue), 'hex').toString('base64') : String(v.bytesValue);
  return null;
}

function attributes(list: unknown, ids: DecodedRequest['ids']): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as RawRequest[]) {
    if (!kv || typeof kv.key !== 'string') continue;
    const sv = kv.value?.stringValue;
    out[kv.key] = typeof sv === 'string' ? sv : anyValueToString(kv.value, ids);
  }
  return out;
}

function id(v: unknown, ids: DecodedRequest['ids']): string {
  if (typeof v !== 'string' || v === '') return '';
  return ids === 'hex' ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
}

const nanos = (v: unknown): string => (v === undefined || v === null || v === '' ? '0' : String(v));
const num = (v: unknown): number => (v === undefined || v === null ? 0 : Number(v));
const nums = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : []);
const temporality = (v: unknown): AggregationTemporality => {
  const t = num(v);
  return t === 1 || t === 2 ? t : 0;
};

function list(v: unknown, what: string): RawRequest[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpDecodeError(what, new Error('expected a list'));
  return v as RawRequest[];
}

function resource(r: RawRequest, ids: DecodedRequest['ids']): ResourceInfo {
  const attrs = attributes(r.resource?.attributes, ids);
  return { attributes: attrs, schemaUrl: String(r.schemaUrl ?? ''), serviceName: attrs['service.name'] ?? '' };
}

function scope(s: RawRequest, ids: DecodedRequest['ids']): ScopeInfo {
  return {
    name: String(s.scope?.name ?? ''),
    version: String(s.scope?.version ?? ''),
    attributes: attributes(s.scope?.attributes, ids),
    droppedAttributesCount: num(s.scope?.droppedAttributesCount),
    schemaUrl: String(s.schemaUrl ?? ''),
  };
}

const NO_EXEMPLARS: Exemplar[] = [];

function exemplars(v: unknown, ids: DecodedRequest['ids']): Exemplar[] {
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return NO_EXEMPLARS;
  return list(v, 'exemplars').map((e) => ({
    filteredAttributes: attributes(e.filteredAttributes, ids),
    timeUnixNano: nanos(e.timeUnixNano),
    value: e.asDouble !== undefined ? Number(e.asDouble) : num(e.asInt),
    spanId: id(e.spanId, ids),
    traceId: id(e.traceId, ids),
  }));
}

/** Decodes an `otlp_metrics` payload into data points; throws OtlpDecodeError for anything else. */
export function metricPoints(payload: Buffer): MetricPoint[] {
  const { body, ids } = decodeMetricsRequest(payload);
  const rms = list(body.resourceMetrics, 'resourceMetrics');
  if (rms.length === 0) throw new OtlpDecodeError('OTLP metrics request', new Error('no resourceMetrics in a non-empty payload'));
  const out: MetricPoint[] = [];
  for (const rm of rms) {
    const res = resource(rm, ids);
    for (const sm of list(rm.scopeMetrics, 'scopeMetrics')) {
      const sc = scope(sm, ids);
      for (const m of list(sm.metrics, 'metrics')) {
        if (typeof m.name !== 'string' || m.name === '') throw new OtlpDecodeError('OTLP metric', new Error('a metric without a name'));
        const base = (dp: RawRequest): PointBase => ({
          resource: res,
          scope: sc,
          name: m.name,
          description: String(m.description ?? ''),
          unit: String(m.unit ?? ''),
          attributes: attributes(dp.attributes, ids),
          startTimeUnixNano: nanos(dp.startTimeUnixNano),
          timeUnixNano: nanos(dp.timeUnixNano),
          flags: num(dp.flags),
          exemplars: exemplars(dp.exemplars, ids),
        });
        const value = (dp: RawRequest) => (dp.asDouble !== undefined ? Number(dp.asDouble) : num(dp.asInt));
        if (m.gauge) {
          for (const dp of list(m.gauge.dataPoints, 'dataPoints')) out.push(Object.assign(base(dp), { kind: 'gauge' as const, value: value(dp) }));
        } else if (m.sum) {
          const t = temporality(m.sum.aggregationTemporality);
          for (const dp of list(m.sum.dataPoints, 'dataPoints')) {
            out.push(Object.assign(base(dp), { kind: 'sum' as const, value: value(dp), temporality: t, monotonic: Boolean(m.sum.isMonotonic) }));
          }
        } else if (m.histogram) {
          const t = temporality(m.histogram.aggregationTemporality);
          for (const dp of list(m.histogram.dataPoints, 'dataPoints')) {
            out.push(Object.assign(base(dp), {
              kind: 'histogram' as const,
              count: num(dp.count),
              sum: num(dp.sum),
              bucketCounts: nums(dp.bucketCounts),
              explicitBounds: nums(dp.explicitBounds),
              min: num(dp.min),
              max: num(dp.max),
              temporality: t,
            }));
          }
        } else if (m.exponentialHistogram) {
          const t = temporality(m.exponentialHistogram.aggregationTemporality);
          for (const dp of list(m.exponentialHistogram.dataPoints, 'dataPoints')) {
            out.push(Object.assign(base(dp), {
              kind: 'exponential_histogram' as const,
              count: num(dp.count),
              sum: num(dp.sum),
              scale: num(dp.scale),
              zeroCount: num(dp.zeroCount),
              positiveOffset: num(dp.positive?.offset),
              positiveBucketCounts: nums(dp.positive?.bucketCounts),
              negativeOffset: num(dp.negative?.offset),
              negativeBucketCounts: nums(dp.negative?.bucketCounts),
              min: num(dp.min),
              max: num(dp.max),
              temporality: t,
            }));
          }
        } else if (m.summary) {
          for (const dp of list(m.summary.dataPoints, 'dataPoints')) {
            out.push(Object.assign(base(dp), {
              kind: 'summary' as const,
              count: num(dp.count),
              sum: num(dp.sum),
              quantiles: list(dp.quantileValues, 'quantileValues').map((q) => ({ quantile: num(q.quantile), value: num(q.value) })),
            }));
          }
        }
      }
    }
  }
  return out;
}

/** Decodes an `otlp_logs` payload into log records; throws OtlpDecodeError for anything else. */
export function logEntries(payload: Buffer): LogEntry[] {
  const { body, ids } = decodeLogsRequest(payload);
  const rls = list(body.resourceLogs, 'resourceLogs');
  if (rls.length === 0) throw new OtlpDecodeError('OTLP logs request', new Error('no resourceLogs in a non-empty payload'));
  const out: LogEntry[] = [];
  for (const rl of rls) {
    const res = resource(rl, ids);
    for (const sl of list(rl.scopeLogs, 'scopeLogs')) {
      const sc = scope(sl, ids);
      for (const r of list(sl.logRecords, 'logRecords')) {
        const time = nanos(r.timeUnixNano);
        out.push({
          resource: res,
          scope: sc,
          timeUnixNano: time === '0' ? nanos(r.observedTimeUnixNano) : time,
          observedTimeUnixNano: nanos(r.observedTimeUnixNano),
          severityNumber: num(r.severityNumber),
          severityText: String(r.severityText ?? ''),
          body: anyValueToString(r.body, ids),
          attributes: attributes(r.attributes, ids),
          traceId: id(r.traceId, ids),
          spanId: id(r.spanId, ids),
          flags: num(r.flags),
          eventName: String(r.eventName ?? ''),
        });
      }
    }
  }
  return out;
}

/** Unix nanoseconds (decimal string) to Unix milliseconds. */
export function nanosToMillis(n: string): number {
  return n.length > 6 ? Number(n.slice(0, -6)) : 0;
}
