import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AlertSeverity, AlertStatus, Storage } from '@vigil/platform';
import { errorResponses } from '../errors.js';
import { checkLimit, sinceStart } from '../parameters.js';
import { isoFromMs, readRows, toNumber, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

export const AlertsQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'how far back `recent` goes, e.g. 1h, 7d; default 24h' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most transitions in `recent` (1 to 1000)' }),
});
export type AlertsQuery = Static<typeof AlertsQuery>;

/** An AlertTransition as stored, plus `at`: when the transition happened. */
export const AlertItem = Type.Object({
  fingerprint: Type.String(),
  status: Type.Unsafe<AlertStatus>({ type: 'string', enum: ['firing', 'resolved'] }),
  severity: Type.Unsafe<AlertSeverity>({ type: 'string', enum: ['info', 'warning', 'critical'] }),
  labels: Type.Record(Type.String(), Type.String()),
  annotations: Type.Record(Type.String(), Type.String()),
  startsAt: Type.String({ description: 'RFC 3339' }),
  endsAt: Type.Optional(Type.String({ description: 'RFC 3339; only once resolved' })),
  value: Type.Number(),
  rule: Type.String(),
  window: Type.Number({ description: 'aggregation window in ms' }),
  at: Type.String({ description: 'RFC 3339 of the transition' }),
});
export type AlertItem = Static<typeof AlertItem>;

export const AlertsReply = Type.Object({
  active: Type.Array(AlertItem, { description: 'alerts whose latest transition is firing, most severe first, then newest' }),
  recent: Type.Array(AlertItem, { description: 'transitions within `since`, newest first' }),
});
export type AlertsReply = Static<typeof AlertsReply>;

export const DEFAULT_ALERTS_SINCE_MS = 86_400_000;

export interface AlertRow {
  fingerprint: string;
  status: AlertStatus;
  severity: AlertSeverity;
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: ChNumber;
  endsAt: ChNumber;
  value: ChNumber;
  window: ChNumber;
  at: ChNumber;
}

export function alertFromRow(r: AlertRow): AlertItem {
  const endsAt = toNumber(r.endsAt);
  return {
    fingerprint: r.fingerprint,
    status: r.status,
    severity: r.severity,
    labels: r.labels,
    annotations: r.annotations,
    startsAt: isoFromMs(r.startsAt),
    // A firing transition is stored with EndsAt at the epoch.
    ...(endsAt > 0 ? { endsAt: isoFromMs(endsAt) } : {}),
    value: toNumber(r.value),
    rule: r.rule,
    window: toNumber(r.window),
    at: isoFromMs(r.at),
  };
}

const SEVERITY_RANK = { critical: 3, warning: 2, info: 1 } as const;

/** Most severe first, then the newest episode. */
export function orderActive(items: AlertItem[]): AlertItem[] {
  return [...items].sort(
    (a, b) =>
      (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) ||
      Date.parse(b.startsAt) - Date.parse(a.startsAt) ||
      (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0),
  );
}

/** Stored column (as ms numbers where it is a time) → field of the reply. */
const FIELDS: [expr: string, name: keyof AlertRow][] = [
  ['Fingerprint', 'fingerprint'],
  ['Status', 'status'],
  ['Severity', 'severity'],
  ['Rule', 'rule'],
  ['Labels', 'labels'],
  ['Annotations', 'annotations'],
  ['toUnixTimestamp64Milli(StartsAt)', 'startsAt'],
  ['toUnixTimestamp64Milli(EndsAt)', 'endsAt'],
  ['Value', 'value'],
  ['WindowMs', 'window'],
  ['toUnixTimestamp64Milli(EventTime)', 'at'],
];

/**
 * The latest transition of each fingerprint: the newest episode (StartsAt), in it resolved over
 * firing, then the newest transition time (an escalation). Episode first, not EventTime, because a
 * firing re-published after a restart is dated by its Kafka record and can be later than the
 * resolve it precedes. argMax over whole rows makes replayed duplicates harmless.
 */
const activeSql = (table: string) => `
SELECT ${FIELDS.map(([, name], i) => `latest.${i + 1} AS \`${name}\``).join(', ')}
FROM (
  SELECT argMax(tuple(${FIELDS.map(([expr]) => expr).join(', ')}), tuple(StartsAt, Status = 'resolved', EventTime)) AS latest
  FROM ${table}
  GROUP BY Fingerprint
)
WHERE status = 'firing'`;

/**
 * FINAL collapses rows with the same (Fingerprint, StartsAt, Status, Severity): a replayed insert
 * can leave such duplicates until the next merge.
 */
const recentSql = (table: string) => `
SELECT ${FIELDS.map(([expr, name]) => `${expr} AS \`${name}\``).join(', ')}
FROM ${table} FINAL
WHERE EventTime >= fromUnixTimestamp64Milli({since:Int64})
ORDER BY EventTime DESC, StartsAt DESC, Status = 'resolved' DESC, Fingerprint
LIMIT {limit:UInt32}`;

/** The active and recent queries over a storage's alert history (`{since:Int64}`, `{limit:UInt32}` for recent). */
export function alertQueries(storage: Storage): { active: string; recent: string } {
  const table = storage.table('vigil_alerts');
  return { active: activeSql(table), recent: recentSql(table) };
}

export const alertsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const { active, recent } = alertQueries(storage);
  app.get<{ Querystring: AlertsQuery; Reply: AlertsReply }>(
    '/alerts',
    { config: { scope: 'read' }, schema: { querystring: AlertsQuery, response: { 200: AlertsReply, ...errorResponses } } },
    async (req) => {
      const since = sinceStart(req.query.since, DEFAULT_ALERTS_SINCE_MS, now());
      const limit = checkLimit(req.query.limit);
      const [activeRows, recentRows] = await Promise.all([
        readRows<AlertRow>(storage, 'active alerts', active, {}),
        readRows<AlertRow>(storage, 'recent alerts', recent, { since, limit }),
      ]);
      return { active: orderActive(activeRows.map(alertFromRow)), recent: recentRows.map(alertFromRow) };
    },
  );
};
