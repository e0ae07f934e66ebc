import { readFileSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { ValueType, type Attributes, type BatchObservableResult, type Meter } from '@opentelemetry/api';
import { logger } from '@vigil/platform';
import {
  CPU_MODES,
  cpuUtilization,
  fsUsage,
  isReportedDisk,
  osCpuSeconds,
  parseDiskstats,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  parseUptime,
  type CpuSeconds,
  type DiskCounters,
  type FsUsage,
  type InterfaceCounters,
  type MemoryInfo,
  type Mount,
  type ProcStat,
} from './procfs.js';

const log = logger('collector.host');

export interface HostMetricsOptions {
  /** Minimum time between two readings of /proc, ms; collections in between re-report the last reading. */
  interval: number;
  /** Report system.cpu.time per logical CPU (cpu.logical_number) rather than summed. */
  perCpu: boolean;
  /** Which block devices /proc/diskstats contributes (default: whole disks, no partitions, loop or RAM devices). */
  disks: (device: string) => boolean;
  /**
   * Where the host's procfs is mounted (default /proc). Elsewhere (a container given the host's
   * /proc read-only, as node_exporter's --path.procfs), mounts and network counters are read from
   * its process 1, the host's init, so they are the host's rather than the container's.
   */
  procfs?: string;
  /** Where the host's root filesystem is mounted (default /); filesystems are measured under it and reported by their host paths. */
  rootfs?: string;
}

export const HOST_DEFAULTS: HostMetricsOptions = { interval: 10_000, perCpu: true, disks: isReportedDisk };

/** The files a reading takes, under the given procfs. */
export function procPaths(procfs = '/proc'): { stat: string; meminfo: string; mounts: string; netDev: string; diskstats: string; uptime: string } {
  // The process's own view at /proc; the host's init's (pid 1) when the host's procfs is mounted elsewhere.
  const ns = procfs === '/proc' ? procfs : join(procfs, '1');
  return {
    stat: join(procfs, 'stat'),
    meminfo: join(procfs, 'meminfo'),
    mounts: join(ns, 'mounts'),
    netDev: join(ns, 'net', 'dev'),
    diskstats: join(procfs, 'diskstats'),
    uptime: join(procfs, 'uptime'),
  };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU from /proc/stat, or Node's per-core times where there is no /proc. */
function osStat(): ProcStat {
  const cores = os.cpus().map((c, n) => ({ n, seconds: osCpuSeconds(c.times) }));
  const total = CPU_MODES.map((_, i) => cores.reduce((s, c) => s + (c.seconds[i] ?? 0), 0));
  return { total, cores, procsRunning: 0, procsBlocked: 0, processesCreated: 0, contextSwitches: 0 };
}

/** Memory from /proc/meminfo, or Node's totals where there is no /proc. */
function osMemory(): MemoryInfo {
  const total = os.totalmem();
  const free = os.freemem();
  return { total, free, buffers: 0, cached: 0, used: total - free, swapTotal: 0, swapFree: 0 };
}

/** One reading of everything the plugin reports; plain data, re-observed until the next reading. */
interface Reading {
  stat: ProcStat;
  /** Utilization since the previous reading, over all logical CPUs. */
  util?: number[];
  mem: MemoryInfo;
  filesystems: { attrs: Attributes; usage: FsUsage }[];
  ifaces: InterfaceCounters[];
  disks: DiskCounters[];
  load: number[];
  uptime: number;
}

/**
 * The host plugin's instruments: CPU (total and per logical CPU), memory, swap, filesystems, disk
 * I/O, network, load, uptime and processes, named by the OpenTelemetry semantic conventions
 * (system.*). One batch callback reads /proc at most once per `interval`, so a collector whose
 * reader collects more often than the host interval re-reports the last reading instead of
 * reading /proc again.
 */
export function registerHostMetrics(meter: Meter, options: HostMetricsOptions = HOST_DEFAULTS): void {
  const INT = { valueType: ValueType.INT };
  // Utilization is the total over all logical CPUs only: the built-in cpu_high rule sums its
  // non-idle modes per host, which per-core points under the same name would inflate. Per-core
  // load is in system.cpu.time (its rate), with cpu.logical_number.
  const cpuUtil = meter.createObservableGauge('system.cpu.utilization', { unit: '1', description: 'Fraction of CPU time per cpu.mode over all logical CPUs since the previous reading (the modes add up to 1).' });
  const cpuTime = meter.createObservableCounter('system.cpu.time', { unit: 's', description: 'CPU time per cpu.mode and logical CPU (cpu.logical_number); the total without it when perCpu is off.' });
  const cpuCount = meter.createObservableUpDownCounter('system.cpu.logical.count', { unit: '{cpu}', ...INT });
  const memUsage = meter.createObservableUpDownCounter('system.memory.usage', { unit: 'By', ...INT });
  const memUtil = meter.createObservableGauge('system.memory.utilization', { unit: '1' });
  const memLimit = meter.createObservableUpDownCounter('system.memory.limit', { unit: 'By', ...INT });
  const swapUsage = meter.createObservableUpDownCounter('system.paging.usage', { unit: 'By', ...INT });
  const swapUtil = meter.createObservableGauge('system.paging.utilization', { unit: '1' });
  const fsUsageI = meter.createObservableUpDownCounter('system.filesystem.usage', { unit: 'By', ...INT });
  const fsUtil = meter.createObservableGauge('system.filesystem.utilization', { unit: '1' });
  const diskIo = meter.createObservableCounter('system.disk.io', { unit: 'By', ...INT });
  const diskOps = meter.createObservableCounter('system.disk.operations', { unit: '{operation}', ...INT });
  const diskIoTime = meter.createObservableCounter('system.disk.io_time', { unit: 's', description: 'Time the disk had I/O in flight.' });
  const diskOpTime = meter.createObservableCounter('system.disk.operation_time', { unit: 's', description: 'Time spent in operations, summed over requests.' });
  const diskMerged = meter.createObservableCounter('system.disk.merged', { unit: '{operation}', ...INT });
  const netIo = meter.createObservableCounter('system.network.io', { unit: 'By', ...INT });
  const netPackets = meter.createObservableCounter('system.network.packets', { unit: '{packet}', ...INT });
  const netErrors = meter.createObservableCounter('system.network.errors', { unit: '{error}', ...INT });
  const netDropped = meter.createObservableCounter('system.network.dropped', { unit: '{packet}', ...INT });
  const load1 = meter.createObservableGauge('system.cpu.load_average.1m', { unit: '{thread}' });
  const load5 = meter.createObservableGauge('system.cpu.load_average.5m', { unit: '{thread}' });
  const load15 = meter.createObservableGauge('system.cpu.load_average.15m', { unit: '{thread}' });
  const uptime = meter.createObservableGauge('system.uptime', { unit: 's' });
  const procCount = meter.createObservableUpDownCounter('system.process.count', { unit: '{process}', description: 'Processes by process.status (running, blocked) from /proc/stat.', ...INT });
  const procCreated = meter.createObservableCounter('system.process.created', { unit: '{process}', ...INT });
  const ctxSwitches = meter.createObservableCounter('system.cpu.context_switches', { unit: '{context_switch}', ...INT });

  // Attribute objects are built once per key and reused at every collection: the callback runs
  // often and is benchmarked against node_exporter.
  const modeAttrs = CPU_MODES.map((mode) => ({ 'cpu.mode': mode }));
  const coreAttrs = new Map<number, Attributes[]>();
  const perCore = (n: number) => {
    let a = coreAttrs.get(n);
    if (!a) {
      a = CPU_MODES.map((mode) => ({ 'cpu.mode': mode, 'cpu.logical_number': n }));
      coreAttrs.set(n, a);
    }
    return a;
  };
  const memStates = ['used', 'free', 'buffers', 'cached'].map((s) => ({ 'system.memory.state': s }));
  const swapUsed = { 'system.paging.state': 'used' };
  const swapFree = { 'system.paging.state': 'free' };
  const attrCache = new Map<string, Attributes[]>();
  /** Attribute sets for one device or interface, built at first sight. */
  const cached = (key: string, make: () => Attributes[]) => {
    let a = attrCache.get(key);
    if (!a) {
      a = make();
      attrCache.set(key, a);
    }
    return a;
  };
  const running = { 'process.status': 'running' };
  const blocked = { 'process.status': 'blocked' };

  // A baseline now, so the first collection already has utilization.
  const paths = procPaths(options.procfs);
  const rootfs = options.rootfs ?? '/';
  const baseline = (() => {
    try {
      return parseProcStat(readFileSync(paths.stat, 'utf8'));
    } catch {
      return undefined;
    }
  })() ?? osStat();
  let prevTotal: CpuSeconds | undefined = baseline.total;
  let reading: Reading | undefined;
  let readAt = 0;
  let reads: Promise<Reading> | undefined;
  let mountWarned = false;

  async function read(): Promise<Reading> {
    const [statText, memText, mountsText, netText, diskText, uptimeText] = await Promise.all(
      [paths.stat, paths.meminfo, paths.mounts, paths.netDev, paths.diskstats, paths.uptime].map(readText),
    );
    const stat = (statText !== undefined ? parseProcStat(statText) : undefined) ?? osStat();
    const util = prevTotal ? cpuUtilization(prevTotal, stat.total) : undefined;
    prevTotal = stat.total;

    const filesystems: Reading['filesystems'] = [];
    const mounts: Mount[] = parseMounts(mountsText ?? '');
    await Promise.all(
      mounts.map(async (m) => {
        try {
          const usage = fsUsage(await statfs(rootfs === '/' ? m.mountpoint : join(rootfs, m.mountpoint)));
          if (usage) filesystems.push({ attrs: { 'system.device': m.device, 'system.filesystem.mountpoint': m.mountpoint, 'system.filesystem.type': m.type }, usage });
        } catch (err) {
          if (!mountWarned) log.debug({ mountpoint: m.mountpoint, err: (err as Error).message }, 'cannot stat filesystem');
          mountWarned = true;
        }
      }),
    );
    return {
      stat,
      util,
      mem: (memText !== undefined ? parseMeminfo(memText) : undefined) ?? osMemory(),
      filesystems,
      ifaces: parseNetDev(netText ?? ''),
      disks: diskText !== undefined ? parseDiskstats(diskText, options.disks) : [],
      load: os.loadavg(),
      uptime: (uptimeText !== undefined ? parseUptime(uptimeText) : undefined) ?? os.uptime(),
    };
  }

  async function current(): Promise<Reading> {
    const now = Date.now();
    // A little slack so a reader interval equal to ours never skips a reading through jitter.
    if (reading && now - readAt < options.interval * 0.9) return reading;
    reads ??= read().finally(() => (reads = undefined));
    reading = await reads;
    readAt = now;
    return reading;
  }

  meter.addBatchObservableCallback(
    async (r: BatchObservableResult) => {
      const x = await current();
      for (let i = 0; i < CPU_MODES.length; i++) {
        const attrs = modeAttrs[i]!;
        if (x.util) r.observe(cpuUtil, x.util[i]!, attrs);
        if (!options.perCpu) r.observe(cpuTime, x.stat.total[i]!, attrs);
      }
      if (options.perCpu) {
        for (const core of x.stat.cores) {
          const attrs = perCore(core.n);
          for (let i = 0; i < CPU_MODES.length; i++) r.observe(cpuTime, core.seconds[i]!, attrs[i]);
        }
      }
      r.observe(cpuCount, x.stat.cores.length);

      const mem = x.mem;
      const memValues = [mem.used, mem.free, mem.buffers, mem.cached];
      for (let i = 0; i < memValues.length; i++) {
        r.observe(memUsage, memValues[i]!, memStates[i]);
        if (mem.total > 0) r.observe(memUtil, memValues[i]! / mem.total, memStates[i]);
      }
      r.observe(memLimit, mem.total);
      if (mem.swapTotal > 0) {
        r.observe(swapUsage, mem.swapTotal - mem.swapFree, swapUsed);
        r.observe(swapUsage, mem.swapFree, swapFree);
        r.observe(swapUtil, (mem.swapTotal - mem.swapFree) / mem.swapTotal, swapUsed);
        r.observe(swapUtil, mem.swapFree / mem.swapTotal, swapFree);
      }

      for (const f of x.filesystems) {
        const [used, free, reserved] = cached(`f:${f.attrs['system.filesystem.mountpoint']}`, () =>
          ['used', 'free', 'reserved'].map((state) => Object.assign({ 'system.filesystem.state': state }, f.attrs)),
        );
        r.observe(fsUsageI, f.usage.used, used);
        r.observe(fsUsageI, f.usage.free, free);
        r.observe(fsUsageI, f.usage.reserved, reserved);
        r.observe(fsUtil, f.usage.utilization, f.attrs);
      }

      for (const d of x.disks) {
        const [read, write, dev] = cached(`d:${d.device}`, () => [
          { 'system.device': d.device, 'disk.io.direction': 'read' },
          { 'system.device': d.device, 'disk.io.direction': 'write' },
          { 'system.device': d.device },
        ]);
        r.observe(diskIo, d.readBytes, read);
        r.observe(diskIo, d.writeBytes, write);
        r.observe(diskOps, d.readOps, read);
        r.observe(diskOps, d.writeOps, write);
        r.observe(diskOpTime, d.readTime, read);
        r.observe(diskOpTime, d.writeTime, write);
        r.observe(diskMerged, d.readMerged, read);
        r.observe(diskMerged, d.writeMerged, write);
        r.observe(diskIoTime, d.ioTime, dev);
      }

      for (const i of x.ifaces) {
        const [rx, tx] = cached(`n:${i.name}`, () => [
          { 'network.interface.name': i.name, 'network.io.direction': 'receive' },
          { 'network.interface.name': i.name, 'network.io.direction': 'transmit' },
        ]);
        r.observe(netIo, i.rxBytes, rx);
        r.observe(netIo, i.txBytes, tx);
        r.observe(netPackets, i.rxPackets, rx);
        r.observe(netPackets, i.txPackets, tx);
        r.observe(netErrors, i.rxErrors, rx);
        r.observe(netErrors, i.txErrors, tx);
        r.observe(netDropped, i.rxDropped, rx);
        r.observe(netDropped, i.txDropped, tx);
      }

      r.observe(load1, x.load[0] ?? 0);
      r.observe(load5, x.load[1] ?? 0);
      r.observe(load15, x.load[2] ?? 0);
      r.observe(uptime, x.uptime);
      r.observe(procCount, x.stat.procsRunning, running);
      r.observe(procCount, x.stat.procsBlocked, blocked);
      r.observe(procCreated, x.stat.processesCreated);
      r.observe(ctxSwitches, x.stat.contextSwitches);
    },
    [cpuUtil, cpuTime, cpuCount, memUsage, memUtil, memLimit, swapUsage, swapUtil, fsUsageI, fsUtil, diskIo, diskOps, diskIoTime, diskOpTime, diskMerged, netIo, netPackets, netErrors, netDropped, load1, load5, load15, uptime, procCount, procCreated, ctxSwitches],
  );
}
