import type { Storage } from './clickhouse.js';
import { queryRows } from './clickhouse.js';
import { schemaLayout, type SchemaLayout, type TableSpec } from './layout.js';
import { logger } from '../log.js';

/**
 * Versioned schema. The otel_* tables keep the OpenTelemetry Collector ClickHouse exporter's
 * column names and types, so Grafana's ClickHouse data source and existing SQL work on them.
 * Two deliberate differences: `non_replicated_deduplication_window`, so that ingest's
 * per-batch deduplication tokens make a replayed batch a no-op, and the TTL, which comes from
 * `clickhouse.retention`.
 *
 * Migrations only ever append; a released one is never edited. Every statement is written through
 * the layout (layout.ts), so one migration gives a single node's DDL and a cluster's (`ON CLUSTER`,
 * `Replicated*` local tables under `Distributed` ones); on a single node its text is what it was
 * before clusters existed.
 */
export interface Migration {
  version: number;
  name: string;
  statements: (ctx: { db: string; ttlSeconds: number; layout: SchemaLayout }) => string[];
}

/**
 * Raw OpenTelemetry rows go to the shard of their host and service: every rollup, source and
 * latest-value key holds Host and ServiceName, so the rows a view aggregates into one key are on
 * one node and its merges see all of them. Deterministic, so a replay lands where the first try did.
 */
const OTEL_SHARD = "cityHash64(ResourceAttributes['host.name'], ServiceName)";
/** The rollups' own rows (backfills) follow the raw rows they come from. */
const ROLLUP_SHARD = 'cityHash64(Host, ServiceName)';

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

