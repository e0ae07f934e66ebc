import { HOSTS_TABLE, SOURCES_TABLE, type Storage } from '@vigil/platform';

/**
 * Hosts from the hosts table (`vigil_hosts`, migration 10) and clients from the per-minute
 * sources rollup (`vigil_sources_1m`, migration 8) that feeds it: who reported, when last, with
 * which identity, and how many records and errors, in tens or thousands of rows instead of a day
 * of raw points. Both hold 8 days; windows reaching further read the raw tables (the routes keep
 * those queries).
 */
export const SOURCES_DAYS = 8;
/** A window the rollup answers: starting at most this long ago (a minute of margin for its TTL). */
export const SOURCES_REACH_MS = SOURCES_DAYS * 86_400_000 - 60_000;

const bucketFrom = (param: string) => `Bucket >= toStartOfMinute(fromUnixTimestamp64Milli({${param}:Int64}))`;

/**
 * One row per host.name seen since `{since}`: its newest non-empty host.id and OS, when it was
 * last seen, and the services it reported as since then; from metrics and logs, or metrics only
 * (machines with a collector, as the dashboard lists them). Read from the hosts table (migration
 * 10): a few rows per host, whatever the window. Each row's LastSeen is the newest of the part it
 * is in, so a service counts when any of its rows is in the window.
 */
export function hostsFromHostsTable(storage: Storage, signals: 'all' | 'metrics' = 'all'): string {
  return `
SELECT Host AS name, argMaxIfMerge(HostId) AS id, argMaxIfMerge(OsType) AS os, argMaxIfMerge(OsDescription) AS osDescription,
  toUnixTimestamp64Milli(max(LastSeen)) AS lastSeen,
  arraySort(arrayFilter(s -> s != '', groupUniqArrayIf(ServiceName, LastSeen >= fromUnixTimestamp64Milli({since:Int64})))) AS services
FROM ${storage.table(HOSTS_TABLE)}
WHERE Host != ''${signals === 'metrics' ? " AND Signal = 'metrics'" : ''}
GROUP BY name
HAVING lastSeen >= {since:Int64}
ORDER BY name`;
}

/**
 * One row per client (its stable id) active since `{activeFrom}`: host, service, version, OS,
 * last activity and event, from the hosts table (migration 10: newest values, a few rows per client).
 */
export function clientsFromHosts(storage: Storage): string {
  return `
SELECT Client AS id, argMax(Host, LastSeen) AS name, argMax(ServiceName, LastSeen) AS service, argMaxIfMerge(Version) AS version,
  argMaxIfMerge(OsType) AS os, argMaxIfMerge(OsDescription) AS osDescription, toUnixTimestamp64Milli(max(LastSeen)) AS last,
  argMaxMerge(LastEvent) AS lastEvent
FROM ${storage.table(HOSTS_TABLE)}
WHERE Signal = 'logs' AND Client != ''
GROUP BY id
HAVING last >= {activeFrom:Int64}
ORDER BY last DESC, id
LIMIT 5000`;
}

/**
 * Records since `{from5m}` and errors since `{errorsFrom}` per client, from the sources rollup
 * (counted by whole minutes: a minute that began before the bound counts whole).
 */
export function clientCountsFromSources(storage: Storage): string {
  return `
SELECT Client AS id, sumIf(Records, ${bucketFrom('from5m')}) AS events5m, sumIf(Errors, ${bucketFrom('errorsFrom')}) AS errors
FROM ${storage.table(SOURCES_TABLE)}
WHERE Signal = 'logs' AND Client != '' AND ${bucketFrom('scanFrom')}
GROUP BY id`;
}
