import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../errors.js';
import { sinceStart } from '../parameters.js';
import { isoFromMs, readRows, type ChNumber } from '../read-rows.js';
import { SOURCES_REACH_MS, hostsFromHostsTable } from '../sources.js';
import type { RouteOptions } from './options.js';

export const HostsQuery = Type.Object({
  since: Type.Optional(Type.String({ description: 'how far back to look, e.g. 1h, 7d; default 24h' })),
});
export type HostsQuery = Static<typeof HostsQuery>;

export const Host = Type.Object({
  name: Type.String({ description: 'host.name' }),
  id: Type.String({ description: 'host.id; empty when never reported' }),
  os: Type.String({ description: 'os.type' }),
  osDescription: Type.String({ description: 'os.description' }),
  lastSeen: Type.String({ description: 'RFC 3339 of the newest metric point or log record' }),
  services: Type.Array(Type.String(), { description: 'service.name values seen on this host' }),
});
export type Host = Static<typeof Host>;

export const HostsReply = Type.Object({ hosts: Type.Array(Host) });
export type HostsReply = Static<typeof HostsReply>;

export const DEFAULT_HOSTS_SINCE_MS = 86_400_000;

interface HostRow {
  name: string;
  id: string;
  os: string;
  osDescription: string;
  lastSeen: ChNumber;
  services: string[];
}

/**
 * Each table is reduced to one row per host first, then the three are merged. For id and OS the
 * newest non-empty value wins, so a record that lacks them does not blank what is known.
 */
const hostsSql = (tables: { table: string; time: string; prune?: string }[]) => {
  const perTable = tables.map(
    ({ table, time, prune }) => `
    SELECT ResourceAttributes['host.name'] AS name,
      argMaxIf(ResourceAttributes['host.id'], ${time}, ResourceAttributes['host.id'] != '') AS id,
      argMaxIf(ResourceAttributes['os.type'], ${time}, ResourceAttributes['os.type'] != '') AS os,
      argMaxIf(ResourceAttributes['os.description'], ${time}, ResourceAttributes['os.description'] != '') AS osDescription,
      toUnixTimestamp64Milli(max(${time})) AS seen,
      groupUniqArray(ServiceName) AS services
    FROM ${table}
    WHERE ${prune ? `${prune} AND ` : ''}${time} >= fromUnixTimestamp64Milli({since:Int64}) AND ResourceAttributes['host.name'] != ''
    GROUP BY name`,
  );
  return `
SELECT name,
  argMaxIf(id, seen, id != '') AS id,
  argMaxIf(os, seen, os != '') AS os,
  argMaxIf(osDescription, seen, osDescription != '') AS osDescription,
  max(seen) AS lastSeen,
  arraySort(arrayFilter(s -> s != '', arrayDistinct(arrayFlatten(groupArray(services))))) AS services
FROM (${perTable.join('\n  UNION ALL')}
)
GROUP BY name
ORDER BY name`;
};

export const hostsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { storage, now }) => {
  const fromTable = hostsFromHostsTable(storage);
  // Beyond the sources rollup's 8 days: the raw tables.
  const sql = hostsSql([
    { table: storage.table('otel_metrics_gauge'), time: 'TimeUnix' },
    { table: storage.table('otel_metrics_sum'), time: 'TimeUnix' },
    // otel_logs is partitioned and ordered by the second-precision TimestampTime.
    { table: storage.table('otel_logs'), time: 'Timestamp', prune: 'TimestampTime >= toDateTime(intDiv({since:Int64}, 1000))' },
  ]);
  app.get<{ Querystring: HostsQuery; Reply: HostsReply }>(
    '/hosts',
    { config: { scope: 'read' }, schema: { querystring: HostsQuery, response: { 200: HostsReply, ...errorResponses } } },
    async (req) => {
      const t = now();
      const since = sinceStart(req.query.since, DEFAULT_HOSTS_SINCE_MS, t);
      const rows = await readRows<HostRow>(storage, 'hosts', t - since <= SOURCES_REACH_MS ? fromTable : sql, { since });
      return {
        hosts: rows.map((r) => ({
          name: r.name,
          id: r.id,
          os: r.os,
          osDescription: r.osDescription,
          lastSeen: isoFromMs(r.lastSeen),
          services: r.services,
        })),
      };
    },
  );
};
