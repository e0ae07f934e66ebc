import { LOG_SEVERITY_EXPR } from '@vigil/platform';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { SEVERITY_FLOOR, SEVERITY_NAMES, checkLimit, decodeCursor, encodeCursor, planWindow, severityName, type SeverityName } from '../parameters.js';
import { groupsFromRecords, groupsFromRollups, rawWhere, rollupsAnswer, type GroupFilters } from '../error-groups.js';
import { readRows, toNumber, type ChNumber } from '../read-rows.js';
import type { RouteOptions } from './options.js';

const filter = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

export const EventsQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'how far back to look, e.g. 5m, 1h; default 1h (ignored when from is given)' })),
  from: Type.Optional(Type.String({ description: 'Unix milliseconds or RFC 3339; instead of since' })),
  to: Type.Optional(Type.String({ description: 'Unix milliseconds or RFC 3339; default now' })),
  q: filter('text the body contains, case-insensitive'),
  host: filter('only this host.name'),
  service: filter('only this service.name'),
  event: filter('only this event name, e.g. app.startup'),
  category: filter('only this vigil.category, e.g. database_connection'),
  fingerprint: filter('only this error fingerprint (vigil.error.fingerprint)'),
  severity: Type.Optional(
    Type.Unsafe<SeverityName>({ type: 'string', enum: SEVERITY_NAMES, description: 'minimum severity: trace, debug, info, warn, error or fatal' }),
  ),
  group: Type.Optional(Type.Unsafe<'fingerprint'>({ type: 'string', enum: ['fingerprint'], description: 'fingerprint: which errors, how often, since when (groups instead of events)' })),
  cursor: Type.Optional(Type.String({ maxLength: 100, description: 'the `next` of the previous page' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most events (or groups) returned (1 to 1000)' }),
});
export type EventsQuery = Static<typeof EventsQuery>;

export const EventItem = Type.Object({
  id: Type.String({ description: 'stable key of the record: its cursor' }),
  timestamp: Type.String({ description: 'RFC 3339, millisecond precision' }),
  severity: Type.String({ description: 'SeverityText, or the name of SeverityNumber when no text was sent' }),
  severityNumber: Type.Integer({ description: 'OpenTelemetry SeverityNumber, 0 when unspecified' }),
  eventName: Type.String(),
  body: Type.String(),
  host: Type.String({ description: "the resource's host.name" }),
  service: Type.String({ description: 'service.name' }),
  attributes: Type.Record(Type.String(), Type.String(), { description: 'log attributes; a stack trace is exception.stacktrace' }),
  resource: Type.Record(Type.String(), Type.String(), { description: 'resource attributes' }),
  traceId: Type.String(),
});
export type EventItem = Static<typeof EventItem>;

export const ErrorGroup = Type.Object({
  fingerprint: Type.String(),
  count: Type.Integer(),
  firstSeen: Type.String({ description: 'RFC 3339 of the oldest record in the window' }),
  lastSeen: Type.String(),
  body: Type.String({ description: 'the newest record body' }),
  eventName: Type.String(),
  severity: Type.String({ description: 'the highest severity seen' }),
  hosts: Type.Array(Type.String(), { description: 'up to 10 hosts' }),
  services: Type.Array(Type.String(), { description: 'up to 10 services' }),
});
export type ErrorGroup = Static<typeof ErrorGroup>;

export const EventsReply = Type.Object({
  events: Type.Array(EventItem, { description: 'newest first (empty with group=fingerprint)' }),
  next: Type.Optional(Type.String({ description: 'cursor of the next page; absent on the last page' })),
  groups: Type.Optional(Type.Array(ErrorGroup, { description: 'with group=fingerprint: most frequent first' })),
});
export type EventsReply = Static<typeof EventsReply>;

export const DEFAULT_EVENTS_SINCE_MS = 3_600_000;

/** ns and h come as decimal strings: as JSON numbers (chDB does not quote 64-bit integers) they would lose digits. */
export interface EventRow {
  ns: string;
  h: string;
  severityText: string;
  severityNumber: ChNumber;
  eventName: string;
  body: string;
  host: string;
  service: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
  traceId: string;
}

export function eventFromRow(r: EventRow): EventItem {
  const severityNumber = toNumber(r.severityNumber);
  const ns = BigInt(r.ns);
  return {
    id: encodeCursor({ ns, hash: BigInt(r.h) }),
    timestamp: new Date(Number(ns / 1_000_000n)).toISOString(),
    severity: r.severityText || severityName(severityNumber),
    severityNumber,
    eventName: r.eventName,
    body: r.body,
    host: r.host,
    service: r.service,
    attributes: r.attributes,
    resource: r.resource,
    traceId: r.traceId,
  };
}

/** SeverityNumber, or for records that only carry text ("WARNING"), the number of the text. */
/** A record's severity number, from its text when it has none (the log counts rollup ranks them the same). */
export const SEVERITY_EXPR = LOG_SEVERITY_EXPR;

/** The stable tie-break of records with the same timestamp: a hash of what they hold. */
export const HASH_EXPR = 'cityHash64(Timestamp, Body, ResourceAttributes, LogAttributes, SeverityNumber, EventName, TraceId, SpanId)';

/**
 * Records newest first, with the filters set in `f`, in `[{from}, {to})` or the range given;
 * `after`: past a cursor (`{afterNs}`, `{afterHash}`).
 */
export const eventsSql = (table: string, f: GroupFilters & { after?: boolean }, range?: string) => `
SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, toString(${HASH_EXPR}) AS h, SeverityText AS severityText, SeverityNumber AS severityNumber,
  EventName AS eventName, Body AS body, ResourceAttributes['host.name'] AS host, ServiceName AS service,
  LogAttributes AS attributes, ResourceAttributes AS resource, TraceId AS traceId
FROM ${table}
WHERE ${rawWhere(f, '', range)}${f.after ? `
  AND (toUnixTimestamp64Nano(Timestamp), ${HASH_EXPR}) < ({afterNs:Int64}, {afterHash:UInt64})` : ''}
ORDER BY Timestamp DESC, ${HASH_EXPR} DESC
LIMIT {limit:UInt32}`;

/** The first slice a long window is searched in, and how much longer each next one is. */
const FIRST_SLICE_MS = 3_600_000;
const SLICE_GROWTH = 4;

/**
 * `[from, to)` cut into half-open slices from the newest: an hour, then four times longer each
 * time, the last clipped at `from`. Records are returned newest first, so the slices are searched
 * in this order and the search stops once a page is full: a common match over a week reads its
 * last hour, not the week, and a rare one reads the week in a few statements instead of one.
 */
export function newestFirstSlices(fromMs: number, toMs: number, firstMs = FIRST_SLICE_MS, growth = SLICE_GROWTH): [number, number][] {
  const out: [number, number][] = [];
  let end = toMs;
  let size = firstMs;
  while (end > fromMs) {
    // A slice that would leave less than itself behind takes the rest: no sliver of a last query.
    const start = end - size * 2 <= fromMs ? fromMs : end - size;
    out.push([start, end]);
    end = start;
    size *= growth;
  }
  return out;
}

export const eventsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const table = storage.table('otel_logs');
  app.get<{ Querystring: EventsQuery; Reply: EventsReply }>(
    '/events',
    {
      config: { scope: 'read' },
      schema: {
        description: 'Log records and events, newest first, filtered; pages by cursor; group=fingerprint counts errors by fingerprint.',
        querystring: EventsQuery,
        response: { 200: EventsReply, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const { fromMs, toMs } = planWindow(q, DEFAULT_EVENTS_SINCE_MS, now());
      const limit = checkLimit(q.limit);
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const params = {
        from: fromMs,
        to: toMs,
        host: q.host ?? '',
        service: q.service ?? '',
        event: q.event ?? '',
        category: q.category ?? '',
        fingerprint: q.fingerprint ?? '',
        q: q.q ?? '',
        minSeverity: q.severity ? SEVERITY_FLOOR[q.severity] : 0,
        limit,
      };
      if (q.group === 'fingerprint') {
        const query = { ...params, fromMs, toMs };
        return { events: [], groups: rollupsAnswer(query) ? await groupsFromRollups(storage, query, now()) : await groupsFromRecords(storage, query) };
      }
      // A page after a cursor starts at the cursor's millisecond (its other records may follow it).
      const end = after ? Math.min(toMs, Number(after.ns / 1_000_000n) + 1) : toMs;
      const events = eventsSql(table, { ...params, after: after !== undefined });
      const cursor = after ? { afterNs: after.ns.toString(), afterHash: after.hash.toString() } : {};
      const rows: EventRow[] = [];
      for (const [from, to] of newestFirstSlices(fromMs, end)) {
        rows.push(...(await readRows<EventRow>(storage, 'events', events, { ...params, ...cursor, from, to, limit: limit - rows.length })));
        if (rows.length >= limit) break;
      }
      const items = rows.map(eventFromRow);
      const last = items.at(-1);
      return { events: items, ...(items.length === limit && last ? { next: last.id } : {}) };
    },
  );
};
