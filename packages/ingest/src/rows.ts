import { queryRows, withErrorFingerprint, type AlertTransition, type Exemplar, type LogEntry, type MetricPoint, type Storage } from '@vigil/platform';
import { EncodedRows, RowBinaryRows, encodeRowBinary, rowBinaryLayout, type RowBinaryLayout } from './rowbinary.js';

/**
 * Pure mapping from decoded OTLP records to rows of the OpenTelemetry ClickHouse exporter's
 * tables (DateTime64(9) values as Unix-nanosecond integers in strings).
 */

export const METRIC_TABLES = {
  gauge: 'otel_metrics_gauge',
  sum: 'otel_metrics_sum',
  histogram: 'otel_metrics_histogram',
  exponential_histogram: 'otel_metrics_exponential_histogram',
  summary: 'otel_metrics_summary',
} as const satisfies Record<MetricPoint['kind'], string>;

export type TableName = (typeof METRIC_TABLES)[keyof typeof METRIC_TABLES] | 'otel_logs' | 'vigil_alerts';

/**
 * Rows go to ClickHouse as JSONCompactEachRow: one array per row, in the column order below.
 * Building plain arrays (no object spreads) and leaving the keys out makes serialising and
 * parsing several times cheaper than JSONEachRow objects.
 */
const COMMON_COLUMNS = [
  'ResourceAttributes', 'ResourceSchemaUrl', 'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'ScopeDroppedAttrCount',
  'ScopeSchemaUrl', 'ServiceName', 'MetricName', 'MetricDescription', 'MetricUnit', 'Attributes', 'StartTimeUnix', 'TimeUnix',
] as const;
const EXEMPLAR_COLUMNS = ['Exemplars.FilteredAttributes', 'Exemplars.TimeUnix', 'Exemplars.Value', 'Exemplars.SpanId', 'Exemplars.TraceId'] as const;

export const COLUMNS: Record<MetricPoint['kind'], readonly string[]> = {
  gauge: [...COMMON_COLUMNS, 'Value', 'Flags', ...EXEMPLAR_COLUMNS],
  sum: [...COMMON_COLUMNS, 'Value', 'Flags', ...EXEMPLAR_COLUMNS, 'AggregationTemporality', 'IsMonotonic'],
  histogram: [...COMMON_COLUMNS, 'Count', 'Sum', 'BucketCounts', 'ExplicitBounds', ...EXEMPLAR_COLUMNS, 'Flags', 'Min', 'Max', 'AggregationTemporality'],
  exponential_histogram: [
    ...COMMON_COLUMNS, 'Count', 'Sum', 'Scale', 'ZeroCount', 'PositiveOffset', 'PositiveBucketCounts', 'NegativeOffset',
    'NegativeBucketCounts', ...EXEMPLAR_COLUMNS, 'Flags', 'Min', 'Max', 'AggregationTemporality',
  ],
  summary: [...COMMON_COLUMNS, 'Count', 'Sum', 'ValueAtQuantiles.Quantile', 'ValueAtQuantiles.Value', 'Flags'],
};

export const LOG_COLUMNS = [
  'Timestamp', 'TraceId', 'SpanId', 'TraceFlags', 'SeverityText', 'SeverityNumber', 'ServiceName', 'Body', 'ResourceSchemaUrl',
  'ResourceAttributes', 'ScopeSchemaUrl', 'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'LogAttributes', 'EventName',
] as const;

export const ALERT_COLUMNS = ['Fingerprint', 'Status', 'Severity', 'Rule', 'Labels', 'Annotations', 'StartsAt', 'EndsAt', 'EventTime', 'Value', 'WindowMs'] as const;

export type Row = unknown[];

/** The five exemplar columns of a point without exemplars (most): one shared, frozen value, not six arrays a point. */
const NO_EXEMPLARS: readonly unknown[] = Object.freeze([Object.freeze([]), Object.freeze([]), Object.freeze([]), Object.freeze([]), Object.freeze([])]);

function exemplars(ex: Exemplar[]): readonly unknown[] {
  if (ex.length === 0) return NO_EXEMPLARS;
  return [ex.map((e) => e.filteredAttributes), ex.map((e) => e.timeUnixNano), ex.map((e) => e.value), ex.map((e) => e.spanId), ex.map((e) => e.traceId)];
}

