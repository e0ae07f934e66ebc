import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { SEVERITY_FLOOR, SEVERITY_NAMES, checkLimit, severityName, sinceStart, type SeverityName } from '../parameters.js';
import { isoFromMs, readRows, toNumber, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

export const EventsQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'how far back to look, e.g. 5m, 1h; default 1h' })),
  host: Type.Optional(Type.String({ minLength: 1, description: 'only this host.name' })),
  severity: Type.Optional(
    Type.Unsafe<SeverityName>({ type: 'string', enum: SEVERITY_NAMES, description: 'minimum severity: trace, debug, info, warn, error or fatal' }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most events returned (1 to 1000)' }),
});
export type EventsQuery = Static<typeof EventsQuery>;

export const EventItem = Type.Object({
  timestamp: Type.String({ description: 'RFC 3339, millisecond precision' }),
  severity: Type.String({ description: 'SeverityText, or the name of SeverityNumber when no text was sent' }),
  severityNumber: Type.Integer({ description: 'OpenTelemetry SeverityNumber, 0 when unspecified' }),
  eventName: Type.String(),
  body: Type.String(),
  host: Type.String({ description: "the resource's host.name" }),
  service: Type.String({ description: 'service.name' }),
  attributes: Type.Record(Type.String(), Type.String()),
});
export type EventItem = Static<typeof EventItem>;

export const EventsReply = Type.Object({ events: Type.Array(EventItem, { description: 'newest first' }) });
export type EventsReply = Static<typeof EventsReply>;

export const DEFAULT_EVENTS_SINCE_MS = 3_600_000;

interface EventRow {
  ts: ChNumber;
  severityText: string;
  severityNumber: ChNumber;
  eventName: string;
  body: string;
  host: string;
  service: string;
  attributes: Record<string, string>;
}

export function eventFromRow(r: EventRow): EventItem {
  const severityNumber = toNumber(r.severityNumber);
  return {
    timestamp: isoFromMs(r.ts),
    severity: r.severityText || severityName(severityNumber),
    severityNumber,
    eventName: r.eventName,
    body: r.body,
    host: r.host,
    service: r.service,
    attributes: r.attributes,
  };
}

/**
 * A record without SeverityNumber is ranked by its SeverityText, so `severity=error` still finds
 * "ERROR" lines from sources that only send text.
 */
const eventsSql = (table: string) => `
SELECT toUnixTimestamp64Milli(Timestamp) AS ts, SeverityText AS severityText, SeverityNumber AS severityNumber,
  EventName AS eventName, Body AS body, ResourceAttributes['host.name'] AS host, ServiceName AS service,
  LogAttributes AS attributes
FROM ${table}
WHERE TimestampTime >= toDateTime(intDiv({since:Int64}, 1000)) AND Timestamp >= fromUnixTimestamp64Milli({since:Int64})
  AND ({host:String} = '' OR ResourceAttributes['host.name'] = {host:String})
  AND if(SeverityNumber > 0, SeverityNumber,
         transform(upper(SeverityText), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'],
                   [1, 5, 9, 13, 13, 17, 21, 21], 0)) >= {minSeverity:UInt8}
ORDER BY Timestamp DESC
LIMIT {limit:UInt32}`;

export const eventsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const sql = eventsSql(storage.table('otel_logs'));
  app.get<{ Querystring: EventsQuery; Reply: EventsReply }>(
    '/events',
    { config: { scope: 'read' }, schema: { querystring: EventsQuery, response: { 200: EventsReply, ...errorResponses } } },
    async (req) => {
      const since = sinceStart(req.query.since, DEFAULT_EVENTS_SINCE_MS, now());
      const limit = checkLimit(req.query.limit);
      const rows = await readRows<EventRow>(storage, 'events', sql, {
        since,
        host: req.query.host ?? '',
        minSeverity: req.query.severity ? SEVERITY_FLOOR[req.query.severity] : 0,
        limit,
      });
      return { events: rows.map(eventFromRow) };
    },
  );
};
