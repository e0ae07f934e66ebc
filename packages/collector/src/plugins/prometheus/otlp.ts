import type { Attributes } from '@opentelemetry/api';
import type { Family, Sample } from './exposition.js';

/**
 * Prometheus families as an OTLP ExportMetricsServiceRequest (the plain-object shape that
 * `encodeMetricsRequest` takes), by the OpenTelemetry Prometheus compatibility rules: counter →
 * monotonic cumulative Sum, gauge and untyped → Gauge, histogram → Histogram with explicit bounds,
 * summary → Summary. Pure.
 */

const CUMULATIVE = 2;

type KeyValue = { key: string; value: Record<string, unknown> };
/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

export function keyValues(attrs: Attributes): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key of Object.keys(attrs)) {
    const v = attrs[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') out.push({ key, value: { stringValue: v } });
    else if (typeof v === 'boolean') out.push({ key, value: { boolValue: v } });
    else if (typeof v === 'number') out.push({ key, value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } });
    else out.push({ key, value: { stringValue: Array.isArray(v) ? v.join(',') : String(v) } });
  }
  return out;
}

function labelValues(labels: Record<string, string>, skip?: string): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key of Object.keys(labels)) if (key !== skip) out.push({ key, value: { stringValue: labels[key]! } });
  return out;
}

/** Identity of a series within a family: its labels except `le`/`quantile`, in a stable order. */
export function seriesKey(labels: Record<string, string>, skip?: string): string {
  const keys = Object.keys(labels).filter((k) => k !== skip).sort();
  let s = '';
  for (const k of keys) s += `${k}\u0000${labels[k]}\u0001`;
  return s;
}

export const msToNanos = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();

/**
 * Start times of cumulative series, kept per target across scrapes: the first scrape that saw a
 * series, moved forward when its value goes down (the process restarted and its counters reset).
 */
export class StartTimes {
  private readonly seen = new Map<string, { startMs: number; last: number; seenMs: number }>();

  /** The start (ms) for `key` whose cumulative value is now `value`, observed at `nowMs`. */
  startOf(key: string, value: number, nowMs: number): number {
    const s = this.seen.get(key);
    if (!s || value < s.last) {
      this.seen.set(key, { startMs: nowMs, last: value, seenMs: nowMs });
      return nowMs;
    }
    s.last = value;
    s.seenMs = nowMs;
    return s.startMs;
  }

