import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { LATEST_TABLE } from '@vigil/platform';
import {
  RESOURCE_METRICS,
  databaseFindings,
  dependencyFindings,
  hostStatus,
  resourceFindings,
  resourcesFromReadings,
  statusOf,
  type HostResources,
  type LatestReading,
} from '../assessment.js';
import { errorResponses } from '../errors.js';
import { isoFromMs, readAll, toFiniteOrNull, toNumber, type ChNumber } from '../read-rows.js';
import { AlertItem, alertFromRow, alertQueries, orderActive, type AlertRow } from './alerts.js';
import { EventItem, eventFromRow, eventsSql, type EventRow } from './events.js';
import { rawRangeOf } from '../error-groups.js';
import { hostsFromHostsTable } from '../sources.js';
import type { RouteOptions } from './options.js';

/**
 * GET /api/v1/health/summary: the brief's health report (B). GET /api/v1/dashboard: what the
 * console's overview shows, in one call. Both read the per-minute rollup for current readings.
 */

const Nullable = (description: string) => Type.Unsafe<number | null>({ type: ['number', 'null'], description });

export const Finding = Type.Object({
  check: Type.String({ description: 'cpu, memory, disk, database or dependency' }),
  subject: Type.String({ description: 'the host (host:mountpoint for a disk), clickhouse, or the dependency' }),
  level: Type.Unsafe<'warning' | 'critical'>({ type: 'string', enum: ['warning', 'critical'] }),
  value: Type.Number(),
  message: Type.String(),
});

export const HostResourcesItem = Type.Object({
  host: Type.String(),
  lastSeen: Type.String({ description: 'RFC 3339 of the newest per-minute reading' }),
  status: Type.Unsafe<'up' | 'stale'>({ type: 'string', enum: ['up', 'stale'], description: 'stale: no reading for 3 minutes' }),
  cpu: Nullable('busy fraction (0 to 1): every cpu.mode but idle'),
  memory: Nullable('used fraction (0 to 1)'),
  load1: Nullable('1-minute load average'),
  disks: Type.Array(Type.Object({ mountpoint: Type.String(), utilization: Nullable('used fraction (0 to 1)'), freeBytes: Nullable('free bytes') })),
});

export const Counter = Type.Object({
  name: Type.String(),
  attributes: Type.Record(Type.String(), Type.String()),
  value: Type.Number({ description: 'the newest value, summed over hosts' }),
});

export const HealthSummary = Type.Object({
  status: Type.Unsafe<'healthy' | 'degraded' | 'unhealthy'>({ type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] }),
  checkedAt: Type.String(),
  database: Type.Object({ status: Type.Unsafe<'up' | 'down'>({ type: 'string', enum: ['up', 'down'] }), responseMs: Type.Number() }),
  dependencies: Type.Record(Type.String(), Type.Object({ status: Type.String(), detail: Type.Optional(Type.String()) }), { description: "this process's dependencies, as on /health" }),
  resources: Type.Array(HostResourcesItem, { description: 'each host that reported in the last 10 minutes' }),
  application: Type.Object({ counters: Type.Array(Counter, { description: 'metrics other than system.*, process.* and vigil.*, newest values (at most 100)' }) }),
  findings: Type.Array(Finding, { description: 'what made the status: thresholds crossed, dependencies not up' }),
});
export type HealthSummary = Static<typeof HealthSummary>;

export const DashboardHost = Type.Object({
  name: Type.String(),
  id: Type.String(),
  os: Type.String(),
  osDescription: Type.String(),
  lastSeen: Type.String(),
  status: Type.Unsafe<'up' | 'stale'>({ type: 'string', enum: ['up', 'stale'] }),
  cpu: Nullable('busy fraction'),
  memory: Nullable('used fraction'),
  disk: Nullable('the fullest filesystem, used fraction'),
});