/** A data point as a row of its kind's table, in `COLUMNS[kind]` order. */
export function metricRow(p: MetricPoint): Row {
  const row: unknown[] = [
    p.resource.attributes, p.resource.schemaUrl, p.scope.name, p.scope.version, p.scope.attributes, p.scope.droppedAttributesCount,
    p.scope.schemaUrl, p.resource.serviceName, p.name, p.description, p.unit, p.attributes, p.startTimeUnixNano, p.timeUnixNano,
  ];
  switch (p.kind) {
    case 'gauge':
      row.push(p.value, p.flags, ...exemplars(p.exemplars));
      break;
    case 'sum':
      row.push(p.value, p.flags, ...exemplars(p.exemplars), p.temporality, p.monotonic);
      break;
    case 'histogram':
      row.push(p.count, p.sum, p.bucketCounts, p.explicitBounds, ...exemplars(p.exemplars), p.flags, p.min, p.max, p.temporality);
      break;
    case 'exponential_histogram':
      row.push(
        p.count, p.sum, p.scale, p.zeroCount, p.positiveOffset, p.positiveBucketCounts, p.negativeOffset, p.negativeBucketCounts,
        ...exemplars(p.exemplars), p.flags, p.min, p.max, p.temporality,
      );
      break;
    case 'summary':
      row.push(p.count, p.sum, p.quantiles.map((q) => q.quantile), p.quantiles.map((q) => q.value), p.flags);
      break;
  }
  return row;
}

/** A log record as a row of otel_logs, in `LOG_COLUMNS` order. */
export function logRow(e: LogEntry): Row {
  return [
    e.timeUnixNano, e.traceId, e.spanId, e.flags & 0xff, e.severityText, e.severityNumber, e.resource.serviceName, e.body,
    e.resource.schemaUrl, e.resource.attributes, e.scope.schemaUrl, e.scope.name, e.scope.version, e.scope.attributes,
    withErrorFingerprint(e.attributes, e.body), e.eventName,
  ];
}

/** A transition's row; `publishedAt` (the record's timestamp) dates a firing, endsAt dates a resolve. */
export function alertRow(a: AlertTransition, publishedAt: number): Row {
  const endsAt = a.endsAt ? Date.parse(a.endsAt) : 0;
  return [
    a.fingerprint,
    a.status,
    a.severity,
    a.rule,
    a.labels,
    a.annotations,
    Date.parse(a.startsAt),
    endsAt,
    a.status === 'resolved' && endsAt > 0 ? endsAt : publishedAt,
    Number.isFinite(a.value) ? a.value : 0,
    Math.max(0, Math.round(a.window)),
  ];
}

/** Column order of each table's rows. */
const TABLE_COLUMNS = new Map<TableName, readonly string[]>([
  ...(Object.keys(METRIC_TABLES) as MetricPoint['kind'][]).map((k) => [METRIC_TABLES[k], COLUMNS[k]] as const),
  ['otel_logs', LOG_COLUMNS],
  ['vigil_alerts', ALERT_COLUMNS],
]);

export function columnsOf(table: TableName): readonly string[] {
  return TABLE_COLUMNS.get(table)!;
}

/**
 * Groups rows by table, keeping their order, each with the record it came from (`O`). A table with
 * a RowBinary layout (`binaryLayouts`: the embedded engine) keeps its rows encoded as they come,
 * not as objects: a batch of 90,000 points held 300 MiB of objects until its insert.
 */
export class TableRows<O = unknown> {
  private readonly building = new Map<TableName, Row[] | RowBinaryRows>();
  readonly origins = new Map<TableName, O[]>();

  constructor(private readonly layouts: ReadonlyMap<TableName, RowBinaryLayout | undefined> = new Map()) {}

  /** Adds a row; throws (the row left out) when it is encoded at once and a value cannot be written. */
  add(table: TableName, row: Row, origin?: O): void {
    if (this.finished) throw new Error('TableRows: a row added after the rows were read');
    let rows = this.building.get(table);
    if (!rows) {
      const layout = this.layouts.get(table);
      this.building.set(table, (rows = layout ? new RowBinaryRows(layout) : []));
      this.origins.set(table, []);
    }
    if (Array.isArray(rows)) rows.push(row);
    else rows.add(row);
    this.origins.get(table)!.push(origin as O);
  }

