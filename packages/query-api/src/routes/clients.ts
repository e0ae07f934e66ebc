import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { checkLimit, sinceStart } from '../parameters.js';
import { isoFromMs, readAll, readRows, toNumber, type ChNumber } from '../read-rows.js';
import { EventItem, HASH_EXPR, SEVERITY_EXPR, eventFromRow, type EventRow } from './events.js';
import { CLIENT_ID_EXPR } from '@vigil/platform';
import { SOURCES_REACH_MS, clientCountsFromSources, clientsFromHosts } from '../sources.js';
import type { RouteOptions } from './options.js';

/**
 * The point-of-sale fleet's questions (MISSION A), from the clients' own log records and events:
 * which clients were active (last activity, app version, OS), errors per client over a period,
 * activity in the last 5 minutes, and each client's start/stop history.
 *
 * A client is identified by service.instance.id, else host.id, else host.name: the stable id the
 * application (or its collector) reports.
 */

/** The same id the sources rollup keys clients by. */
const CLIENT_ID = CLIENT_ID_EXPR;

export const ClientsQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'active within, e.g. 1h (default), 24h' })),
  errors_since: Type.Optional(Type.String({ description: 'the period errors are counted over, default 24h' })),
});
export type ClientsQuery = Static<typeof ClientsQuery>;

export const Client = Type.Object({
  id: Type.String({ description: 'service.instance.id, else host.id, else host.name' }),
  name: Type.String({ description: 'host.name (the computer name)' }),
  service: Type.String(),
  version: Type.String({ description: 'service.version, else the app.version attribute of its newest event' }),
  os: Type.String(),
  osDescription: Type.String(),
  lastActivity: Type.String({ description: 'RFC 3339 of its newest record' }),
  lastEvent: Type.String({ description: 'event name (or body) of its newest record' }),
  events5m: Type.Integer({ description: 'records in the last 5 minutes' }),
  errors: Type.Integer({ description: 'records of severity error or worse within errors_since' }),
});
export type Client = Static<typeof Client>;

export const ClientsReply = Type.Object({ clients: Type.Array(Client, { description: 'most recently active first' }) });
export type ClientsReply = Static<typeof ClientsReply>;

export const LifecycleQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'how far back, default 7d' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most events returned (1 to 1000)' }),
});
export type LifecycleQuery = Static<typeof LifecycleQuery>;

export const LifecycleReply = Type.Object({
  id: Type.String(),
  events: Type.Array(EventItem, { description: 'app.startup and app.shutdown records, newest first' }),
});
export type LifecycleReply = Static<typeof LifecycleReply>;

interface ClientRow {
  id: string;
  name: string;
  service: string;
  version: string;
  os: string;
  osDescription: string;
  last: ChNumber;
  lastEvent: string;
  events5m: ChNumber;
  errors: ChNumber;
}

const clientsSql = (table: string) => `
SELECT ${CLIENT_ID} AS id,
  argMax(ResourceAttributes['host.name'], Timestamp) AS name,
  argMax(ServiceName, Timestamp) AS service,
  argMaxIf(if(ResourceAttributes['service.version'] != '', ResourceAttributes['service.version'], LogAttributes['app.version']), Timestamp,
           ResourceAttributes['service.version'] != '' OR LogAttributes['app.version'] != '') AS version,
  argMaxIf(ResourceAttributes['os.type'], Timestamp, ResourceAttributes['os.type'] != '') AS os,
  argMaxIf(ResourceAttributes['os.description'], Timestamp, ResourceAttributes['os.description'] != '') AS osDescription,
  toUnixTimestamp64Milli(max(Timestamp)) AS last,
  argMax(if(EventName != '', EventName, substring(Body, 1, 120)), Timestamp) AS lastEvent,
  countIf(Timestamp >= fromUnixTimestamp64Milli({from5m:Int64})) AS events5m,
  countIf(Timestamp >= fromUnixTimestamp64Milli({errorsFrom:Int64}) AND ${SEVERITY_EXPR} >= 17) AS errors
FROM ${table}
WHERE TimestampTime >= toDateTime(intDiv({scanFrom:Int64}, 1000)) AND Timestamp >= fromUnixTimestamp64Milli({scanFrom:Int64})
GROUP BY id
HAVING id != '' AND last >= {activeFrom:Int64}
ORDER BY last DESC, id
LIMIT 5000`;

