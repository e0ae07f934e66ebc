import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { sinceStart } from '../parameters.js';
import { isoFromMs, readRows, toFiniteOrNull, toNumber, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

/**
 * GET /api/v1/entities: the status listing of MISSION C. An entity is what log parse rules count
 * per key: a metric `vigil.<kind>.<counter>` with the attribute `<kind>.id` (the tunnel pack's
 * `vigil.tunnel.connections{tunnel.id}`, a printer's `vigil.printer.errors{printer.id}`). Each
 * entity carries the newest value of every counter; `last_activity` (Unix seconds) becomes
 * lastActivity, and uptime is the counter `uptime` when reported, else the time since it was
 * first seen within the window.
 */

export const EntitiesQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'seen within, e.g. 1h, 7d; default 24h' })),
  kind: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_\\-]+$', description: 'only this kind, e.g. tunnel' })),
  host: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'only this host.name' })),
});
export type EntitiesQuery = Static<typeof EntitiesQuery>;

export const Entity = Type.Object({
  kind: Type.String({ description: 'tunnel, printer, container, ...' }),
  id: Type.String({ description: 'the value of <kind>.id' }),
  host: Type.String(),
  counters: Type.Record(Type.String(), Type.Number(), { description: 'newest value of each counter by name: connections, received, sent, errors, ...' }),
  firstSeen: Type.String(),
  lastSeen: Type.String({ description: 'newest data point' }),
  lastActivity: Type.Optional(Type.String({ description: 'from the last_activity counter' })),
  uptimeSeconds: Type.Number(),
});
export type Entity = Static<typeof Entity>;

export const EntitiesReply = Type.Object({ entities: Type.Array(Entity, { description: 'by kind, then id, then host' }) });
export type EntitiesReply = Static<typeof EntitiesReply>;

export interface EntityRow {
  kind: string;
  id: string;
  host: string;
  counter: string;
  value: ChNumber;
  first: ChNumber;
  last: ChNumber;
}

/** One row per (entity, counter) → one Entity each. */
export function entitiesFromRows(rows: readonly EntityRow[]): Entity[] {
  const out = new Map<string, Entity & { firstMs: number; lastMs: number }>();
  for (const r of rows) {
    const key = JSON.stringify([r.kind, r.id, r.host]);
    let e = out.get(key);
    const first = toNumber(r.first);
    const last = toNumber(r.last);
    if (!e) out.set(key, (e = { kind: r.kind, id: r.id, host: r.host, counters: {}, firstSeen: '', lastSeen: '', uptimeSeconds: 0, firstMs: first, lastMs: last }));
    e.firstMs = Math.min(e.firstMs, first);
    e.lastMs = Math.max(e.lastMs, last);
    const v = toFiniteOrNull(r.value);
    if (v !== null) e.counters[r.counter] = v;
  }
  return [...out.values()]
    .map(({ firstMs, lastMs, ...e }) => {
      const activity = e.counters['last_activity'];
      const uptime = e.counters['uptime'];
      return {
        ...e,
        firstSeen: isoFromMs(firstMs),
        lastSeen: isoFromMs(lastMs),
        ...(activity !== undefined && activity > 0 ? { lastActivity: new Date(activity * 1000).toISOString() } : {}),
        uptimeSeconds: uptime ?? Math.max(0, Math.round((lastMs - firstMs) / 1000)),
      };
    })
    .sort((a, b) => (a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : a.id !== b.id ? (a.id < b.id ? -1 : 1) : a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

const entitiesSql = (table: string) => `
SELECT kind, id, host, counter, argMaxMerge(Last) AS value,
  toUnixTimestamp(min(Bucket)) * 1000 AS first, toUnixTimestamp(max(Bucket)) * 1000 AS last
FROM (
  SELECT splitByChar('.', MetricName) AS parts, parts[2] AS kind, Attributes[concat(kind, '.id')] AS id, Host AS host,
    arrayStringConcat(arraySlice(parts, 3), '.') AS counter, Last, Bucket
  FROM ${table}
  WHERE startsWith(MetricName, 'vigil.') AND Bucket >= toDateTime(intDiv({since:Int64}, 1000))
    AND ({host:String} = '' OR Host = {host:String}))
WHERE length(parts) >= 3 AND id != '' AND ({kind:String} = '' OR kind = {kind:String})
GROUP BY kind, id, host, counter
ORDER BY kind, id, host, counter
LIMIT 50000`;

export const entitiesRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const sql = entitiesSql(storage.table('vigil_metrics_1m'));
  app.get<{ Querystring: EntitiesQuery; Reply: EntitiesReply }>(
    '/entities',
    {
      config: { scope: 'read' },
      schema: {
        description: 'Every entity the parse rules count (tunnels, printers, containers) with its counters, last activity and uptime.',
        querystring: EntitiesQuery,
        response: { 200: EntitiesReply, ...errorResponses },
      },
    },
    async (req) => {
      const since = sinceStart(req.query.since, 86_400_000, now());
      const rows = await readRows<EntityRow>(storage, 'entities', sql, { since, kind: req.query.kind ?? '', host: req.query.host ?? '' });
      return { entities: entitiesFromRows(rows) };
    },
  );
};