const metricTable = (layout: SchemaLayout, name: string, columns: string, ttl: number) =>
  layout.createTable(name, {
    columns: `${resourceScope}${columns}
${attrIndexes}`,
    engine: 'MergeTree',
    keys: `PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalSecond(${ttl})`,
    settings: 'index_granularity = 8192, ttl_only_drop_parts = 1',
    dedup: true,
    shardBy: OTEL_SHARD,
  });

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
    statements: ({ layout, ttlSeconds: ttl }) => [
      ...layout.createTable('otel_logs', {
        columns: `
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
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8`,
        engine: 'MergeTree',
        keys: `PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
TTL TimestampTime + toIntervalSecond(${ttl})`,
        settings: 'index_granularity = 8192, ttl_only_drop_parts = 1',
        dedup: true,
        shardBy: OTEL_SHARD,
      }),
      ...metricTable(layout, 'otel_metrics_gauge', `
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${exemplars}`, ttl),
      ...metricTable(layout, 'otel_metrics_sum', `
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${exemplars}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),`, ttl),
      ...metricTable(layout, 'otel_metrics_histogram', `
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),${exemplars}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),`, ttl),
      ...metricTable(layout, 'otel_metrics_exponential_histogram', `
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
      ...metricTable(layout, 'otel_metrics_summary', `
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
    statements: ({ layout, ttlSeconds: ttl }) => [
      ...layout.createTable('vigil_alerts', {
        columns: `
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
    WindowMs UInt64`,
        engine: 'ReplacingMergeTree',
        keys: `PARTITION BY toYYYYMM(EventTime)
ORDER BY (Fingerprint, StartsAt, Status, Severity)
TTL toDateTime(EventTime) + toIntervalSecond(${ttl})`,
        dedup: true,
        // Rows of one alert meet on one shard, where ReplacingMergeTree collapses them.
        shardBy: 'cityHash64(Fingerprint)',
      }),
      ...layout.createTable('vigil_deliveries', {
        columns: `
    DeliveryKey String,
    Channel LowCardinality(String),
    Fingerprint String,
    Transition LowCardinality(String),
    Severity LowCardinality(String),
    Rule LowCardinality(String),
    Status LowCardinality(String),
    Attempts UInt32,
    Error String,
    Time DateTime64(3)`,
        engine: 'ReplacingMergeTree(Time)',
        keys: `PARTITION BY toYYYYMM(Time)
ORDER BY (DeliveryKey, Channel)
TTL toDateTime(Time) + toIntervalSecond(${ttl})`,
        shardBy: 'cityHash64(DeliveryKey)',
      }),
      ...layout.createTable('vigil_ingest_ledger', {
        columns: `
    Topic LowCardinality(String),
    Partition UInt32,
    FirstOffset UInt64,
    LastOffset UInt64,
    Time DateTime64(3)`,
        engine: 'ReplacingMergeTree',
        keys: `ORDER BY (Topic, Partition, FirstOffset)
TTL toDateTime(Time) + INTERVAL 7 DAY`,
        shardBy: 'cityHash64(Topic, Partition)',
      }),
    ],
  },
  {
    version: 3,
    name: 'Notifier: inbox of alert transitions, grouped deliveries in the ledger, silences',
    statements: ({ layout, ttlSeconds: ttl }) => [
      // Every transition the notifier took from vigil.alerts, written before its offset is committed:
      // what the dispatcher is rebuilt from after a restart. One row per transition however often
      // replayed; PublishedAt is the record's Kafka timestamp, the same on every replay, so the
      // latest transition of an alert is the one published last.
      ...layout.createTable('vigil_notifier_inbox', {
        columns: `
    Fingerprint String,
    TransitionKey String,
    Status LowCardinality(String),
    Severity LowCardinality(String),
    StartsAt DateTime64(3),
    Alert String CODEC(ZSTD(1)),
    PublishedAt DateTime64(3)`,
        engine: 'ReplacingMergeTree',
        keys: `PARTITION BY toYYYYMM(PublishedAt)
ORDER BY (Fingerprint, TransitionKey)
TTL toDateTime(PublishedAt) + toIntervalSecond(${ttl})`,
        dedup: true,
        shardBy: 'cityHash64(Fingerprint)',
      }),
      // The ledger now records notifications (a group of transitions for a receiver) per channel.
      ...layout.alter('vigil_deliveries', { columns: [`ADD COLUMN IF NOT EXISTS Receiver LowCardinality(String) DEFAULT ''`] }),
      ...layout.alter('vigil_deliveries', { columns: [`ADD COLUMN IF NOT EXISTS GroupKey String DEFAULT ''`] }),
      ...layout.alter('vigil_deliveries', { columns: [`ADD COLUMN IF NOT EXISTS Alerts Array(String) DEFAULT []`] }),
      ...layout.alter('vigil_deliveries', { columns: [`ADD COLUMN IF NOT EXISTS ProviderId String DEFAULT ''`] }),
      ...layout.alter('vigil_deliveries', { columns: [`ADD COLUMN IF NOT EXISTS Kind LowCardinality(String) DEFAULT ''`] }),
      ...layout.createTable('vigil_silences', {
        columns: `
    Id String,
    Silence String,
    StartsAt DateTime64(3),
    EndsAt DateTime64(3),
    Deleted UInt8,
    UpdatedAt DateTime64(3)`,
        engine: 'ReplacingMergeTree(UpdatedAt)',
        keys: `ORDER BY Id
TTL toDateTime(EndsAt) + toIntervalSecond(${ttl})`,
        shardBy: 'cityHash64(Id)',
      }),
    ],
  },
  {
    version: 4,
    name: 'Notifier: dispatcher snapshots (groups and what each has notified)',
    statements: ({ layout }) => [
      // Saved before each flush, so a restart knows which alerts each group notified (their
      // resolves are owed) and when; the ledger decides what was actually delivered.
      ...layout.createTable('vigil_notifier_state', {
        columns: `
    GroupId String,
    State String CODEC(ZSTD(3)),
    Time DateTime64(3)`,
        engine: 'ReplacingMergeTree(Time)',
        keys: `ORDER BY GroupId
TTL toDateTime(Time) + INTERVAL 30 DAY`,
        shardBy: 'cityHash64(GroupId)',
      }),
    ],
  },
  {
    version: 5,
    name: 'Notifier inbox per consumer group',
    statements: ({ layout }) =>
      // Two notifier deployments (consumer groups) on one ClickHouse each rebuild from their own transitions.
      layout.alter('vigil_notifier_inbox', { columns: ['ADD COLUMN IF NOT EXISTS GroupId String'], storage: ['MODIFY ORDER BY (Fingerprint, TransitionKey, GroupId)'] }),
  },
  {
    version: 6,
    name: 'Ingest ledger: the timestamp of a range\'s first record',
    statements: ({ layout }) =>
      // Offsets start again at 0 when a topic is recreated (or a local bus log is lost): a range is
      // the same range only if its first record has the same timestamp too, so tokens of an earlier
      // incarnation never make new records look like duplicates.
      layout.alter('vigil_ingest_ledger', { columns: ['ADD COLUMN IF NOT EXISTS FirstTimestamp Int64 DEFAULT 0'] }),
  },
  {
    version: 7,
    name: 'Rollups: per-minute and per-hour aggregates of gauges, sums and log counts',
    statements: ({ layout }) => rollupStatements(layout),
  },
  {
    version: 8,
    name: 'Sources: per-minute last-seen, identity and record counts of every host and client',
    statements: ({ layout }) => sourceStatements(layout),
  },
  {
    version: 9,
    name: 'Latest value of every gauge and sum series',
    statements: ({ layout }) => latestStatements(layout),
  },
  {
    version: 10,
    name: 'Hosts and clients: last seen, newest identity and last event, by signal and service',
    statements: ({ layout }) => hostStatements(layout),
  },
];