export const DeliveryItem = Type.Object({
  key: Type.String(),
  channel: Type.String(),
  receiver: Type.String(),
  rule: Type.String(),
  severity: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.String(),
  time: Type.String(),
});

export const DashboardReply = Type.Object({
  generatedAt: Type.String(),
  health: HealthSummary,
  hosts: Type.Array(DashboardHost, { description: 'hosts with metrics in the last 24h' }),
  metrics: Type.Object({
    hostsUp: Type.Integer(),
    hostsTotal: Type.Integer(),
    events5m: Type.Integer({ description: 'log records and events in the last 5 minutes' }),
    errors1h: Type.Integer({ description: 'records of severity error or worse in the last hour' }),
  }),
  alerts: Type.Object({
    counts: Type.Object({ critical: Type.Integer(), warning: Type.Integer(), info: Type.Integer() }, { description: 'active alerts by level' }),
    active: Type.Array(AlertItem, { description: 'most severe first, at most 20' }),
    recent: Type.Array(AlertItem, { description: 'the last 10 transitions' }),
  }),
  errors: Type.Array(EventItem, { description: 'the last 10 records of severity error or worse (24h)' }),
  deliveries: Type.Object({ failed24h: Type.Integer(), recentFailed: Type.Array(DeliveryItem, { description: 'at most 10' }) }),
});
export type DashboardReply = Static<typeof DashboardReply>;

const CURRENT_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

interface ReadingRow {
  host: string;
  name: string;
  attributes: Record<string, string>;
  value: ChNumber;
  at: ChNumber;
}

interface CounterRow {
  name: string;
  attributes: Record<string, string>;
  value: ChNumber;
}

interface HostInfoRow {
  name: string;
  id: string;
  os: string;
  osDescription: string;
  lastSeen: ChNumber;
}

interface DeliveryRow {
  key: string;
  channel: string;
  receiver: string;
  rule: string;
  severity: string;
  attempts: ChNumber;
  lastError: string;
  time: ChNumber;
}