  private finished: Map<TableName, readonly Row[] | EncodedRows> | undefined;

  /** Each table's rows, as objects or encoded; no row can be added after. */
  get byTable(): ReadonlyMap<TableName, readonly Row[] | EncodedRows> {
    if (!this.finished) {
      this.finished = new Map();
      for (const [table, rows] of this.building) this.finished.set(table, Array.isArray(rows) ? rows : rows.done());
    }
    return this.finished;
  }

  get size(): number {
    let n = 0;
    for (const rows of this.building.values()) n += rows.length;
    return n;
  }
}

/** Rows as JSONCompactEachRow text, one line each (what the client would send). */
export function encodeRows(rows: readonly Row[]): Buffer {
  let text = '';
  for (let i = 0; i < rows.length; i++) text += (i === 0 ? '' : '\n') + JSON.stringify(rows[i]);
  return Buffer.from(text);
}

/** Per storage, per table: its RowBinary layout from the engine's column types (undefined: a type the encoder does not write). */
const layouts = new WeakMap<Storage, Map<TableName, Promise<RowBinaryLayout | undefined>>>();

function binaryLayout(storage: Storage, table: TableName): Promise<RowBinaryLayout | undefined> {
  let byTable = layouts.get(storage);
  if (!byTable) layouts.set(storage, (byTable = new Map()));
  let layout = byTable.get(table);
  if (!layout) {
    layout = queryRows<{ name: string; type: string }>(storage, 'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {table:String}', { db: storage.database, table })
      .then((cols) => rowBinaryLayout(columnsOf(table), new Map(cols.map((c) => [c.name, c.type]))));
    // A failed lookup is asked again next time, not remembered.
    layout.catch(() => byTable.delete(table));
    byTable.set(table, layout);
  }
  return layout;
}

/**
 * The RowBinary layouts of these tables where the embedded engine takes rows as bytes (none for a
 * server, or for a table with a column type the encoder does not write): `TableRows` encodes those
 * tables' rows as they come.
 */
export async function binaryLayouts(storage: Storage, tables: readonly TableName[]): Promise<Map<TableName, RowBinaryLayout | undefined>> {
  if (!storage.insertEncoded) return new Map();
  return new Map(await Promise.all(tables.map(async (t) => [t, await binaryLayout(storage, t)] as const)));
}

/**
 * Writes rows of one table in the table's column order. The embedded engine takes them as
 * RowBinary (half its CPU per row of JSON: the engine parses no text) when every column's type has
 * a writer, else as JSONCompactEachRow handed to its parser; a server gets JSONCompactEachRow
 * through the client.
 */
export async function insertRows(storage: Storage, table: TableName, rows: readonly Row[] | EncodedRows, settings: Record<string, string | number> = {}): Promise<void> {
  if (rows instanceof EncodedRows) {
    if (!storage.insertEncoded) throw new Error(`rows of ${table} encoded for the embedded engine cannot go to a server`);
    if (rows.length === 0) return;
    await storage.insertEncoded({ table: storage.table(table), columns: rows.columns, format: 'RowBinaryWithNamesAndTypes', body: rows.bytes(), settings });
    return;
  }
  if (storage.insertEncoded) {
    if (rows.length === 0) return;
    const layout = await binaryLayout(storage, table);
    if (layout) {
      await storage.insertEncoded({ table: storage.table(table), columns: layout.columns, format: 'RowBinaryWithNamesAndTypes', body: encodeRowBinary(layout, rows), settings });
      return;
    }
    await storage.insertEncoded({ table: storage.table(table), columns: columnsOf(table), format: 'JSONCompactEachRow', body: encodeRows(rows), settings });
    return;
  }
  await storage.client.insert({
    table: storage.table(table),
    values: rows as Row[],
    columns: [...columnsOf(table)] as [string, ...string[]],
    format: 'JSONCompactEachRow',
    clickhouse_settings: settings,
  });
}
