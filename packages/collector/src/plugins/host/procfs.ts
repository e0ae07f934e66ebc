/**
 * Pure readers of Linux /proc and of Node's os counters, so the host plugin's arithmetic is
 * tested without a host.
 */

/** cpu.mode values we report (OpenTelemetry semantic conventions), in the order of {@link CpuSeconds}. */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** Seconds spent per mode, indexed like {@link CPU_MODES}. */
export type CpuSeconds = number[];

export interface ProcStat {
  /** Summed over all logical CPUs. */
  total: CpuSeconds;
  /** Per logical CPU, by its number (`cpu3` → 3). */
  cores: { n: number; seconds: CpuSeconds }[];
  procsRunning: number;
  procsBlocked: number;
  /** Processes and threads created since boot. */
  processesCreated: number;
  contextSwitches: number;
}

/** USER_HZ: the unit of /proc/stat. 100 on every mainstream Linux architecture. */
export const USER_HZ = 100;

/** One `cpu` line's fields (user nice system idle iowait irq softirq steal ...) in seconds; guest time is already in user. */
function cpuLine(line: string, hz: number): { id: string; seconds: CpuSeconds } | undefined {
  const f = line.split(/\s+/);
  if (f.length < 5) return undefined;
  const n = (i: number) => Number(f[i] ?? 0) / hz;
  const seconds = [n(1), n(2), n(3), n(4), n(5), n(6) + n(7), n(8)];
  if (seconds.some((v) => Number.isNaN(v))) return undefined;
  return { id: f[0]!, seconds };
}

/** Parses /proc/stat: CPU time total and per logical CPU, and the process counters. */
export function parseProcStat(text: string, hz = USER_HZ): ProcStat | undefined {
  let total: CpuSeconds | undefined;
  const cores: ProcStat['cores'] = [];
  const out = { procsRunning: 0, procsBlocked: 0, processesCreated: 0, contextSwitches: 0 };
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    // Only the lines we use are split: `intr` has thousands of fields.
    const c = text.charCodeAt(from);
    if (c === 99 /* c */) {
      const line = text.slice(from, to);
      if (line.startsWith('cpu')) {
        const parsed = cpuLine(line, hz);
        if (parsed?.id === 'cpu') total = parsed.seconds;
        else if (parsed) cores.push({ n: Number(parsed.id.slice(3)), seconds: parsed.seconds });
      } else if (line.startsWith('ctxt ')) out.contextSwitches = Number(line.slice(5));
    } else if (c === 112 /* p */) {
      const line = text.slice(from, to);
      if (line.startsWith('procs_running ')) out.procsRunning = Number(line.slice(14));
      else if (line.startsWith('procs_blocked ')) out.procsBlocked = Number(line.slice(14));
      else if (line.startsWith('processes ')) out.processesCreated = Number(line.slice(10));
    }
    from = to + 1;
  }
  if (!total) return undefined;
  return { total, cores, ...out };
}

/** Node's os.cpus() times (ms; no iowait or steal) as {@link CpuSeconds}, where there is no /proc/stat. */
export function osCpuSeconds(t: { user: number; nice: number; sys: number; idle: number; irq: number }): CpuSeconds {
  return [t.user / 1000, t.nice / 1000, t.sys / 1000, t.idle / 1000, 0, t.irq / 1000, 0];
}

/**
 * Fraction of time per mode between two samples (system.cpu.utilization: the modes add up to 1).
 * Undefined when no time passed or the counters went back (a CPU came online again).
 */
export function cpuUtilization(prev: CpuSeconds, cur: CpuSeconds): number[] | undefined {
  const d: number[] = [];
  let total = 0;
  for (let i = 0; i < CPU_MODES.length; i++) {
    const v = (cur[i] ?? 0) - (prev[i] ?? 0);
    if (v < 0) return undefined;
    d.push(v);
    total += v;
  }
  if (total <= 0) return undefined;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! / total;
  return d;
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

export interface DiskCounters {
  device: string;
  readOps: number;
  writeOps: number;
  readBytes: number;
  writeBytes: number;
  /** Seconds spent reading and writing (summed over requests). */
  readTime: number;
  writeTime: number;
  /** Seconds the device had I/O in flight (busy time). */
  ioTime: number;
  readMerged: number;
  writeMerged: number;
}

/** Loop and RAM devices, and partitions of sd/vd/xvd/hd/nvme/mmcblk disks: counted already in their whole disk. */
const SKIPPED_DEVICE = /^(?:loop\d+|ram\d+|(?:[sv]d|xvd|hd)[a-z]+\d+|(?:nvme\d+n\d+|mmcblk\d+)p\d+)$/;

/** Whether a block device is reported by default: whole disks (and device-mapper, md, zram), not partitions, loop or RAM devices. */
export function isReportedDisk(name: string): boolean {
  return !SKIPPED_DEVICE.test(name);
}

/**
 * Parses /proc/diskstats (sectors are always 512 bytes there; times in ms). `include` picks the
 * devices; by default {@link isReportedDisk}.
 */
export function parseDiskstats(text: string, include: (device: string) => boolean = isReportedDisk): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const device = f[2]!;
    if (!include(device)) continue;
    const n = (i: number) => Number(f[i]);
    const d: DiskCounters = {
      device,
      readOps: n(3),
      readMerged: n(4),
      readBytes: n(5) * 512,
      readTime: n(6) / 1000,
      writeOps: n(7),
      writeMerged: n(8),
      writeBytes: n(9) * 512,
      writeTime: n(10) / 1000,
      ioTime: n(12) / 1000,
    };
    if (Number.isNaN(d.readOps + d.writeOps + d.readBytes + d.writeBytes + d.ioTime)) continue;
    out.push(d);
  }
  return out;
}

/** Seconds since boot: the first field of /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  const v = Number.parseFloat(text);
  return Number.isFinite(v) ? v : undefined;
}