const lifecycleSql = (table: string) => `
SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns,
  toString(${HASH_EXPR}) AS h,
  SeverityText AS severityText, SeverityNumber AS severityNumber, EventName AS eventName, Body AS body,
  ResourceAttributes['host.name'] AS host, ServiceName AS service, LogAttributes AS attributes, ResourceAttributes AS resource, TraceId AS traceId
FROM ${table}
WHERE TimestampTime >= toDateTime(intDiv({since:Int64}, 1000)) AND Timestamp >= fromUnixTimestamp64Milli({since:Int64})
  AND EventName IN ('app.startup', 'app.shutdown') AND ${CLIENT_ID} = {id:String}
ORDER BY Timestamp DESC, ${HASH_EXPR} DESC
LIMIT {limit:UInt32}`;

export const clientsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const table = storage.table('otel_logs');
  const fromHosts = clientsFromHosts(storage);
  const counts = clientCountsFromSources(storage);
  // Beyond the sources rollup's 8 days: the raw logs.
  const list = clientsSql(table);
  const lifecycle = lifecycleSql(table);
  app.get<{ Querystring: ClientsQuery; Reply: ClientsReply }>(
    '/clients',
    {
      config: { scope: 'read' },
      schema: {
        description: 'Clients active within since: last activity, app version, OS, activity in the last 5 minutes and errors within errors_since.',
        querystring: ClientsQuery,
        response: { 200: ClientsReply, ...errorResponses },
      },
    },
    async (req) => {
      const t = now();
      const activeFrom = sinceStart(req.query.since, 3_600_000, t);
      const errorsFrom = sinceStart(req.query.errors_since, 86_400_000, t, 'errors_since');
      const scanFrom = Math.min(activeFrom, errorsFrom, t - 300_000);
      const params = { scanFrom, activeFrom, errorsFrom, from5m: t - 300_000 };
      let rows: ClientRow[];
      if (t - scanFrom <= SOURCES_REACH_MS) {
        // Who and what from the hosts table, the counts from the per-minute sources: one statement on the embedded engine.
        const r = await readAll<{ clients: Omit<ClientRow, 'events5m' | 'errors'>; counts: { id: string; events5m: ChNumber; errors: ChNumber } }>(storage, 'clients', {
          clients: { sql: fromHosts, params },
          counts: { sql: counts, params },
        });
        const byId = new Map(r.counts.map((c) => [c.id, c]));
        rows = r.clients.map((c) => ({ ...c, events5m: byId.get(c.id)?.events5m ?? 0, errors: byId.get(c.id)?.errors ?? 0 }));
      } else rows = await readRows<ClientRow>(storage, 'clients', list, params);
      return {
        clients: rows.map((r) => ({
          id: r.id,
          name: r.name,
          service: r.service,
          version: r.version,
          os: r.os,
          osDescription: r.osDescription,
          lastActivity: isoFromMs(r.last),
          lastEvent: r.lastEvent,
          events5m: toNumber(r.events5m),
          errors: toNumber(r.errors),
        })),
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: LifecycleQuery; Reply: LifecycleReply }>(
    '/clients/:id/lifecycle',
    {
      config: { scope: 'read' },
      schema: {
        description: "A client's start/stop history (app.startup and app.shutdown events), newest first.",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: 'the client id, as GET /api/v1/clients lists it' }) }),
        querystring: LifecycleQuery,
        response: { 200: LifecycleReply, ...errorResponses },
      },
    },
    async (req) => {
      const since = sinceStart(req.query.since, 7 * 86_400_000, now());
      const limit = checkLimit(req.query.limit);
      const rows = await readRows<EventRow>(storage, 'client lifecycle', lifecycle, { since, id: req.params.id, limit });
      return { id: req.params.id, events: rows.map(eventFromRow) };
    },
  );
};
