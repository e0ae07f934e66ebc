import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { readAll, toFiniteOrNull, type ChNumber } from '../read-rows.js';
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

/** One host's figure for one metric over the period: `n` buckets averaged (rates: 1). */
export interface SummaryRow {
  host: string;
  metric: string;
  avg: ChNumber;
  max: ChNumber;
  n: number;
}

const RATES = new Set(['net_rx', 'net_tx', 'disk_read', 'disk_write']);

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

/**
 * Per-host rows of (host, metric, avg, max, n) → the reply's `hosts`, and `all`: the average over
 * every host's buckets (each host's average weighted by its buckets), the highest maximum, and
 * rates summed over hosts.
 */
export function statsFromRows(rows: readonly SummaryRow[]): { all: Stats; hosts: (Stats & { host: string })[] } {
  const byHost = new Map<string, Stats>();
  const totals = new Map<string, { sum: number; n: number; max: number | null }>();
  for (const r of rows) {
    let s = byHost.get(r.host);
    if (!s) byHost.set(r.host, (s = emptyStats()));
    const key = KEY[r.metric];
    if (!key) continue;
    const avg = toFiniteOrNull(r.avg);
    const max = toFiniteOrNull(r.max);
    const target = s[key];
    if (target !== null && typeof target === 'object') {
      target.avg = avg;
      target.max = max;
    } else (s as Record<string, unknown>)[key] = avg;
    if (avg === null || !(r.n > 0)) continue;
    const t = totals.get(r.metric) ?? { sum: 0, n: 0, max: null };
    t.sum += RATES.has(r.metric) ? avg : avg * r.n;
    t.n += r.n;
    if (max !== null) t.max = t.max === null ? max : Math.max(t.max, max);
    totals.set(r.metric, t);
  }
  const all = emptyStats();
  for (const [metric, t] of totals) {
    const key = KEY[metric]!;
    const target = all[key];
    if (target !== null && typeof target === 'object') {
      target.avg = t.sum / t.n;
      target.max = t.max;
    } else (all as Record<string, unknown>)[key] = t.sum;
  }
  const hosts = [...byHost.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([host, s]) => ({ host, ...s }));
  return { all, hosts };
}

interface HostSummaryRow {
  host: string;
  cpu_avg: ChNumber;
  cpu_max: ChNumber;
  cpu_n: ChNumber;
  memory_avg: ChNumber;
  memory_max: ChNumber;
  memory_n: ChNumber;
  disk_avg: ChNumber;
  disk_max: ChNumber;
  disk_n: ChNumber;
  load1_avg: ChNumber;
  load1_max: ChNumber;
  load1_n: ChNumber;
}

/** One row per host and metric from the hosts' rows (one per host) and their rates. */
function summaryRows(hosts: readonly HostSummaryRow[], rates: readonly { host: string; metric: string; rate: ChNumber }[]): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const h of hosts) {
    for (const m of ['cpu', 'memory', 'disk', 'load1'] as const) {
      const n = Number(h[`${m}_n`]);
      if (n > 0) out.push({ host: h.host, metric: m, avg: h[`${m}_avg`], max: h[`${m}_max`], n });
    }
  }
  for (const r of rates) out.push({ host: r.host, metric: r.metric, avg: r.rate, max: r.rate, n: 1 });
  return out;
}

/**
 * Per host and minute (or hour) first: CPU busy is the sum of every non-idle mode's average, the
 * fullest disk is the max over mountpoints; then per host, avg and max over the period, and how
 * many buckets. The totals over all hosts are made from these rows (`statsFromRows`): the engine
 * plans a query's every expression anew each time, and GROUPING SETS, a CTE and a UNION cost it
 * more to plan (about 50 ms for a week) than the rows cost to read.
 */
const summarySql = (table: string, oneHost: boolean) => `
SELECT Host AS host,
  avgIf(cpu, hasCpu) AS cpu_avg, maxIf(cpu, hasCpu) AS cpu_max, countIf(hasCpu) AS cpu_n,
  avgIf(memory, hasMemory) AS memory_avg, maxIf(memoryMax, hasMemory) AS memory_max, countIf(hasMemory) AS memory_n,
  avgIf(disk, hasDisk) AS disk_avg, maxIf(diskMax, hasDisk) AS disk_max, countIf(hasDisk) AS disk_n,
  avgIf(load1, hasLoad) AS load1_avg, maxIf(load1Max, hasLoad) AS load1_max, countIf(hasLoad) AS load1_n
FROM (
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
      AND Host != ''${oneHost ? ' AND Host = {host:String}' : ''}
    GROUP BY Host, Bucket, MetricName, series)
  GROUP BY Host, Bucket)
GROUP BY Host`;

/** Rates: each series' increase (last − first, counter resets read as no increase) over the period, summed per host. */
const ratesSql = (table: string, oneHost: boolean) => `
SELECT Host AS host, metric, sum(greatest(0, last - first)) / {seconds:Float64} AS rate FROM (
  SELECT Host, multiIf(MetricName = 'system.network.io' AND Attributes['network.io.direction'] = 'receive', 'net_rx',
                       MetricName = 'system.network.io', 'net_tx',
                       Attributes['disk.io.direction'] = 'read', 'disk_read', 'disk_write') AS metric,
    argMinMerge(First) AS first, argMaxMerge(Last) AS last
  FROM ${table}
  WHERE MetricName IN ('system.network.io', 'system.disk.io') AND Kind = 'sum'
    AND Bucket >= toDateTime(intDiv({from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({to:Int64}, 1000))
    AND Host != ''${oneHost ? ' AND Host = {host:String}' : ''}
  GROUP BY Host, metric, cityHash64(Attributes))
GROUP BY Host, metric`;

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
  const tables = { '1m': storage.table('vigil_metrics_1m'), '1h': storage.table('vigil_metrics_1h') };
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
      const oneHost = req.query.host !== undefined;
      const r = await readAll<{ hosts: HostSummaryRow; rates: { host: string; metric: string; rate: ChNumber }; counters: CounterRow }>(storage, 'metrics summary', {
        hosts: { sql: summarySql(tables[resolution], oneHost), params },
        rates: { sql: ratesSql(tables[resolution], oneHost), params },
        counters: { sql: counters[resolution], params },
      });
      const counterRows = r.counters;
      const { all, hosts } = statsFromRows(summaryRows(r.hosts, r.rates));
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
