import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { readRows, toFiniteOrNull, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

/**
 * GET /api/v1/metrics/summary?period_hours=1..168: the brief's "metrics over a chosen period"
 * (B): per host and for all, averages and maxima of CPU, memory, disk and load, network and disk
 * rates, and application counters grouped by a status attribute (orders by status). Read from
 * the per-minute rollup up to 2 hours, the per-hour one beyond (the coarsest that answers: a day
 * from 50 hosts is 720,000 per-minute rows but 12,000 hourly ones). Averages are the same either
 * way. Maxima of memory, disk and load are the highest value recorded (the rollups keep it); the
 * CPU's is the busiest bucket's average (CPU busy is a sum over modes), so a minute beyond 2
 * hours of period, an hour beyond.
 */

/** Periods up to this many hours read the per-minute rollup. */
export const MINUTE_RESOLUTION_HOURS = 2;

export const SummaryQuery = Type.Object({
  period_hours: Type.Integer({ minimum: 1, maximum: 168, default: 24, description: 'the period, 1 to 168 hours back from now' }),
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'only this host.name' })),
  group_by: Type.String({ minLength: 1, maxLength: 100, default: 'status', pattern: '^[A-Za-z0-9_.\\-]+$', description: 'the attribute application counters are grouped by (default status)' }),
});
export type SummaryQuery = Static<typeof SummaryQuery>;

const Stat = Type.Object({
  avg: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
  max: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
});

export const ResourceStats = Type.Object({
  cpu: Stat,
  memory: Stat,
  disk: Type.Object({ avg: Stat.properties.avg, max: Stat.properties.max }, { description: 'the fullest filesystem' }),
  load1: Stat,
  networkReceiveBytesPerSecond: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
  networkTransmitBytesPerSecond: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
  diskReadBytesPerSecond: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
  diskWriteBytesPerSecond: Type.Unsafe<number | null>({ type: ['number', 'null'] }),
});

export const SummaryReply = Type.Object({
  periodHours: Type.Integer(),
  from: Type.Number({ description: 'Unix ms' }),
  to: Type.Number({ description: 'Unix ms' }),
  resolution: Type.String({ description: `1m (periods up to ${MINUTE_RESOLUTION_HOURS} h) or 1h: the rollup read; cpu.max is the busiest bucket's average` }),
  all: ResourceStats,
  hosts: Type.Array(Type.Intersect([Type.Object({ host: Type.String() }), ResourceStats])),
  counters: Type.Array(
    Type.Object({
      name: Type.String(),
      group: Type.String({ description: 'the value of group_by; empty when a series has none' }),
      latest: Type.Number({ description: 'newest value, summed over series' }),
      avg: Type.Number(),
      max: Type.Number(),
      ratePerSecond: Type.Unsafe<number | null>({ type: ['number', 'null'], description: 'for counters (sums): increase per second over the period' }),
    }),
  ),
});
export type SummaryReply = Static<typeof SummaryReply>;

type Stats = Static<typeof ResourceStats>;

export interface SummaryRow {
  host: string;
  metric: string;
  avg: ChNumber;
  max: ChNumber;
}

const KEY: Record<string, keyof Stats> = {
  cpu: 'cpu',
  memory: 'memory',
  disk: 'disk',
  load1: 'load1',
  net_rx: 'networkReceiveBytesPerSecond',
  net_tx: 'networkTransmitBytesPerSecond',
  disk_read: 'diskReadBytesPerSecond',
  disk_write: 'diskWriteBytesPerSecond',
};

const emptyStats = (): Stats => ({
  cpu: { avg: null, max: null },
  memory: { avg: null, max: null },
  disk: { avg: null, max: null },
  load1: { avg: null, max: null },
  networkReceiveBytesPerSecond: null,
  networkTransmitBytesPerSecond: null,
  diskReadBytesPerSecond: null,
  diskWriteBytesPerSecond: null,
});

