import type { AlertTransition, Exemplar, LogEntry, MetricPoint } from '@vigil/platform';

/**
 * Pure mapping from decoded OTLP records to rows of the OpenTelemetry ClickHouse exporter's
 * tables (JSONEachRow; DateTime64(9) values as Unix-nanosecond integers in strings).
 */
export type Row = Record<string, unknown>;

export const METRIC_TABLES = {
  gauge: 'otel_metrics_gauge',
  sum: 'otel_metrics_sum',
  histogram: 'otel_metrics_histogram',
  exponential_histogram: 'otel_metrics_exponential_histogram',
  summary: 'otel_metrics_summary',
} as const satisfies Record<MetricPoint['kind'], string>;

export type TableName = (typeof METRIC_TABLES)[keyof typeof METRIC_TABLES] | 'otel_logs' | 'vigil_alerts';

function exemplarColumns(ex: Exemplar[]): Row {
  return {
    'Exemplars.FilteredAttributes': ex.map((e) => e.filteredAttributes),
    'Exemplars.TimeUnix': ex.map((e) => e.timeUnixNano),
    'Exemplars.Value': ex.map((e) => e.value),
    'Exemplars.SpanId': ex.map((e) => e.spanId),
    'Exemplars.TraceId': ex.map((e) => e.traceId),
  };
}

export function metricRow(p: MetricPoint): Row {
  const base: Row = {
    ResourceAttributes: p.resource.attributes,
    ResourceSchemaUrl: p.resource.schemaUrl,
    ScopeName: p.scope.name,
    ScopeVersion: p.scope.version,
    ScopeAttributes: p.scope.attributes,
    ScopeDroppedAttrCount: p.scope.droppedAttributesCount,
    ScopeSchemaUrl: p.scope.schemaUrl,
    ServiceName: p.resource.serviceName,
    MetricName: p.name,
    MetricDescription: p.description,
    MetricUnit: p.unit,
    Attributes: p.attributes,
    StartTimeUnix: p.startTimeUnixNano,
    TimeUnix: p.timeUnixNano,
  };
  switch (p.kind) {
    case 'gauge':
      return { ...base, Value: p.value, Flags: p.flags, ...exemplarColumns(p.exemplars) };
    case 'sum':
      return { ...base, Value: p.value, Flags: p.flags, ...exemplarColumns(p.exemplars), AggregationTemporality: p.temporality, IsMonotonic: p.monotonic };
    case 'histogram':
      return {
        ...base,
        Count: p.count,
        Sum: p.sum,
        BucketCounts: p.bucketCounts,
        ExplicitBounds: p.explicitBounds,
        ...exemplarColumns(p.exemplars),
        Flags: p.flags,
        Min: p.min,
        Max: p.max,
        AggregationTemporality: p.temporality,
      };
    case 'exponential_histogram':
      return {
        ...base,
        Count: p.count,
        Sum: p.sum,
        Scale: p.scale,
        ZeroCount: p.zeroCount,
        PositiveOffset: p.positiveOffset,
        PositiveBucketCounts: p.positiveBucketCounts,
        NegativeOffset: p.negativeOffset,
        NegativeBucketCounts: p.negativeBucketCounts,
        ...exemplarColumns(p.exemplars),
        Flags: p.flags,
        Min: p.min,
        Max: p.max,
        AggregationTemporality: p.temporality,
      };
    case 'summary':
      return {
        ...base,
        Count: p.count,
        Sum: p.sum,
        'ValueAtQuantiles.Quantile': p.quantiles.map((q) => q.quantile),
        'ValueAtQuantiles.Value': p.quantiles.map((q) => q.value),
        Flags: p.flags,
      };
  }
}

export function logRow(e: LogEntry): Row {
  return {
    Timestamp: e.timeUnixNano,
    TraceId: e.traceId,
    SpanId: e.spanId,
    TraceFlags: e.flags & 0xff,
    SeverityText: e.severityText,
    SeverityNumber: e.severityNumber,
    ServiceName: e.resource.serviceName,
    Body: e.body,
    ResourceSchemaUrl: e.resource.schemaUrl,
    ResourceAttributes: e.resource.attributes,
    ScopeSchemaUrl: e.scope.schemaUrl,
    ScopeName: e.scope.name,
    ScopeVersion: e.scope.version,
    ScopeAttributes: e.scope.attributes,
    LogAttributes: e.attributes,
    EventName: e.eventName,
  };
}

/** A transition's row; `publishedAt` (the record's timestamp) dates a firing, endsAt dates a resolve. */
export function alertRow(a: AlertTransition, publishedAt: number): Row {
  const endsAt = a.endsAt ? Date.parse(a.endsAt) : 0;
  return {
    Fingerprint: a.fingerprint,
    Status: a.status,
    Severity: a.severity,
    Rule: a.rule,
    Labels: a.labels,
    Annotations: a.annotations,
    StartsAt: Date.parse(a.startsAt),
    EndsAt: endsAt,
    EventTime: a.status === 'resolved' && endsAt > 0 ? endsAt : publishedAt,
    Value: Number.isFinite(a.value) ? a.value : 0,
    WindowMs: Math.max(0, Math.round(a.window)),
  };
}

/** Groups rows by table, keeping their order. */
export class TableRows {
  readonly byTable = new Map<TableName, Row[]>();

  add(table: TableName, row: Row): void {
    const rows = this.byTable.get(table);
    if (rows) rows.push(row);
    else this.byTable.set(table, [row]);
  }

  get size(): number {
    let n = 0;
    for (const rows of this.byTable.values()) n += rows.length;
    return n;
  }
}
