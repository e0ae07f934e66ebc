import type { Storage } from './clickhouse.js';
import { queryRows } from './clickhouse.js';
import { logger } from '../log.js';

/**
 * Versioned schema. The otel_* tables keep the OpenTelemetry Collector ClickHouse exporter's
 * column names and types, so Grafana's ClickHouse data source and existing SQL work on them.
 * Two deliberate differences: `non_replicated_deduplication_window`, so that ingest's
 * per-batch deduplication tokens make a replayed batch a no-op, and the TTL, which comes from
 * `clickhouse.retention`.
 *
 * Migrations only ever append; a released one is never edited.
 */
export interface Migration {
  version: number;
  name: string;
  statements: (ctx: { db: string; ttlSeconds: number }) => string[];
}

const DEDUP = 'non_replicated_deduplication_window = 10000';

const resourceScope = `
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),`;

const exemplars = `
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),`;

const attrIndexes = `
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1`;

const metricTable = (db: string, name: string, columns: string, ttl: number) => `
CREATE TABLE IF NOT EXISTS ${db}.${name} (${resourceScope}${columns}
${attrIndexes}
) ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalSecond(${ttl})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, ${DEDUP}`;

/** Tables whose TTL follows `clickhouse.retention`, with the column it is computed from. */
export const RETAINED_TABLES: Record<string, string> = {
  otel_logs: 'TimestampTime',
  otel_metrics_gauge: 'toDateTime(TimeUnix)',
  otel_metrics_sum: 'toDateTime(TimeUnix)',
  otel_metrics_histogram: 'toDateTime(TimeUnix)',
  otel_metrics_exponential_histogram: 'toDateTime(TimeUnix)',
  otel_metrics_summary: 'toDateTime(TimeUnix)',
  vigil_alerts: 'toDateTime(EventTime)',
  vigil_deliveries: 'toDateTime(Time)',
  vigil_notifier_inbox: 'toDateTime(PublishedAt)',
  vigil_silences: 'toDateTime(EndsAt)',
};

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'OpenTelemetry logs and metrics tables',
    statements: ({ db, ttlSeconds: ttl }) => [
      `
CREATE TABLE IF NOT EXISTS ${db}.otel_logs (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
TTL TimestampTime + toIntervalSecond(${ttl})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, ${DEDUP}`,
      metricTable(db, 'otel_metrics_gauge', `
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${exemplars}`, ttl),
      metricTable(db, 'otel_metrics_sum', `
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${exemplars}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),`, ttl),
      metricTable(db, 'otel_metrics_histogram', `
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),${exemplars}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),`, ttl),
      metricTable(db, 'otel_metrics_exponential_histogram', `
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),${exemplars}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),`, ttl),
      metricTable(db, 'otel_metrics_summary', `
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested(
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),`, ttl),
    ],
  },
  {
    version: 2,
    name: 'Vigil alerts, deliveries and the ingest ledger',
    statements: ({ db, ttlSeconds: ttl }) => [
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_alerts (
    Fingerprint String,
    Status LowCardinality(String),
    Severity LowCardinality(String),
    Rule LowCardinality(String),
    Labels Map(LowCardinality(String), String),
    Annotations Map(LowCardinality(String), String),
    StartsAt DateTime64(3),
    EndsAt DateTime64(3),
    EventTime DateTime64(3),
    Value Float64,
    WindowMs UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(EventTime)
ORDER BY (Fingerprint, StartsAt, Status, Severity)
TTL toDateTime(EventTime) + toIntervalSecond(${ttl})
SETTINGS ${DEDUP}`,
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_deliveries (
    DeliveryKey String,
    Channel LowCardinality(String),
    Fingerprint String,
    Transition LowCardinality(String),
    Severity LowCardinality(String),
    Rule LowCardinality(String),
    Status LowCardinality(String),
    Attempts UInt32,
    Error String,
    Time DateTime64(3)
) ENGINE = ReplacingMergeTree(Time)
PARTITION BY toYYYYMM(Time)
ORDER BY (DeliveryKey, Channel)
TTL toDateTime(Time) + toIntervalSecond(${ttl})`,
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_ingest_ledger (
    Topic LowCardinality(String),
    Partition UInt32,
    FirstOffset UInt64,
    LastOffset UInt64,
    Time DateTime64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (Topic, Partition, FirstOffset)
TTL toDateTime(Time) + INTERVAL 7 DAY`,
    ],
  },
  {
    version: 3,
    name: 'Notifier: inbox of alert transitions, grouped deliveries in the ledger, silences',
    statements: ({ db, ttlSeconds: ttl }) => [
      // Every transition the notifier took from vigil.alerts, written before its offset is committed:
      // what the dispatcher is rebuilt from after a restart. One row per transition however often
      // replayed; PublishedAt is the record's Kafka timestamp, the same on every replay, so the
      // latest transition of an alert is the one published last.
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_notifier_inbox (
    Fingerprint String,
    TransitionKey String,
    Status LowCardinality(String),
    Severity LowCardinality(String),
    StartsAt DateTime64(3),
    Alert String CODEC(ZSTD(1)),
    PublishedAt DateTime64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(PublishedAt)
ORDER BY (Fingerprint, TransitionKey)
TTL toDateTime(PublishedAt) + toIntervalSecond(${ttl})
SETTINGS ${DEDUP}`,
      // The ledger now records notifications (a group of transitions for a receiver) per channel.
      `ALTER TABLE ${db}.vigil_deliveries ADD COLUMN IF NOT EXISTS Receiver LowCardinality(String) DEFAULT ''`,
      `ALTER TABLE ${db}.vigil_deliveries ADD COLUMN IF NOT EXISTS GroupKey String DEFAULT ''`,
      `ALTER TABLE ${db}.vigil_deliveries ADD COLUMN IF NOT EXISTS Alerts Array(String) DEFAULT []`,
      `ALTER TABLE ${db}.vigil_deliveries ADD COLUMN IF NOT EXISTS ProviderId String DEFAULT ''`,
      `ALTER TABLE ${db}.vigil_deliveries ADD COLUMN IF NOT EXISTS Kind LowCardinality(String) DEFAULT ''`,
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_silences (
    Id String,
    Silence String,
    StartsAt DateTime64(3),
    EndsAt DateTime64(3),
    Deleted UInt8,
    UpdatedAt DateTime64(3)
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY Id
TTL toDateTime(EndsAt) + toIntervalSecond(${ttl})`,
    ],
  },
  {
    version: 4,
    name: 'Notifier: dispatcher snapshots (groups and what each has notified)',
    statements: ({ db }) => [
      // Saved before each flush, so a restart knows which alerts each group notified (their
      // resolves are owed) and when; the ledger decides what was actually delivered.
      `
CREATE TABLE IF NOT EXISTS ${db}.vigil_notifier_state (
    GroupId String,
    State String CODEC(ZSTD(3)),
    Time DateTime64(3)
) ENGINE = ReplacingMergeTree(Time)
ORDER BY GroupId
TTL toDateTime(Time) + INTERVAL 30 DAY`,
    ],
  },
  {
    version: 5,
    name: 'Notifier inbox per consumer group',
    statements: ({ db }) => [
      // Two notifier deployments (consumer groups) on one ClickHouse each rebuild from their own transitions.
      `ALTER TABLE ${db}.vigil_notifier_inbox ADD COLUMN IF NOT EXISTS GroupId String, MODIFY ORDER BY (Fingerprint, TransitionKey, GroupId)`,
    ],
  },
  {
    version: 6,
    name: 'Ingest ledger: the timestamp of a range\'s first record',
    statements: ({ db }) => [
      // Offsets start again at 0 when a topic is recreated (or a local bus log is lost): a range is
      // the same range only if its first record has the same timestamp too, so tokens of an earlier
      // incarnation never make new records look like duplicates.
      `ALTER TABLE ${db}.vigil_ingest_ledger ADD COLUMN IF NOT EXISTS FirstTimestamp Int64 DEFAULT 0`,
    ],
  },
  {
    version: 7,
    name: 'Rollups: per-minute and per-hour aggregates of gauges, sums and log counts',
    statements: ({ db }) => rollupStatements(db),
  },
  {
    version: 8,
    name: 'Sources: per-minute last-seen, identity and record counts of every host and client',
    statements: ({ db }) => sourceStatements(db),
  },
  {
    version: 9,
    name: 'Latest value of every gauge and sum series',
    statements: ({ db }) => latestStatements(db),
  },
];

/**
 * The newest value of every series (gauges and sums, by host, service, name and attributes):
 * what "now" panels and the health report read, one row per series after merges, however long
 * the history. A series not seen for 8 days leaves it.
 */
export const LATEST_TABLE = 'vigil_metrics_latest';

function latestStatements(db: string): string[] {
  const out = [
    `
CREATE TABLE IF NOT EXISTS ${db}.${LATEST_TABLE} (
    MetricName LowCardinality(String),
    Host LowCardinality(String),
    ServiceName LowCardinality(String),
    Kind LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    LastSeen SimpleAggregateFunction(max, DateTime64(9)),
    Last AggregateFunction(argMax, Float64, DateTime64(9))
) ENGINE = AggregatingMergeTree
ORDER BY (MetricName, Host, ServiceName, Kind, Attributes)
TTL toDateTime(LastSeen) + INTERVAL 8 DAY`,
  ];
  for (const [kind, source] of [['gauge', 'otel_metrics_gauge'], ['sum', 'otel_metrics_sum']] as const) {
    const select = (where: string) => `
SELECT MetricName, ResourceAttributes['host.name'] AS Host, ServiceName, '${kind}' AS Kind, mapSort(Attributes) AS Attributes,
    max(TimeUnix) AS LastSeen, argMaxState(Value, TimeUnix) AS Last
FROM ${db}.${source}${where}
GROUP BY MetricName, Host, ServiceName, Attributes`;
    out.push(`INSERT INTO ${db}.${LATEST_TABLE} ${select(` WHERE TimeUnix < ${BACKFILL_BEFORE} AND TimeUnix >= now() - INTERVAL 8 DAY`)}`);
    out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${LATEST_TABLE}_${kind}_mv TO ${db}.${LATEST_TABLE} AS ${select('')}`);
  }
  return out;
}

/**
 * Who reports, per minute: hosts (by host.name, from metrics and logs) and clients (by their
 * stable id, from logs), with their newest identity (host.id, OS, version), when they were last
 * seen, and their record and error counts. The console's host and client lists read thousands of
 * rows here instead of scanning a day of raw points for identity. An id or OS that a record lacks
 * never blanks a known one (argMaxIf: the newest non-empty value).
 */
export const SOURCES_TABLE = 'vigil_sources_1m';
/** A client's id: service.instance.id, else host.id, else host.name (the query API's clients). */
export const CLIENT_ID_EXPR = `multiIf(ResourceAttributes['service.instance.id'] != '', ResourceAttributes['service.instance.id'],
  ResourceAttributes['host.id'] != '', ResourceAttributes['host.id'], ResourceAttributes['host.name'])`;
/** A log record's severity number, from its text when it has no number (as the events API ranks them). */
export const LOG_SEVERITY_EXPR = `if(SeverityNumber > 0, SeverityNumber,
  transform(upper(SeverityText), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'], [1, 5, 9, 13, 13, 17, 21, 21], 0))`;

function sourceStatements(db: string): string[] {
  const latest = (name: string) => `${name} AggregateFunction(argMaxIf, String, DateTime64(9), UInt8)`;
  const out = [
    `
CREATE TABLE IF NOT EXISTS ${db}.${SOURCES_TABLE} (
    Bucket DateTime,
    Host LowCardinality(String),
    Client String,
    ServiceName LowCardinality(String),
    Signal LowCardinality(String),
    LastSeen SimpleAggregateFunction(max, DateTime64(9)),
    ${latest('HostId')},
    ${latest('OsType')},
    ${latest('OsDescription')},
    ${latest('Version')},
    LastEvent AggregateFunction(argMax, String, DateTime64(9)),
    Records SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Bucket)
ORDER BY (Bucket, Host, Client, ServiceName, Signal)
TTL Bucket + INTERVAL 8 DAY`,
  ];
  const state = (expr: string, time: string) => `argMaxIfState(${expr}, ${time}, ${expr} != '')`;
  const identity = (time: string, version: string) =>
    `${state("ResourceAttributes['host.id']", time)} AS HostId, ${state("ResourceAttributes['os.type']", time)} AS OsType,
    ${state("ResourceAttributes['os.description']", time)} AS OsDescription, ${state(version, time)} AS Version`;
  const metrics = (source: string, where: string) => `
SELECT toStartOfMinute(TimeUnix) AS Bucket, ResourceAttributes['host.name'] AS Host, '' AS Client, ServiceName, 'metrics' AS Signal,
    max(TimeUnix) AS LastSeen, ${identity('TimeUnix', "ResourceAttributes['service.version']")},
    argMaxState('', TimeUnix) AS LastEvent, count() AS Records, toUInt64(0) AS Errors
FROM ${db}.${source}${where}
GROUP BY Bucket, Host, ServiceName`;
  const logs = (where: string) => `
SELECT toStartOfMinute(Timestamp) AS Bucket, ResourceAttributes['host.name'] AS Host, ${CLIENT_ID_EXPR} AS Client, ServiceName, 'logs' AS Signal,
    max(Timestamp) AS LastSeen,
    ${identity('Timestamp', "if(ResourceAttributes['service.version'] != '', ResourceAttributes['service.version'], LogAttributes['app.version'])")},
    argMaxState(if(EventName != '', EventName, substring(Body, 1, 120)), Timestamp) AS LastEvent,
    count() AS Records, countIf(${LOG_SEVERITY_EXPR} >= 17) AS Errors
FROM ${db}.otel_logs${where}
GROUP BY Bucket, Host, Client, ServiceName`;
  // As the rollups of migration 7: what was stored before is aggregated once, the views take what comes.
  for (const source of ['otel_metrics_gauge', 'otel_metrics_sum']) {
    out.push(`INSERT INTO ${db}.${SOURCES_TABLE} ${metrics(source, ` WHERE TimeUnix < ${BACKFILL_BEFORE} AND TimeUnix >= now() - INTERVAL 8 DAY`)}`);
    out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${SOURCES_TABLE}_${source.replace('otel_metrics_', '')}_mv TO ${db}.${SOURCES_TABLE} AS ${metrics(source, '')}`);
  }
  out.push(`INSERT INTO ${db}.${SOURCES_TABLE} ${logs(` WHERE TimestampTime < ${BACKFILL_BEFORE} AND TimestampTime >= now() - INTERVAL 8 DAY`)}`);
  out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${SOURCES_TABLE}_logs_mv TO ${db}.${SOURCES_TABLE} AS ${logs('')}`);
  return out;
}

/**
 * Per-minute and per-hour aggregates, kept by materialized views as rows are inserted, so series
 * and summaries over days read thousands of rows instead of millions. Their TTLs are their own:
 * minutes for 8 days (the console's longest range at minute resolution), hours for 400 days.
 * Gauges and sums share one table (Kind says which); log counts are by host, service, severity
 * and error fingerprint. Attributes are sorted, so one set written in two key orders is one series.
 */
export const ROLLUPS = [
  { table: 'vigil_metrics_1m', bucket: 'toStartOfMinute', ttl: 'INTERVAL 8 DAY' },
  { table: 'vigil_metrics_1h', bucket: 'toStartOfHour', ttl: 'INTERVAL 400 DAY' },
] as const;
export const LOG_ROLLUPS = [
  { table: 'vigil_log_counts_1m', bucket: 'toStartOfMinute', ttl: 'INTERVAL 8 DAY' },
  { table: 'vigil_log_counts_1h', bucket: 'toStartOfHour', ttl: 'INTERVAL 400 DAY' },
] as const;

/**
 * The backfill takes rows stored before the views existed: everything before the migration ran.
 * A row written by another process (distributed ingest) between the backfill and the view, dated
 * before it, is missed by the rollup (the raw table keeps it); run migrations before ingest.
 */
const BACKFILL_BEFORE = 'now()';

function rollupStatements(db: string): string[] {
  const out: string[] = [];
  for (const r of ROLLUPS) {
    out.push(`
CREATE TABLE IF NOT EXISTS ${db}.${r.table} (
    Host LowCardinality(String),
    ServiceName LowCardinality(String),
    MetricName LowCardinality(String),
    Kind LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    Bucket DateTime,
    Count SimpleAggregateFunction(sum, UInt64),
    Sum SimpleAggregateFunction(sum, Float64),
    Min SimpleAggregateFunction(min, Float64),
    Max SimpleAggregateFunction(max, Float64),
    First AggregateFunction(argMin, Float64, DateTime64(9)),
    Last AggregateFunction(argMax, Float64, DateTime64(9))
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Bucket)
ORDER BY (MetricName, Host, Bucket, ServiceName, Kind, Attributes)
TTL Bucket + ${r.ttl}`);
    for (const [kind, source] of [['gauge', 'otel_metrics_gauge'], ['sum', 'otel_metrics_sum']] as const) {
      const select = (where: string) => `
SELECT ResourceAttributes['host.name'] AS Host, ServiceName, MetricName, '${kind}' AS Kind, mapSort(Attributes) AS Attributes,
    ${r.bucket}(TimeUnix) AS Bucket, count() AS Count, sum(Value) AS Sum, min(Value) AS Min, max(Value) AS Max,
    argMinState(Value, TimeUnix) AS First, argMaxState(Value, TimeUnix) AS Last
FROM ${db}.${source}${where}
GROUP BY Host, ServiceName, MetricName, Attributes, Bucket`;
      // The view counts what is inserted from now on; what was stored before is aggregated once.
      out.push(`INSERT INTO ${db}.${r.table} ${select(` WHERE TimeUnix < ${BACKFILL_BEFORE}`)}`);
      out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${r.table}_${kind}_mv TO ${db}.${r.table} AS ${select('')}`);
    }
  }
  for (const r of LOG_ROLLUPS) {
    out.push(`
CREATE TABLE IF NOT EXISTS ${db}.${r.table} (
    Host LowCardinality(String),
    ServiceName LowCardinality(String),
    SeverityNumber UInt8,
    Fingerprint String,
    Bucket DateTime,
    Count UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(Bucket)
ORDER BY (Bucket, Host, ServiceName, SeverityNumber, Fingerprint)
TTL Bucket + ${r.ttl}`);
    // Records with only a SeverityText are counted by the number of their text, as the events API ranks them.
    const select = (where: string) => `
SELECT ResourceAttributes['host.name'] AS Host, ServiceName,
    toUInt8(if(SeverityNumber > 0, SeverityNumber, transform(upper(SeverityText), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'], [1, 5, 9, 13, 13, 17, 21, 21], 0))) AS SeverityNumber,
    LogAttributes['vigil.error.fingerprint'] AS Fingerprint, ${r.bucket}(TimestampTime) AS Bucket, count() AS Count
FROM ${db}.otel_logs${where}
GROUP BY Host, ServiceName, SeverityNumber, Fingerprint, Bucket`;
    out.push(`INSERT INTO ${db}.${r.table} ${select(` WHERE TimestampTime < ${BACKFILL_BEFORE}`)}`);
    out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${r.table}_mv TO ${db}.${r.table} AS ${select('')}`);
  }
  return out;
}

const log = logger('storage.migrations');

/** Creates the database and applies pending migrations; then makes TTLs match the configured retention. */
export async function migrate(storage: Storage, retentionMs: number, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  const db = storage.database;
  const ttlSeconds = Math.max(1, Math.round(retentionMs / 1000));
  await storage.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await storage.client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.vigil_schema_migrations (Version UInt32, Name String, AppliedAt DateTime64(3)) ENGINE = MergeTree ORDER BY Version`,
  });
  const done = new Set(
    (await queryRows<{ Version: number | string }>(storage, `SELECT Version FROM ${db}.vigil_schema_migrations`)).map((r) => Number(r.Version)),
  );
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements({ db, ttlSeconds })) await storage.client.command({ query: statement });
    await storage.client.insert({
      table: `${db}.vigil_schema_migrations`,
      values: [{ Version: m.version, Name: m.name, AppliedAt: Date.now() }],
      format: 'JSONEachRow',
    });
    log.info({ version: m.version, name: m.name }, 'applied migration');
    applied.push(m.version);
  }
  await alignRetention(storage, ttlSeconds);
  return applied;
}

/** A changed `clickhouse.retention` takes effect on the next start. */
async function alignRetention(storage: Storage, ttlSeconds: number): Promise<void> {
  const rows = await queryRows<{ name: string; engine_full: string }>(
    storage,
    'SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}',
    { db: storage.database, names: Object.keys(RETAINED_TABLES) },
  );
  for (const row of rows) {
    if (row.engine_full.includes(`toIntervalSecond(${ttlSeconds})`)) continue;
    const column = RETAINED_TABLES[row.name]!;
    await storage.client.command({
      query: `ALTER TABLE ${storage.database}.${row.name} MODIFY TTL ${column} + toIntervalSecond(${ttlSeconds})`,
    });
    log.info({ table: row.name, ttlSeconds }, 'retention changed');
  }
}
