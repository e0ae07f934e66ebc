/**
 * Pure readers of Linux /proc and of Node's os counters, so the host plugin's arithmetic is
 * tested without a host.
 */

export interface CpuTimes {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  irq: number;
}

/** cpu.mode values we report, and where each comes from in os.cpus(). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'interrupt'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

export function sumCpuTimes(cpus: { times: CpuTimes }[]): CpuTimes {
  const total: CpuTimes = { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 };
  for (const c of cpus) {
    total.user += c.times.user;
    total.nice += c.times.nice;
    total.sys += c.times.sys;
    total.idle += c.times.idle;
    total.irq += c.times.irq;
  }
  return total;
}

export function cpuSeconds(t: CpuTimes): Record<CpuMode, number> {
  return { user: t.user / 1000, nice: t.nice / 1000, system: t.sys / 1000, idle: t.idle / 1000, interrupt: t.irq / 1000 };
}

/**
 * Fraction of time per mode between two samples of the summed times of all logical CPUs
 * (system.cpu.utilization: the modes add up to 1). Undefined when no time passed.
 */
export function cpuUtilization(prev: CpuTimes, cur: CpuTimes): Record<CpuMode, number> | undefined {
  const d = {
    user: cur.user - prev.user,
    nice: cur.nice - prev.nice,
    system: cur.sys - prev.sys,
    idle: cur.idle - prev.idle,
    interrupt: cur.irq - prev.irq,
  };
  const total = d.user + d.nice + d.system + d.idle + d.interrupt;
  if (total <= 0) return undefined;
  return {
    user: d.user / total,
    nice: d.nice / total,
    system: d.system / total,
    idle: d.idle / total,
    interrupt: d.interrupt / total,
  };
}

export interface MemoryInfo {
  total: number;
  free: number;
  buffers: number;
  cached: number;
  used: number;
  swapTotal: number;
  swapFree: number;
}

/** Parses /proc/meminfo (values in kB) into bytes; used = total − free − buffers − cached (as `free` does). */
export function parseMeminfo(text: string): MemoryInfo | undefined {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = kb.get('MemTotal');
  const free = kb.get('MemFree');
  if (total === undefined || free === undefined) return undefined;
  const buffers = kb.get('Buffers') ?? 0;
  const cached = (kb.get('Cached') ?? 0) + (kb.get('SReclaimable') ?? 0);
  return {
    total,
    free,
    buffers,
    cached,
    used: Math.max(0, total - free - buffers - cached),
    swapTotal: kb.get('SwapTotal') ?? 0,
    swapFree: kb.get('SwapFree') ?? 0,
  };
}

export interface InterfaceCounters {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** Parses /proc/net/dev; the loopback interface is left out. */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1]!.trim();
    if (name === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => Number.isNaN(n))) continue;
    out.push({
      name,
      rxBytes: f[0]!,
      rxPackets: f[1]!,
      rxErrors: f[2]!,
      rxDropped: f[3]!,
      txBytes: f[8]!,
      txPackets: f[9]!,
      txErrors: f[10]!,
      txDropped: f[11]!,
    });
  }
  return out;
}

export interface Mount {
  device: string;
  mountpoint: string;
  type: string;
}

/** Pseudo and virtual filesystems that say nothing about disk space. */
const IGNORED_FS = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'cgroup', 'cgroup2', 'securityfs', 'pstore', 'debugfs', 'tracefs',
  'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'binfmt_misc', 'autofs', 'rpc_pipefs', 'nsfs', 'bpf', 'squashfs',
  'ramfs', 'efivarfs', 'selinuxfs', 'fuse.lxcfs', 'fuse.portal', 'nfsd', 'overlay',
]);

/** Parses /proc/mounts into the filesystems worth reporting, one entry per mount point. */
export function parseMounts(text: string, includeOverlayRoot = true): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [device, rawMount, type] = line.split(' ');
    if (!device || !rawMount || !type) continue;
    const mountpoint = rawMount.replace(/\\040/g, ' ');
    // A container's root is an overlay; it is the disk the workload fills, so keep that one.
    const keep = !IGNORED_FS.has(type) || (includeOverlayRoot && type === 'overlay' && mountpoint === '/');
    if (!keep || seen.has(mountpoint)) continue;
    seen.add(mountpoint);
    out.push({ device, mountpoint, type });
  }
  return out;
}

export interface FsUsage {
  used: number;
  free: number;
  reserved: number;
  /** used / (used + free): the space a non-root user can still fill, as `df` computes Use%. */
  utilization: number;
}

/** From statfs: blocks, bfree (free incl. reserved), bavail (free to users), bsize. */
export function fsUsage(s: { blocks: number; bfree: number; bavail: number; bsize: number }): FsUsage | undefined {
  if (s.blocks <= 0) return undefined;
  const used = (s.blocks - s.bfree) * s.bsize;
  const free = s.bavail * s.bsize;
  const reserved = (s.bfree - s.bavail) * s.bsize;
  const denom = used + free;
  return { used, free, reserved, utilization: denom > 0 ? used / denom : 0 };
}