/**
 * The newest value of every series (gauges and sums, by host, service, name and attributes):
 * what "now" panels and the health report read, one row per series after merges, however long
 * the history. A series not seen for 8 days leaves it.
 */
export const LATEST_TABLE = 'vigil_metrics_latest';

function latestStatements(layout: SchemaLayout): string[] {
  const out = layout.createTable(LATEST_TABLE, {
    columns: `
    MetricName LowCardinality(String),
    Host LowCardinality(String),
    ServiceName LowCardinality(String),
    Kind LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    LastSeen SimpleAggregateFunction(max, DateTime64(9)),
    Last AggregateFunction(argMax, Float64, DateTime64(9))`,
    engine: 'AggregatingMergeTree',
    keys: `ORDER BY (MetricName, Host, ServiceName, Kind, Attributes)
TTL toDateTime(LastSeen) + INTERVAL 8 DAY`,
    shardBy: ROLLUP_SHARD,
  });
  for (const [kind, source] of [['gauge', 'otel_metrics_gauge'], ['sum', 'otel_metrics_sum']] as const) {
    const select = (from: string, where: string) => `
SELECT MetricName, ResourceAttributes['host.name'] AS Host, ServiceName, '${kind}' AS Kind, mapSort(Attributes) AS Attributes,
    max(TimeUnix) AS LastSeen, argMaxState(Value, TimeUnix) AS Last
FROM ${from}${where}
GROUP BY MetricName, Host, ServiceName, Attributes`;
    out.push(backfill(layout, LATEST_TABLE, select(layout.table(source), ` WHERE TimeUnix < ${BACKFILL_BEFORE} AND TimeUnix >= now() - INTERVAL 8 DAY`)));
    out.push(...layout.createView(`${LATEST_TABLE}_${kind}_mv`, LATEST_TABLE, select(layout.local(source), '')));
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

/** Who a source is, when it was last seen and its newest identity: the columns the sources rollup and the hosts table share. */
const SOURCE_COLUMNS = `
    Host LowCardinality(String),
    Client String,
    ServiceName LowCardinality(String),
    Signal LowCardinality(String),
    LastSeen SimpleAggregateFunction(max, DateTime64(9)),
${['HostId', 'OsType', 'OsDescription', 'Version'].map((name) => `    ${name} AggregateFunction(argMaxIf, String, DateTime64(9), UInt8),`).join('\n')}
    LastEvent AggregateFunction(argMax, String, DateTime64(9))`;

function sourceStatements(layout: SchemaLayout): string[] {
  const out = layout.createTable(SOURCES_TABLE, {
    columns: `
    Bucket DateTime,${SOURCE_COLUMNS},
    Records SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64)`,
    engine: 'AggregatingMergeTree',
    keys: `PARTITION BY toDate(Bucket)
ORDER BY (Bucket, Host, Client, ServiceName, Signal)
TTL Bucket + INTERVAL 8 DAY`,
    shardBy: ROLLUP_SHARD,
  });
  const state = (expr: string, time: string) => `argMaxIfState(${expr}, ${time}, ${expr} != '')`;
  const identity = (time: string, version: string) =>
    `${state("ResourceAttributes['host.id']", time)} AS HostId, ${state("ResourceAttributes['os.type']", time)} AS OsType,
    ${state("ResourceAttributes['os.description']", time)} AS OsDescription, ${state(version, time)} AS Version`;
  const metrics = (from: string, where: string) => `
SELECT toStartOfMinute(TimeUnix) AS Bucket, ResourceAttributes['host.name'] AS Host, '' AS Client, ServiceName, 'metrics' AS Signal,
    max(TimeUnix) AS LastSeen, ${identity('TimeUnix', "ResourceAttributes['service.version']")},
    argMaxState('', TimeUnix) AS LastEvent, count() AS Records, toUInt64(0) AS Errors
FROM ${from}${where}
GROUP BY Bucket, Host, ServiceName`;
  const logs = (from: string, where: string) => `
SELECT toStartOfMinute(Timestamp) AS Bucket, ResourceAttributes['host.name'] AS Host, ${CLIENT_ID_EXPR} AS Client, ServiceName, 'logs' AS Signal,
    max(Timestamp) AS LastSeen,
    ${identity('Timestamp', "if(ResourceAttributes['service.version'] != '', ResourceAttributes['service.version'], LogAttributes['app.version'])")},
    argMaxState(if(EventName != '', EventName, substring(Body, 1, 120)), Timestamp) AS LastEvent,
    count() AS Records, countIf(${LOG_SEVERITY_EXPR} >= 17) AS Errors
FROM ${from}${where}
GROUP BY Bucket, Host, Client, ServiceName`;
  // As the rollups of migration 7: what was stored before is aggregated once, the views take what comes.
  for (const source of ['otel_metrics_gauge', 'otel_metrics_sum']) {
    out.push(backfill(layout, SOURCES_TABLE, metrics(layout.table(source), ` WHERE TimeUnix < ${BACKFILL_BEFORE} AND TimeUnix >= now() - INTERVAL 8 DAY`)));
    out.push(...layout.createView(`${SOURCES_TABLE}_${source.replace('otel_metrics_', '')}_mv`, SOURCES_TABLE, metrics(layout.local(source), '')));
  }
  out.push(backfill(layout, SOURCES_TABLE, logs(layout.table('otel_logs'), ` WHERE TimestampTime < ${BACKFILL_BEFORE} AND TimestampTime >= now() - INTERVAL 8 DAY`)));
  out.push(...layout.createView(`${SOURCES_TABLE}_logs_mv`, SOURCES_TABLE, logs(layout.local('otel_logs'), '')));
  return out;
}

/**
 * One row per host, client, signal and service after merges: when it was last seen, its newest
 * non-empty host.id, OS and version, and its last event, however long the history. The host and
 * client lists read tens of rows here instead of a day of per-minute sources (which keep the
 * counts per minute). Fed from the sources rollup as it is written (a view on a view's table: the
 * blocks are already one row per host and minute), so ingest pays for no second pass over the raw
 * rows. What is not seen for 8 days leaves it, as it leaves the sources.
 */
export const HOSTS_TABLE = 'vigil_hosts';

function hostStatements(layout: SchemaLayout): string[] {
  const out = layout.createTable(HOSTS_TABLE, {
    columns: SOURCE_COLUMNS,
    engine: 'AggregatingMergeTree',
    keys: `ORDER BY (Host, Client, ServiceName, Signal)
TTL toDateTime(LastSeen) + INTERVAL 8 DAY`,
    shardBy: ROLLUP_SHARD,
  });
  const select = (from: string) => `
SELECT Host, Client, ServiceName, Signal, max(LastSeen) AS LastSeen,
    argMaxIfMergeState(HostId) AS HostId, argMaxIfMergeState(OsType) AS OsType, argMaxIfMergeState(OsDescription) AS OsDescription,
    argMaxIfMergeState(Version) AS Version, argMaxMergeState(LastEvent) AS LastEvent
FROM ${from}
GROUP BY Host, Client, ServiceName, Signal`;
  out.push(backfill(layout, HOSTS_TABLE, select(layout.table(SOURCES_TABLE))));
  out.push(...layout.createView(`${HOSTS_TABLE}_mv`, HOSTS_TABLE, select(layout.local(SOURCES_TABLE))));
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

/**
 * Rows stored before a view existed, aggregated once into its table. On a cluster it reads and
 * writes the Distributed tables: one statement, run once by the migrating process, sees every
 * shard's rows and sends each aggregate to its shard.
 */
function backfill(layout: SchemaLayout, table: string, select: string): string {
  return `INSERT INTO ${layout.table(table)} ${select}`;
}

function rollupStatements(layout: SchemaLayout): string[] {
  const out: string[] = [];
  for (const r of ROLLUPS) {
    out.push(...layout.createTable(r.table, {
      columns: `
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
    Last AggregateFunction(argMax, Float64, DateTime64(9))`,
      engine: 'AggregatingMergeTree',
      keys: `PARTITION BY toYYYYMM(Bucket)
ORDER BY (MetricName, Host, Bucket, ServiceName, Kind, Attributes)
TTL Bucket + ${r.ttl}`,
      shardBy: ROLLUP_SHARD,
    }));
    for (const [kind, source] of [['gauge', 'otel_metrics_gauge'], ['sum', 'otel_metrics_sum']] as const) {
      const select = (from: string, where: string) => `
SELECT ResourceAttributes['host.name'] AS Host, ServiceName, MetricName, '${kind}' AS Kind, mapSort(Attributes) AS Attributes,
    ${r.bucket}(TimeUnix) AS Bucket, count() AS Count, sum(Value) AS Sum, min(Value) AS Min, max(Value) AS Max,
    argMinState(Value, TimeUnix) AS First, argMaxState(Value, TimeUnix) AS Last
FROM ${from}${where}
GROUP BY Host, ServiceName, MetricName, Attributes, Bucket`;
      // The view counts what is inserted from now on; what was stored before is aggregated once.
      out.push(backfill(layout, r.table, select(layout.table(source), ` WHERE TimeUnix < ${BACKFILL_BEFORE}`)));
      out.push(...layout.createView(`${r.table}_${kind}_mv`, r.table, select(layout.local(source), '')));
    }
  }
  for (const r of LOG_ROLLUPS) {
    out.push(...layout.createTable(r.table, {
      columns: `
    Host LowCardinality(String),
    ServiceName LowCardinality(String),
    SeverityNumber UInt8,
    Fingerprint String,
    Bucket DateTime,
    Count UInt64`,
      engine: 'SummingMergeTree',
      keys: `PARTITION BY toYYYYMM(Bucket)
ORDER BY (Bucket, Host, ServiceName, SeverityNumber, Fingerprint)
TTL Bucket + ${r.ttl}`,
      shardBy: ROLLUP_SHARD,
    }));
    // Records with only a SeverityText are counted by the number of their text, as the events API ranks them.
    const select = (from: string, where: string) => `
SELECT ResourceAttributes['host.name'] AS Host, ServiceName,
    toUInt8(if(SeverityNumber > 0, SeverityNumber, transform(upper(SeverityText), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'], [1, 5, 9, 13, 13, 17, 21, 21], 0))) AS SeverityNumber,
    LogAttributes['vigil.error.fingerprint'] AS Fingerprint, ${r.bucket}(TimestampTime) AS Bucket, count() AS Count
FROM ${from}${where}
GROUP BY Host, ServiceName, SeverityNumber, Fingerprint, Bucket`;
    out.push(backfill(layout, r.table, select(layout.table('otel_logs'), ` WHERE TimestampTime < ${BACKFILL_BEFORE}`)));
    out.push(...layout.createView(`${r.table}_mv`, r.table, select(layout.local('otel_logs'), '')));
  }
  return out;
}

const log = logger('storage.migrations');

/** Where applied migrations are recorded. */
export const LEDGER_TABLE = 'vigil_schema_migrations';

/**
 * The database and the migrations ledger, created before the ledger is read. On a cluster the
 * ledger is one more replicated table under a Distributed one: DDL runs ON CLUSTER, so what it
 * records holds for every node, and any node's process reads the same versions.
 */
export function bootstrapStatements(layout: SchemaLayout): string[] {
  const ledger = layout.cluster
    ? layout.createTable(LEDGER_TABLE, {
        columns: `
    Version UInt32,
    Name String,
    AppliedAt DateTime64(3)`,
        engine: 'MergeTree',
        keys: 'ORDER BY Version',
        shardBy: 'Version',
      })
    : // The single-node ledger as it has always been created (its text predates the layout).
      [`CREATE TABLE IF NOT EXISTS ${layout.db}.${LEDGER_TABLE} (Version UInt32, Name String, AppliedAt DateTime64(3)) ENGINE = MergeTree ORDER BY Version`];
  return [layout.createDatabase(), ...ledger];
}

/**
 * Why a database cannot be migrated in this layout, from its ledger's engine (undefined: no ledger
 * yet). A single node's schema under `clickhouse.cluster` would stay unreplicated while its ledger
 * says every version is applied; a cluster's schema without it would have its Distributed tables
 * ALTERed as if they stored rows. Neither is converted in place.
 */
export function layoutMismatch(layout: SchemaLayout, ledgerEngine: string | undefined): string | undefined {
  if (ledgerEngine === undefined) return undefined;
  const where = `database ${layout.db}`;
  if (layout.cluster && ledgerEngine !== 'Distributed') {
    return `${where} holds a single-node schema (${LEDGER_TABLE} is ${ledgerEngine}, not Distributed), so clickhouse.cluster "${layout.cluster.name}" cannot use it: set clickhouse.database to a new database for the cluster (moving the data over is not automated), or remove clickhouse.cluster`;
  }
  if (!layout.cluster && ledgerEngine === 'Distributed') {
    return `${where} holds a cluster's schema (${LEDGER_TABLE} is Distributed): set clickhouse.cluster (its name, and replicaPath and replicaName if they were not the defaults) as when it was created`;
  }
  return undefined;
}

/** A migration's statements for a layout and a retention. */
export function migrationStatements(m: Migration, layout: SchemaLayout, ttlSeconds: number): string[] {
  return m.statements({ db: layout.db, ttlSeconds, layout });
}

/** The ALTER that sets a retained table's TTL (on its stored table, ON CLUSTER on a cluster). */
export function retentionStatements(layout: SchemaLayout, table: string, ttlSeconds: number): string[] {
  const column = RETAINED_TABLES[table];
  if (!column) throw new Error(`table ${table} has no retention (retained tables: ${Object.keys(RETAINED_TABLES).join(', ')})`);
  return layout.alter(table, { storage: [`MODIFY TTL ${column} + toIntervalSecond(${ttlSeconds})`] });
}

/** Creates the database and applies pending migrations; then makes TTLs match the configured retention. */
export async function migrate(storage: Storage, retentionMs: number, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  const layout = storage.layout;
  const ttlSeconds = Math.max(1, Math.round(retentionMs / 1000));
  const [ledger] = await queryRows<{ engine: string }>(storage, 'SELECT engine FROM system.tables WHERE database = {db:String} AND name = {name:String}', {
    db: layout.db,
    name: LEDGER_TABLE,
  });
  const mismatch = layoutMismatch(layout, ledger?.engine);
  if (mismatch) throw new Error(mismatch);
  for (const statement of bootstrapStatements(layout)) await storage.client.command({ query: statement });
  const done = new Set(
    (await queryRows<{ Version: number | string }>(storage, `SELECT Version FROM ${layout.table(LEDGER_TABLE)}`)).map((r) => Number(r.Version)),
  );
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const statement of migrationStatements(m, layout, ttlSeconds)) await storage.client.command({ query: statement });
    await storage.client.insert({
      table: layout.table(LEDGER_TABLE),
      values: [{ Version: m.version, Name: m.name, AppliedAt: Date.now() }],
      format: 'JSONEachRow',
    });
    log.info({ version: m.version, name: m.name }, 'applied migration');
    applied.push(m.version);
  }
  await alignRetention(storage, ttlSeconds);
  return applied;
}

/**
 * A changed `clickhouse.retention` takes effect on the next start. On a cluster this node's stored
 * tables stand for every node's: the ALTER that follows runs ON CLUSTER.
 */
async function alignRetention(storage: Storage, ttlSeconds: number): Promise<void> {
  const layout = storage.layout;
  const byStored = new Map(Object.keys(RETAINED_TABLES).map((name) => [layout.localName(name), name]));
  const rows = await queryRows<{ name: string; engine_full: string }>(
    storage,
    'SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}',
    { db: layout.db, names: [...byStored.keys()] },
  );
  for (const row of rows) {
    if (row.engine_full.includes(`toIntervalSecond(${ttlSeconds})`)) continue;
    const table = byStored.get(row.name)!;
    for (const query of retentionStatements(layout, table, ttlSeconds)) await storage.client.command({ query });
    log.info({ table, ttlSeconds }, 'retention changed');
  }
}