export const overviewRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now, health }) => {
  const logs1m = storage.table('vigil_log_counts_1m');
  // Current readings from the latest-value table (migration 9): one row per series, whatever the history.
  const latest = storage.table(LATEST_TABLE);
  const readingsSql = `
SELECT Host AS host, MetricName AS name, Attributes AS attributes, argMaxMerge(Last) AS value, toUnixTimestamp64Milli(max(LastSeen)) AS at
FROM ${latest}
WHERE MetricName IN {names:Array(String)} AND Host != ''
GROUP BY host, name, attributes
HAVING at >= {from:Int64}`;
  const countersSql = `
SELECT name, attributes, sum(v) AS value FROM (
  SELECT Host, MetricName AS name, Attributes AS attributes, argMaxMerge(Last) AS v, max(LastSeen) AS seen
  FROM ${latest}
  WHERE NOT startsWith(MetricName, 'system.') AND NOT startsWith(MetricName, 'process.') AND NOT startsWith(MetricName, 'vigil.')
  GROUP BY Host, name, attributes
  HAVING seen >= fromUnixTimestamp64Milli({from:Int64}))
GROUP BY name, attributes ORDER BY name, toString(attributes) LIMIT 100`;
  // Identity, OS and last seen of every host with metrics in the last day, from the sources rollup.
  const hostsSql = hostsFromHostsTable(storage, 'metrics');
  const countsSql = `
SELECT sumIf(Count, Bucket >= toDateTime(intDiv({from5m:Int64}, 1000))) AS events5m, sumIf(Count, SeverityNumber >= 17) AS errors1h
FROM ${logs1m} WHERE Bucket >= toDateTime(intDiv({from1h:Int64}, 1000))`;
  const deliveriesTable = storage.table('vigil_deliveries');
  const failedSql = `
SELECT DeliveryKey AS key, Channel AS channel, Receiver AS receiver, Rule AS rule, Severity AS severity, Attempts AS attempts, Error AS lastError,
  toUnixTimestamp64Milli(Time) AS time
FROM ${deliveriesTable} FINAL
WHERE Status = 'failed' AND Time >= fromUnixTimestamp64Milli({from:Int64})
ORDER BY Time DESC LIMIT 10`;
  const failedCountSql = `SELECT count() AS n FROM ${deliveriesTable} FINAL WHERE Status = 'failed' AND Time >= fromUnixTimestamp64Milli({from:Int64})`;
  // The last 10 records of severity error or worse since `{from}`, read from the few minutes that
  // hold them: the per-minute log counts give the minute by which, counting back from the newest,
  // there are 10 (or the oldest of the 10 newest minutes with errors); none: an empty range.
  const errorsFromSql = `
SELECT if(length(bs) = 0, {to:Int64}, toInt64(toUnixTimestamp(bs[if(i = 0, length(bs), i)])) * 1000)
FROM (
  SELECT groupArray(b) AS bs, arrayFirstIndex(c -> c >= 10, arrayCumSum(groupArray(n))) AS i
  FROM (
    SELECT Bucket AS b, sum(Count) AS n FROM ${logs1m}
    WHERE SeverityNumber >= 17 AND Bucket >= toStartOfMinute(fromUnixTimestamp64Milli({from:Int64}))
    GROUP BY b ORDER BY b DESC LIMIT 10))`;
  const errorsSql = `WITH (${errorsFromSql}) AS errorsFrom
${eventsSql(storage.table('otel_logs'), { ...NO_FILTERS, minSeverity: 17 }, rawRangeOf('greatest({from:Int64}, errorsFrom)', '{to:Int64}'))}`;
  const alerts = alertQueries(storage);

  /** The health report's reads (current readings and application counters), for `readAll`. */
  const healthReads = (t: number) => ({
    readings: { sql: readingsSql, params: { names: RESOURCE_METRICS, from: t - CURRENT_MS } },
    counters: { sql: countersSql, params: { from: t - CURRENT_MS } },
  });

  /** Whether the engine answers, and how fast. */
  async function probe(): Promise<{ reachable: boolean; responseMs: number }> {
    const started = performance.now();
    const reachable = await storage.ping();
    return { reachable, responseMs: Math.round((performance.now() - started) * 10) / 10 };
  }

  function healthSummary(
    t: number,
    { reachable, responseMs }: { reachable: boolean; responseMs: number },
    readings: ReadingRow[],
    counters: CounterRow[],
  ): { summary: HealthSummary; resources: HostResources[] } {
    const resources = resourcesFromReadings(
      readings.map((r): LatestReading => ({ host: r.host, name: r.name, attributes: r.attributes, value: toNumber(r.value), at: toNumber(r.at) })),
    );
    const dependencies = health?.report().checks ?? {};
    const findings = [...databaseFindings({ reachable, responseMs }), ...dependencyFindings(dependencies), ...resourceFindings(resources)];
    return {
      resources,
      summary: {
        status: statusOf(findings),
        checkedAt: new Date(t).toISOString(),
        database: { status: reachable ? 'up' : 'down', responseMs },
        dependencies,
        resources: resources.map((h) => ({ ...h, lastSeen: isoFromMs(h.lastSeen), status: hostStatus(h.lastSeen, t) })),
        application: { counters: counters.map((c) => ({ name: c.name, attributes: c.attributes, value: toFiniteOrNull(c.value) ?? 0 })) },
        findings,
      },
    };
  }

  app.get<{ Reply: HealthSummary }>(
    '/health/summary',
    {
      config: { scope: 'read' },
      schema: {
        description:
          'The health report: database response time, each host\'s CPU, memory and disks (percent and free space), application counters; healthy, degraded or unhealthy by the built-in thresholds.',
        response: { 200: HealthSummary, ...errorResponses },
      },
    },
    async () => {
      const t = now();
      const db = await probe();
      const { readings, counters } = db.reachable
        ? await readAll<{ readings: ReadingRow; counters: CounterRow }>(storage, 'health summary', healthReads(t))
        : { readings: [], counters: [] };
      return healthSummary(t, db, readings, counters).summary;
    },
  );

  app.get<{ Reply: DashboardReply }>(
    '/dashboard',
    {
      config: { scope: 'read' },
      schema: {
        description: 'The dashboard summary in one call: health, hosts, key counts, alerts by level with the recent ones, the last errors, failed deliveries.',
        response: { 200: DashboardReply, ...errorResponses },
      },
    },
    async () => {
      const t = now();
      const db = await probe();
      // An engine that does not answer fails these reads too: 503, as any read.
      const rows = await readAll<{
        readings: ReadingRow;
        counters: CounterRow;
        hosts: HostInfoRow;
        counts: { events5m: ChNumber; errors1h: ChNumber };
        active: AlertRow;
        recent: AlertRow;
        errors: EventRow;
        failed: DeliveryRow;
        failedCount: { n: ChNumber };
      }>(storage, 'dashboard', {
        ...healthReads(t),
        hosts: { sql: hostsSql, params: { since: t - DAY_MS } },
        counts: { sql: countsSql, params: { from5m: t - 5 * 60_000, from1h: t - 3_600_000 } },
        active: { sql: alerts.active },
        recent: { sql: alerts.recent, params: { since: t - DAY_MS, limit: 10 } },
        errors: { sql: errorsSql, params: { from: t - DAY_MS, to: t + 1, minSeverity: 17, limit: 10 } },
        failed: { sql: failedSql, params: { from: t - DAY_MS } },
        failedCount: { sql: failedCountSql, params: { from: t - DAY_MS } },
      });
      const { summary, resources } = healthSummary(t, db, rows.readings, rows.counters);
      const byHost = new Map(resources.map((res) => [res.host, res]));
      const hosts = rows.hosts.map((h) => {
        const r = byHost.get(h.name);
        const lastSeen = Math.max(toNumber(h.lastSeen), r?.lastSeen ?? 0);
        const disk = r?.disks.reduce<number | null>((m, d) => (d.utilization === null ? m : Math.max(m ?? 0, d.utilization)), null) ?? null;
        return {
          name: h.name,
          id: h.id,
          os: h.os,
          osDescription: h.osDescription,
          lastSeen: isoFromMs(lastSeen),
          status: hostStatus(lastSeen, t),
          cpu: r?.cpu ?? null,
          memory: r?.memory ?? null,
          disk,
        };
      });
      const active = orderActive(rows.active.map(alertFromRow));
      const c = rows.counts[0];
      return {
        generatedAt: new Date(t).toISOString(),
        health: summary,
        hosts,
        metrics: {
          hostsUp: hosts.filter((h) => h.status === 'up').length,
          hostsTotal: hosts.length,
          events5m: c ? toNumber(c.events5m) : 0,
          errors1h: c ? toNumber(c.errors1h) : 0,
        },
        alerts: {
          counts: {
            critical: active.filter((a) => a.severity === 'critical').length,
            warning: active.filter((a) => a.severity === 'warning').length,
            info: active.filter((a) => a.severity === 'info').length,
          },
          active: active.slice(0, 20),
          recent: rows.recent.map(alertFromRow),
        },
        errors: rows.errors.map(eventFromRow),
        deliveries: {
          failed24h: rows.failedCount[0] ? toNumber(rows.failedCount[0].n) : 0,
          recentFailed: rows.failed.map((d) => ({
            key: d.key,
            channel: d.channel,
            receiver: d.receiver,
            rule: d.rule,
            severity: d.severity,
            attempts: toNumber(d.attempts),
            lastError: d.lastError,
            time: isoFromMs(d.time),
          })),
        },
      };
    },
  );
};

/** No filter set but severity. */
const NO_FILTERS = { host: '', service: '', event: '', category: '', fingerprint: '', q: '', minSeverity: 0 };