/** Rows of (host, metric, avg, max), with host '' for all hosts → the reply's `all` and `hosts`. */
export function statsFromRows(rows: readonly SummaryRow[]): { all: Stats; hosts: (Stats & { host: string })[] } {
  const byHost = new Map<string, Stats>();
  for (const r of rows) {
    let s = byHost.get(r.host);
    if (!s) byHost.set(r.host, (s = emptyStats()));
    const key = KEY[r.metric];
    if (!key) continue;
    const avg = toFiniteOrNull(r.avg);
    const target = s[key];
    if (target !== null && typeof target === 'object') {
      target.avg = avg;
      target.max = toFiniteOrNull(r.max);
    } else (s as Record<string, unknown>)[key] = avg;
  }
  const all = byHost.get('\u0000all') ?? emptyStats();
  const hosts = [...byHost.entries()]
    .filter(([h]) => h !== '\u0000all')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([host, s]) => ({ host, ...s }));
  return { all, hosts };
}

/**
 * Per host and minute (or hour) first: CPU busy is the sum of every non-idle mode's average, the
 * fullest disk is the max over mountpoints; then avg and max over the period, per host and, with
 * ROLLUP, over all hosts (host '\0all'). Rates are each series' increase (last − first, counter
 * resets read as no increase) over the period, summed.
 */
const summarySql = (table: string) => `
WITH per_bucket AS (
  SELECT Host, Bucket,
    sumIf(Sum / Count, MetricName = 'system.cpu.utilization' AND busy) AS cpu,
    sumIf(Sum / Count, MetricName = 'system.memory.utilization' AND used) AS memory,
    maxIf(Sum / Count, MetricName = 'system.filesystem.utilization') AS disk,
    anyIf(Sum / Count, MetricName = 'system.cpu.load_average.1m') AS load1,
    -- The highest values recorded in the bucket (one series each: memory used, the fullest disk, load).
    sumIf(Max, MetricName = 'system.memory.utilization' AND used) AS memoryMax,
    maxIf(Max, MetricName = 'system.filesystem.utilization') AS diskMax,
    anyIf(Max, MetricName = 'system.cpu.load_average.1m') AS load1Max,
    countIf(MetricName = 'system.cpu.utilization') > 0 AS hasCpu,
    countIf(MetricName = 'system.memory.utilization') > 0 AS hasMemory,
    countIf(MetricName = 'system.filesystem.utilization') > 0 AS hasDisk,
    countIf(MetricName = 'system.cpu.load_average.1m') > 0 AS hasLoad
  FROM (
    -- One row per series and bucket (parts not merged yet hold several). Grouped by a hash of the
    -- (sorted) attribute map rather than the map itself, several times cheaper; the attributes the
    -- outer query needs are read as flags.
    SELECT Host, Bucket, MetricName, cityHash64(Attributes) AS series,
      any(Attributes['cpu.mode'] != 'idle' AND NOT mapContains(Attributes, 'cpu.logical_number')) AS busy,
      any(Attributes['system.memory.state'] = 'used') AS used,
      sum(Count) AS Count, sum(Sum) AS Sum, max(Max) AS Max
    FROM ${table}
    WHERE MetricName IN ('system.cpu.utilization', 'system.memory.utilization', 'system.filesystem.utilization', 'system.cpu.load_average.1m')
      AND Bucket >= toDateTime(intDiv({from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({to:Int64}, 1000))
      AND Host != '' AND ({host:String} = '' OR Host = {host:String})
    GROUP BY Host, Bucket, MetricName, series)
  GROUP BY Host, Bucket
),
rates AS (
  SELECT Host, metric, sum(greatest(0, last - first)) / {seconds:Float64} AS rate FROM (
    SELECT Host, multiIf(MetricName = 'system.network.io' AND Attributes['network.io.direction'] = 'receive', 'net_rx',
                         MetricName = 'system.network.io', 'net_tx',
                         Attributes['disk.io.direction'] = 'read', 'disk_read', 'disk_write') AS metric,
      argMinMerge(First) AS first, argMaxMerge(Last) AS last
    FROM ${table}
    WHERE MetricName IN ('system.network.io', 'system.disk.io') AND Kind = 'sum'
      AND Bucket >= toDateTime(intDiv({from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({to:Int64}, 1000))
      AND Host != '' AND ({host:String} = '' OR Host = {host:String})
    GROUP BY Host, metric, cityHash64(Attributes))
  GROUP BY Host, metric
)
SELECT if(grouping(Host) = 1, '\\0all', Host) AS host, metric, avg(v) AS avg, max(top) AS max FROM (
  -- One pass over per_bucket (a CTE named four times is computed four times).
  SELECT Host, arrayJoin([('cpu', cpu, cpu, hasCpu), ('memory', memory, memoryMax, hasMemory), ('disk', disk, diskMax, hasDisk), ('load1', load1, load1Max, hasLoad)]) AS m,
    m.1 AS metric, m.2 AS v, m.3 AS top
  FROM per_bucket WHERE m.4)
GROUP BY GROUPING SETS ((Host, metric), (metric))
UNION ALL
SELECT if(grouping(Host) = 1, '\\0all', Host) AS host, metric, sum(rate) AS avg, sum(rate) AS max FROM rates
GROUP BY GROUPING SETS ((Host, metric), (metric))`;

