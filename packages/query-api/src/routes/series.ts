import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { AGGREGATIONS, planRange, type Aggregation } from '../parameters.js';
import { readRows, toFiniteOrNull, toNumber, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

export const SeriesQuery = Type.Object({
  name: Type.String({ minLength: 1, description: 'the metric name, e.g. system.cpu.utilization' }),
  host: Type.Optional(Type.String({ minLength: 1, description: 'only this host.name' })),
  from: Type.Optional(Type.String({ description: 'Unix milliseconds or RFC 3339; default to − 1h' })),
  to: Type.Optional(Type.String({ description: 'Unix milliseconds or RFC 3339; default now' })),
  step: Type.Optional(Type.String({ description: 'bucket width, e.g. 10s, 1m; default gives at most ~300 points' })),
  agg: Type.Optional(Type.Unsafe<Aggregation>({ type: 'string', enum: [...AGGREGATIONS], description: 'per-bucket aggregation (default avg)' })),
});
export type SeriesQuery = Static<typeof SeriesQuery>;

/**
 * [bucket start in Unix ms, value]; null when the bucket's value is not finite. The value is a
 * type list, not a Union: fast-json-stringify cannot serialise an anyOf inside a tuple.
 */
export const Point = Type.Tuple([Type.Number(), Type.Unsafe<number | null>({ type: ['number', 'null'] })]);
export type Point = Static<typeof Point>;

export const Series = Type.Object({
  host: Type.String({ description: "the resource's host.name; empty when it has none" }),
  attributes: Type.Record(Type.String(), Type.String()),
  points: Type.Array(Point),
});
export type Series = Static<typeof Series>;

export const SeriesReply = Type.Object({
  name: Type.String(),
  from: Type.Number({ description: 'Unix ms, inclusive' }),
  to: Type.Number({ description: 'Unix ms, exclusive' }),
  step: Type.Number({ description: 'bucket width in ms; buckets start at multiples of step since the epoch' }),
  agg: Type.String(),
  series: Type.Array(Series),
});
export type SeriesReply = Static<typeof SeriesReply>;

/** One series as ClickHouse returns it: points are [bucket, value] pairs, unsorted. */
export interface SeriesRow {
  host: string;
  attributes: Record<string, string>;
  points: [ChNumber, ChNumber][];
}

/** Rows → series sorted by host then attribute set, points in time order, numbers coerced. */
export function seriesFromRows(rows: SeriesRow[]): Series[] {
  const byKey = new Map<string, Series>();
  for (const r of rows) {
    const attributes = Object.fromEntries(Object.entries(r.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const key = JSON.stringify([r.host, attributes]);
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { host: r.host, attributes, points: [] }));
    for (const [t, v] of r.points) s.points.push([toNumber(t), toFiniteOrNull(v)]);
  }
  return [...byKey.keys()].sort().map((k) => {
    const s = byKey.get(k)!;
    s.points.sort((a, b) => a[0] - b[0]);
    return s;
  });
}

/**
 * Gauges and sums share their columns, so one query reads whichever table has the metric.
 * `last` is the value with the latest timestamp in the bucket. Attribute maps are sorted so the
 * same set written in another key order is the same series. Points are gathered per series in
 * ClickHouse: one row per series instead of one per point is several times less JSON to move.
 */
const seriesSql = (gauge: string, sum: string) => {
  const source = (table: string) => `
      SELECT ResourceAttributes['host.name'] AS host, mapSort(Attributes) AS attributes, TimeUnix, Value
      FROM ${table}
      WHERE MetricName = {name:String}
        AND TimeUnix >= fromUnixTimestamp64Milli({from:Int64}) AND TimeUnix < fromUnixTimestamp64Milli({to:Int64})
        AND ({host:String} = '' OR ResourceAttributes['host.name'] = {host:String})`;
  return `
SELECT host, attributes, groupArray((t, v)) AS points
FROM (
  SELECT host, attributes,
    intDiv(toUnixTimestamp64Milli(TimeUnix), {step:UInt64}) * {step:UInt64} AS t,
    multiIf({agg:String} = 'min', min(Value), {agg:String} = 'max', max(Value), {agg:String} = 'sum', sum(Value),
            {agg:String} = 'last', argMax(Value, TimeUnix), avg(Value)) AS v
  FROM (${source(gauge)}
    UNION ALL${source(sum)}
  )
  GROUP BY host, attributes, t
)
GROUP BY host, attributes`;
};

/**
 * The same series from a rollup (vigil_metrics_1m or _1h): each stored bucket already holds the
 * count, sum, min, max and last value of its minute or hour, so a week at a 1h step reads 168 rows
 * per series instead of 60,480 points. A rollup bucket is taken when it starts in [from, to), so
 * from and to count at the rollup's resolution.
 */
const rollupSeriesSql = (table: string) => `
SELECT host, attributes, groupArray((t, v)) AS points
FROM (
  SELECT Host AS host, Attributes AS attributes,
    intDiv(toUnixTimestamp(Bucket) * 1000, {step:UInt64}) * {step:UInt64} AS t,
    multiIf({agg:String} = 'min', min(Min), {agg:String} = 'max', max(Max), {agg:String} = 'sum', sum(Sum),
            {agg:String} = 'last', argMaxMerge(Last), sum(Sum) / sum(Count)) AS v
  FROM ${table}
  WHERE MetricName = {name:String}
    AND Bucket >= toDateTime(intDiv({from:Int64}, 1000)) AND Bucket < toDateTime(intDiv({to:Int64}, 1000))
    AND ({host:String} = '' OR Host = {host:String})
  GROUP BY host, attributes, t
)
GROUP BY host, attributes`;

/** The coarsest rollup whose buckets nest in the step: hours for whole-hour steps, minutes for whole-minute steps, else the raw points. */
export function seriesSource(stepMs: number): 'raw' | '1m' | '1h' {
  if (stepMs % 3_600_000 === 0) return '1h';
  if (stepMs % 60_000 === 0) return '1m';
  return 'raw';
}

export const seriesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const queries = {
    raw: seriesSql(storage.table('otel_metrics_gauge'), storage.table('otel_metrics_sum')),
    '1m': rollupSeriesSql(storage.table('vigil_metrics_1m')),
    '1h': rollupSeriesSql(storage.table('vigil_metrics_1h')),
  };
  app.get<{ Querystring: SeriesQuery; Reply: SeriesReply }>(
    '/metrics/series',
    { config: { scope: 'read' }, schema: { querystring: SeriesQuery, response: { 200: SeriesReply, ...errorResponses } } },
    async (req) => {
      const { fromMs, toMs, stepMs } = planRange(req.query, now());
      const agg = req.query.agg ?? 'avg';
      const rows = await readRows<SeriesRow>(storage, 'metric series', queries[seriesSource(stepMs)], {
        name: req.query.name,
        host: req.query.host ?? '',
        from: fromMs,
        to: toMs,
        step: stepMs,
        agg,
      });
      return { name: req.query.name, from: fromMs, to: toMs, step: stepMs, agg, series: seriesFromRows(rows) };
    },
  );
};
