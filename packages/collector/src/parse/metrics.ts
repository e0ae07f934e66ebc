import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import type { MetricKind, MetricUpdate } from './types.js';

/**
 * Metrics that rules derive from log lines (MISSION C: per-entity bytes, connections, errors,
 * last activity), folded in memory and read out as OpenTelemetry observable instruments each
 * collection interval. The aggregator is pure; `registerParsedMetrics` is the seam to a meter.
 */

export interface MetricSeries {
  attributes: Attributes;
  value: number;
  /** Time of the latest update, ms since the epoch. */
  timestamp: number;
}

export interface MetricSnapshot {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  series: MetricSeries[];
}

interface MetricState {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  series: Map<string, MetricSeries>;
}

export interface MetricAggregatorOptions {
  /** Series kept per metric; updates for new series beyond it are dropped and counted, so a high-cardinality attribute cannot exhaust memory. */
  maxSeriesPerMetric?: number;
}

/** The key of a series: its attributes in key order, as text. */
function seriesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const k of keys) key += `${k}\u0001${String(attributes[k])}\u0002`;
  return key;
}

export class MetricAggregator {
  private readonly metrics = new Map<string, MetricState>();
  private readonly listeners: ((name: string) => void)[] = [];
  private readonly maxSeries: number;
  /** Updates dropped: a new series beyond the limit, or a kind that contradicts the metric's first kind. */
  dropped = 0;

  constructor(options: MetricAggregatorOptions = {}) {
    this.maxSeries = options.maxSeriesPerMetric ?? 10_000;
  }

  update(u: MetricUpdate): void {
    let state = this.metrics.get(u.name);
    if (!state) {
      state = { name: u.name, kind: u.kind, unit: u.unit, description: u.description, series: new Map() };
      this.metrics.set(u.name, state);
      for (const l of this.listeners) l(u.name);
    } else if (state.kind !== u.kind) {
      this.dropped++;
      return;
    }
    // Counters only go up: a negative increment would make the exported sum lie.
    if (u.kind === 'sum' && u.value < 0) {
      this.dropped++;
      return;
    }
    const key = seriesKey(u.attributes);
    const series = state.series.get(key);
    if (!series) {
      if (state.series.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      state.series.set(key, { attributes: u.attributes, value: u.value, timestamp: u.timestamp });
      return;
    }
    if (u.kind === 'sum') series.value += u.value;
    else if (u.kind === 'last') {
      // Lines can arrive out of order (two streams, a replayed file): the latest time wins.
      if (u.timestamp < series.timestamp) return;
      series.value = u.value;
    } else series.value = u.value;
    if (u.timestamp > series.timestamp) series.timestamp = u.timestamp;
  }

  updateAll(updates: readonly MetricUpdate[]): void {
    for (const u of updates) this.update(u);
  }

  /** Metric names seen so far. */
  names(): string[] {
    return [...this.metrics.keys()];
  }

  /** Calls `listener` with each metric name when its first update arrives. */
  onNewMetric(listener: (name: string) => void): void {
    this.listeners.push(listener);
  }

  get(name: string): MetricSnapshot | undefined {
    const s = this.metrics.get(name);
    if (!s) return undefined;
    return { name: s.name, kind: s.kind, unit: s.unit, description: s.description, series: [...s.series.values()].map((x) => ({ attributes: x.attributes, value: x.value, timestamp: x.timestamp })) };
  }

  snapshot(): MetricSnapshot[] {
    const out: MetricSnapshot[] = [];
    for (const name of this.metrics.keys()) out.push(this.get(name)!);
    return out;
  }

  /** Reports one metric's series to an observable's callback. */
  observe(name: string, result: ObservableResult): void {
    const s = this.metrics.get(name);
    if (!s) return;
    for (const series of s.series.values()) result.observe(series.value, series.attributes);
  }
}

/**
 * Exposes the aggregator's metrics on a meter (a plugin's `ctx.meter`): sums as observable
 * counters, gauges and `last` as observable gauges, one instrument per metric, created as each
 * metric first appears. Returns a function that stops observing.
 */
export function registerParsedMetrics(meter: Meter, aggregator: MetricAggregator): () => void {
  const created = new Set<string>();
  let active = true;
  const register = (name: string) => {
    if (created.has(name)) return;
    created.add(name);
    const s = aggregator.get(name);
    if (!s) return;
    const options = { description: s.description || `From log lines: ${name}`, unit: s.unit };
    const instrument = s.kind === 'sum' ? meter.createObservableCounter(name, options) : meter.createObservableGauge(name, options);
    instrument.addCallback((result) => {
      if (active) aggregator.observe(name, result);
    });
  };
  for (const name of aggregator.names()) register(name);
  aggregator.onNewMetric(register);
  return () => {
    active = false;
  };
}