/** Application counters: metrics other than system.*, process.* and vigil.*, by the group_by attribute. */
const countersSql = (table: string) => `
SELECT name, group, sum(s_latest) AS latest, sum(s_avg) AS avg, sum(s_max) AS max,
  if(any(kind) = 'sum', sum(greatest(0, s_latest - s_first)) / {seconds:Float64}, NULL) AS rate
FROM (
  SELECT MetricName AS name, any(Attributes[{groupBy:String}]) AS group, any(Kind) AS kind,
    argMaxMerge(Last) AS s_latest, argMinMerge(First) AS s_first, sum(Sum) / sum(Count) AS s_avg, max(Max) AS s_max
  FROM ${table}
  WHERE Bucket >= toDateTime(intDiv({from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({to:Int64}, 1000))
    AND NOT startsWith(MetricName, 'system.') AND NOT startsWith(MetricName, 'process.') AND NOT startsWith(MetricName, 'vigil.')
    AND ({host:String} = '' OR Host = {host:String})
  GROUP BY name, Host, ServiceName, cityHash64(Attributes))
GROUP BY name, group
ORDER BY name, group
LIMIT 500`;

interface CounterRow {
  name: string;
  group: string;
  latest: ChNumber;
  avg: ChNumber;
  max: ChNumber;
  rate: ChNumber;
}

export const summaryRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const sql = { '1m': summarySql(storage.table('vigil_metrics_1m')), '1h': summarySql(storage.table('vigil_metrics_1h')) };
  const counters = { '1m': countersSql(storage.table('vigil_metrics_1m')), '1h': countersSql(storage.table('vigil_metrics_1h')) };
  app.get<{ Querystring: SummaryQuery; Reply: SummaryReply }>(
    '/metrics/summary',
    {
      config: { scope: 'read' },
      schema: {
        description: 'Averages, maxima and rates over the period per host and for all; application counters by a status attribute.',
        querystring: SummaryQuery,
        response: { 200: SummaryReply, ...errorResponses },
      },
    },
    async (req) => {
      const hours = req.query.period_hours;
      const resolution = hours <= MINUTE_RESOLUTION_HOURS ? '1m' : '1h';
      const unit = resolution === '1m' ? 60_000 : 3_600_000;
      // Whole buckets: the period ends with the current (partial) bucket.
      const to = Math.floor(now() / unit) * unit + unit;
      const from = to - hours * 3_600_000;
      const params = { from, to, seconds: (to - from) / 1000, host: req.query.host ?? '', groupBy: req.query.group_by };
      const [rows, counterRows] = await Promise.all([
        readRows<SummaryRow>(storage, 'metrics summary', sql[resolution], params),
        readRows<CounterRow>(storage, 'application counters', counters[resolution], params),
      ]);
      const { all, hosts } = statsFromRows(rows);
      return {
        periodHours: hours,
        from,
        to,
        resolution,
        all,
        hosts,
        counters: counterRows.map((c) => ({
          name: c.name,
          group: c.group,
          latest: toFiniteOrNull(c.latest) ?? 0,
          avg: toFiniteOrNull(c.avg) ?? 0,
          max: toFiniteOrNull(c.max) ?? 0,
          ratePerSecond: toFiniteOrNull(c.rate),
        })),
      };
    },
  );
};
