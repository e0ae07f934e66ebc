/**
 * The brief's health report (MISSION B) as plain functions over plain data: the latest resource
 * readings of each host, judged against the built-in thresholds (CPU and memory warning 70 %,
 * critical 90 %; disk warning 80 %, critical 90 %; database response warning 500 ms, critical
 * 1000 ms; database unreachable critical at once), rolled up into healthy, degraded or unhealthy.
 */

export type HealthLevel = 'healthy' | 'degraded' | 'unhealthy';
export type FindingLevel = 'warning' | 'critical';

export interface Threshold {
  warning: number;
  critical: number;
}

export const THRESHOLDS = {
  cpu: { warning: 0.7, critical: 0.9 },
  memory: { warning: 0.7, critical: 0.9 },
  disk: { warning: 0.8, critical: 0.9 },
  databaseMs: { warning: 500, critical: 1000 },
} as const satisfies Record<string, Threshold>;

export interface Finding {
  check: 'cpu' | 'memory' | 'disk' | 'database' | 'dependency';
  /** What was judged: a host (and mountpoint), the database, a dependency's name. */
  subject: string;
  level: FindingLevel;
  value: number;
  message: string;
}

export function levelOf(value: number | null | undefined, t: Threshold): FindingLevel | undefined {
  if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
  return value >= t.critical ? 'critical' : value >= t.warning ? 'warning' : undefined;
}

/** Any critical finding makes the whole unhealthy; any warning, degraded. */
export function statusOf(findings: readonly Finding[]): HealthLevel {
  return findings.some((f) => f.level === 'critical') ? 'unhealthy' : findings.length > 0 ? 'degraded' : 'healthy';
}

/** The newest reading of one series, as the summary queries return it. */
export interface LatestReading {
  host: string;
  name: string;
  attributes: Record<string, string>;
  value: number;
  /** Unix ms of the reading. */
  at: number;
}

export interface DiskState {
  mountpoint: string;
  /** Fraction used, 0 to 1. */
  utilization: number | null;
  freeBytes: number | null;
}

export interface HostResources {
  host: string;
  /** Unix ms of the newest reading. */
  lastSeen: number;
  /** Busy fraction: every cpu.mode but idle, summed. */
  cpu: number | null;
  memory: number | null;
  load1: number | null;
  disks: DiskState[];
}

export const RESOURCE_METRICS = [
  'system.cpu.utilization',
  'system.memory.utilization',
  'system.filesystem.utilization',
  'system.filesystem.usage',
  'system.cpu.load_average.1m',
] as const;

const modeOf = (a: Record<string, string>) => a['cpu.mode'] ?? a['state'] ?? '';
const mountOf = (a: Record<string, string>) => a['system.filesystem.mountpoint'] ?? a['mountpoint'] ?? '';

/** Latest readings of RESOURCE_METRICS → one HostResources per host, sorted by name. */
export function resourcesFromReadings(readings: readonly LatestReading[]): HostResources[] {
  const hosts = new Map<string, HostResources & { disksByMount: Map<string, DiskState> }>();
  for (const r of readings) {
    let h = hosts.get(r.host);
    if (!h) hosts.set(r.host, (h = { host: r.host, lastSeen: r.at, cpu: null, memory: null, load1: null, disks: [], disksByMount: new Map() }));
    h.lastSeen = Math.max(h.lastSeen, r.at);
    const disk = (mount: string) => {
      let d = h!.disksByMount.get(mount);
      if (!d) h!.disksByMount.set(mount, (d = { mountpoint: mount, utilization: null, freeBytes: null }));
      return d;
    };
    switch (r.name) {
      case 'system.cpu.utilization':
        if (modeOf(r.attributes) !== 'idle' && r.attributes['cpu.logical_number'] === undefined) h.cpu = (h.cpu ?? 0) + r.value;
        break;
      case 'system.memory.utilization':
        if ((r.attributes['system.memory.state'] ?? 'used') === 'used') h.memory = r.value;
        break;
      case 'system.filesystem.utilization':
        disk(mountOf(r.attributes)).utilization = r.value;
        break;
      case 'system.filesystem.usage':
        if (r.attributes['system.filesystem.state'] === 'free') disk(mountOf(r.attributes)).freeBytes = r.value;
        break;
      case 'system.cpu.load_average.1m':
        h.load1 = r.value;
        break;
    }
  }
  return [...hosts.values()]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map(({ disksByMount, ...h }) => ({ ...h, disks: [...disksByMount.values()].sort((a, b) => (a.mountpoint < b.mountpoint ? -1 : 1)) }));
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

/** Findings for each host's CPU, memory and every disk. */
export function resourceFindings(hosts: readonly HostResources[]): Finding[] {
  const out: Finding[] = [];
  for (const h of hosts) {
    const judge = (check: 'cpu' | 'memory' | 'disk', subject: string, value: number | null, what: string) => {
      const level = levelOf(value, THRESHOLDS[check]);
      if (!level || value === null) return;
      const t = THRESHOLDS[check][level];
      out.push({ check, subject, level, value, message: `${what} on ${h.host} at ${pct(value)} (${level} at ${pct(t)})` });
    };
    judge('cpu', h.host, h.cpu, 'CPU busy');
    judge('memory', h.host, h.memory, 'memory used');
    for (const d of h.disks) judge('disk', `${h.host}:${d.mountpoint}`, d.utilization, `disk ${d.mountpoint} used`);
  }
  return out;
}

export interface DatabaseCheck {
  reachable: boolean;
  responseMs: number;
}

export function databaseFindings(db: DatabaseCheck): Finding[] {
  if (!db.reachable) return [{ check: 'database', subject: 'clickhouse', level: 'critical', value: db.responseMs, message: 'ClickHouse did not answer: unreachable is critical at once' }];
  const level = levelOf(db.responseMs, THRESHOLDS.databaseMs);
  if (!level) return [];
  return [{ check: 'database', subject: 'clickhouse', level, value: db.responseMs, message: `ClickHouse answered in ${Math.round(db.responseMs)} ms (${level} at ${THRESHOLDS.databaseMs[level]} ms)` }];
}

/** The process's own dependencies (/health): down is critical, degraded or starting a warning. */
export function dependencyFindings(checks: Record<string, { status: string; detail?: string }>): Finding[] {
  const out: Finding[] = [];
  for (const [name, c] of Object.entries(checks)) {
    if (c.status === 'up') continue;
    const level: FindingLevel = c.status === 'down' ? 'critical' : 'warning';
    out.push({ check: 'dependency', subject: name, level, value: 0, message: `${name} is ${c.status}${c.detail ? `: ${c.detail}` : ''}` });
  }
  return out;
}

/** How long without a reading before a host counts as stale: readings are per-minute buckets, so three of them. */
export const STALE_AFTER_MS = 180_000;

export function hostStatus(lastSeen: number, now: number): 'up' | 'stale' {
  return now - lastSeen <= STALE_AFTER_MS ? 'up' : 'stale';
}