  /** Forgets series not seen at or after `ms` (gone from the target), so the map stays bounded. */
  prune(ms: number): void {
    for (const [k, s] of this.seen) if (s.seenMs < ms) this.seen.delete(k);
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface ConvertOptions {
  /** When the scrape happened (ms): the time of samples without their own timestamp. */
  scrapeMs: number;
  starts: StartTimes;
}

interface HistogramSeries {
  labels: Record<string, string>;
  buckets: { le: number; count: number }[];
  sum: number;
  count?: number;
  timestampMs?: number;
  quantiles: { quantile: number; value: number }[];
}

function groupSeries(f: Family, skip: 'le' | 'quantile'): HistogramSeries[] {
  const byKey = new Map<string, HistogramSeries>();
  for (const s of f.samples) {
    const key = seriesKey(s.labels, skip);
    let h = byKey.get(key);
    if (!h) {
      const labels: Record<string, string> = {};
      for (const k of Object.keys(s.labels)) if (k !== skip) labels[k] = s.labels[k]!;
      h = { labels, buckets: [], sum: 0, quantiles: [] };
      byKey.set(key, h);
    }
    if (s.timestampMs !== undefined) h.timestampMs = s.timestampMs;
    if (s.name === `${f.name}_sum`) h.sum = s.value;
    else if (s.name === `${f.name}_count`) h.count = s.value;
    else if (s.name === `${f.name}_bucket` && skip === 'le') {
      const le = s.labels.le === undefined ? undefined : s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      if (le !== undefined && !Number.isNaN(le)) h.buckets.push({ le, count: s.value });
    } else if (s.name === f.name && skip === 'quantile' && s.labels.quantile !== undefined) {
      h.quantiles.push({ quantile: Number(s.labels.quantile), value: s.value });
    }
  }
  return [...byKey.values()];
}

/** Cumulative `le` buckets as OTLP's per-bucket counts over finite bounds (the last bucket is +Inf). */
export function bucketsToOtlp(buckets: { le: number; count: number }[], count?: number): { explicitBounds: number[]; bucketCounts: number[]; count: number } {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const explicitBounds: number[] = [];
  const bucketCounts: number[] = [];
  let prev = 0;
  let inf: number | undefined;
  for (const b of sorted) {
    if (b.le === Number.POSITIVE_INFINITY) {
      inf = b.count;
      continue;
    }
    explicitBounds.push(b.le);
    bucketCounts.push(Math.max(0, b.count - prev));
    prev = Math.max(prev, b.count);
  }
  const total = count ?? inf ?? prev;
  bucketCounts.push(Math.max(0, (inf ?? total) - prev));
  return { explicitBounds, bucketCounts, count: total };
}

/** The sample's own time, or the scrape's when it has none or one before 1970 (OTLP times are unsigned). */
function sampleTime(s: { timestampMs?: number }, o: ConvertOptions): string {
  return msToNanos(s.timestampMs !== undefined && s.timestampMs >= 0 ? s.timestampMs : o.scrapeMs);
}

function familyToMetric(f: Family, o: ConvertOptions): Obj[] {
  if (f.type === 'counter') {
    // Named after the samples (`x_total`), whether TYPE declared `x` or `x_total`; `_created` samples give the start.
    const created = new Map<string, number>();
    for (const s of f.samples) if (s.name.endsWith('_created') && s.name !== f.name) created.set(seriesKey(s.labels), s.value * 1000);
    const byName = new Map<string, Sample[]>();
    for (const s of f.samples) {
      if (s.name.endsWith('_created') && s.name !== f.name) continue;
      let list = byName.get(s.name);
      if (!list) byName.set(s.name, (list = []));
      list.push(s);
    }
    return [...byName].map(([name, samples]) => ({
      name,
      description: f.help,
      sum: {
        aggregationTemporality: CUMULATIVE,
        isMonotonic: true,
        dataPoints: samples.map((s) => {
          const key = seriesKey(s.labels);
          const start = created.get(key) ?? o.starts.startOf(`${name}\u0002${key}`, s.value, o.scrapeMs);
          return { attributes: labelValues(s.labels), startTimeUnixNano: msToNanos(start), timeUnixNano: sampleTime(s, o), asDouble: s.value };
        }),
      },
    }));
  }
  if (f.type === 'histogram') {
    return [
      {
        name: f.name,
        description: f.help,
        histogram: {
          aggregationTemporality: CUMULATIVE,
          dataPoints: groupSeries(f, 'le').map((h) => {
            const b = bucketsToOtlp(h.buckets, h.count);
            const start = o.starts.startOf(`${f.name}\u0002${seriesKey(h.labels)}`, b.count, o.scrapeMs);
            return {
              attributes: labelValues(h.labels),
              startTimeUnixNano: msToNanos(start),
              timeUnixNano: sampleTime(h, o),
              count: String(b.count),
              sum: h.sum,
              bucketCounts: b.bucketCounts.map(String),
              explicitBounds: b.explicitBounds,
            };
          }),
        },
      },
    ];
  }
  if (f.type === 'summary') {
    return [
      {
        name: f.name,
        description: f.help,
        summary: {
          dataPoints: groupSeries(f, 'quantile').map((h) => {
            const count = h.count ?? 0;
            const start = o.starts.startOf(`${f.name}\u0002${seriesKey(h.labels)}`, count, o.scrapeMs);
            return {
              attributes: labelValues(h.labels),
              startTimeUnixNano: msToNanos(start),
              timeUnixNano: sampleTime(h, o),
              count: String(count),
              sum: h.sum,
              quantileValues: h.quantiles.sort((a, b) => a.quantile - b.quantile),
            };
          }),
        },
      },
    ];
  }
  // gauge and untyped (an untyped family may hold several sample names: one metric each).
  const byName = new Map<string, Sample[]>();
  for (const s of f.samples) {
    let list = byName.get(s.name);
    if (!list) byName.set(s.name, (list = []));
    list.push(s);
  }
  return [...byName].map(([name, samples]) => ({
    name,
    description: f.help,
    gauge: { dataPoints: samples.map((s) => ({ attributes: labelValues(s.labels), timeUnixNano: sampleTime(s, o), asDouble: s.value })) },
  }));
}

export interface ScrapeHealth {
  up: boolean;
  durationMs: number;
  samples: number;
}

/** `vigil.scrape.up`, `.duration` and `.samples`: the target's health, reported with its metrics (as Prometheus' `up`). */
export function healthMetrics(h: ScrapeHealth, scrapeMs: number): Obj[] {
  const t = msToNanos(scrapeMs);
  const gauge = (name: string, unit: string, description: string, value: number) => ({ name, unit, description, gauge: { dataPoints: [{ timeUnixNano: t, asDouble: value }] } });
  return [
    gauge('vigil.scrape.up', '1', '1 when the last scrape of this target succeeded, 0 when it failed.', h.up ? 1 : 0),
    gauge('vigil.scrape.duration', 's', 'How long the last scrape took.', h.durationMs / 1000),
    gauge('vigil.scrape.samples', '{sample}', 'Samples the last scrape returned.', h.samples),
  ];
}

/** One ExportMetricsServiceRequest: one resource (the collector's attributes plus the target's), one scope. */
export function toMetricsRequest(families: Family[], resource: Attributes, scope: { name: string; version: string }, o: ConvertOptions, health?: ScrapeHealth): Obj {
  const metrics: Obj[] = [];
  for (const f of families) for (const m of familyToMetric(f, o)) metrics.push(m);
  if (health) for (const m of healthMetrics(health, o.scrapeMs)) metrics.push(m);
  return { resourceMetrics: [{ resource: { attributes: keyValues(resource) }, scopeMetrics: [{ scope, metrics }] }] };
}
