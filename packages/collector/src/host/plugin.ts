import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { ValueType, type BatchObservableResult, type Meter } from '@opentelemetry/api';
import { logger } from '@vigil/platform';
import {
  CPU_MODES,
  cpuSeconds,
  cpuUtilization,
  fsUsage,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  sumCpuTimes,
  type CpuTimes,
  type InterfaceCounters,
  type MemoryInfo,
  type Mount,
} from './procfs.js';

const log = logger('collector.host');

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Memory from /proc/meminfo, or Node's totals where there is no /proc. */
async function memory(): Promise<MemoryInfo> {
  const parsed = parseMeminfo((await readText('/proc/meminfo')) ?? '');
  if (parsed) return parsed;
  const total = os.totalmem();
  const free = os.freemem();
  return { total, free, buffers: 0, cached: 0, used: total - free, swapTotal: 0, swapFree: 0 };
}

/**
 * The host plugin: CPU, memory, swap, filesystems, network and load of this machine, as
 * OpenTelemetry observable instruments named by the semantic conventions (system.*). One batch
 * callback reads /proc once per collection.
 */
export function registerHostMetrics(meter: Meter): void {
  const cpuUtil = meter.createObservableGauge('system.cpu.utilization', { unit: '1', description: 'Fraction of CPU time per mode, over all logical CPUs, since the last collection.' });
  const cpuTime = meter.createObservableCounter('system.cpu.time', { unit: 's', description: 'CPU time per mode, summed over logical CPUs.' });
  const cpuCount = meter.createObservableUpDownCounter('system.cpu.logical.count', { unit: '{cpu}', valueType: ValueType.INT });
  const memUsage = meter.createObservableUpDownCounter('system.memory.usage', { unit: 'By', valueType: ValueType.INT });
  const memUtil = meter.createObservableGauge('system.memory.utilization', { unit: '1' });
  const memLimit = meter.createObservableUpDownCounter('system.memory.limit', { unit: 'By', valueType: ValueType.INT });
  const swapUsage = meter.createObservableUpDownCounter('system.paging.usage', { unit: 'By', valueType: ValueType.INT });
  const fsUsageI = meter.createObservableUpDownCounter('system.filesystem.usage', { unit: 'By', valueType: ValueType.INT });
  const fsUtil = meter.createObservableGauge('system.filesystem.utilization', { unit: '1' });
  const netIo = meter.createObservableCounter('system.network.io', { unit: 'By', valueType: ValueType.INT });
  const netPackets = meter.createObservableCounter('system.network.packets', { unit: '{packet}', valueType: ValueType.INT });
  const netErrors = meter.createObservableCounter('system.network.errors', { unit: '{error}', valueType: ValueType.INT });
  const netDropped = meter.createObservableCounter('system.network.dropped', { unit: '{packet}', valueType: ValueType.INT });
  const load1 = meter.createObservableGauge('system.cpu.load_average.1m', { unit: '{thread}' });
  const load5 = meter.createObservableGauge('system.cpu.load_average.5m', { unit: '{thread}' });
  const load15 = meter.createObservableGauge('system.cpu.load_average.15m', { unit: '{thread}' });
  const uptime = meter.createObservableGauge('system.uptime', { unit: 's' });

  let prevCpu: CpuTimes = sumCpuTimes(os.cpus());
  let mountWarned = false;

  meter.addBatchObservableCallback(
    async (r: BatchObservableResult) => {
      const cpus = os.cpus();
      const cur = sumCpuTimes(cpus);
      const util = cpuUtilization(prevCpu, cur);
      prevCpu = cur;
      const secs = cpuSeconds(cur);
      for (const mode of CPU_MODES) {
        if (util) r.observe(cpuUtil, util[mode], { 'cpu.mode': mode });
        r.observe(cpuTime, secs[mode], { 'cpu.mode': mode });
      }
      r.observe(cpuCount, cpus.length);

      const mem = await memory();
      const memStates: [string, number][] = [['used', mem.used], ['free', mem.free], ['buffers', mem.buffers], ['cached', mem.cached]];
      for (const [state, bytes] of memStates) {
        r.observe(memUsage, bytes, { 'system.memory.state': state });
        if (mem.total > 0) r.observe(memUtil, bytes / mem.total, { 'system.memory.state': state });
      }
      r.observe(memLimit, mem.total);
      if (mem.swapTotal > 0) {
        r.observe(swapUsage, mem.swapTotal - mem.swapFree, { 'system.paging.state': 'used' });
        r.observe(swapUsage, mem.swapFree, { 'system.paging.state': 'free' });
      }

      const mounts: Mount[] = parseMounts((await readText('/proc/mounts')) ?? '');
      for (const m of mounts) {
        try {
          const u = fsUsage(await statfs(m.mountpoint));
          if (!u) continue;
          const attrs = { 'system.device': m.device, 'system.filesystem.mountpoint': m.mountpoint, 'system.filesystem.type': m.type };
          r.observe(fsUsageI, u.used, { ...attrs, 'system.filesystem.state': 'used' });
          r.observe(fsUsageI, u.free, { ...attrs, 'system.filesystem.state': 'free' });
          r.observe(fsUsageI, u.reserved, { ...attrs, 'system.filesystem.state': 'reserved' });
          r.observe(fsUtil, u.utilization, attrs);
        } catch (err) {
          if (!mountWarned) log.debug({ mountpoint: m.mountpoint, err: (err as Error).message }, 'cannot stat filesystem');
          mountWarned = true;
        }
      }

      const ifaces: InterfaceCounters[] = parseNetDev((await readText('/proc/net/dev')) ?? '');
      for (const i of ifaces) {
        const rx = { 'network.interface.name': i.name, 'network.io.direction': 'receive' };
        const tx = { 'network.interface.name': i.name, 'network.io.direction': 'transmit' };
        r.observe(netIo, i.rxBytes, rx);
        r.observe(netIo, i.txBytes, tx);
        r.observe(netPackets, i.rxPackets, rx);
        r.observe(netPackets, i.txPackets, tx);
        r.observe(netErrors, i.rxErrors, rx);
        r.observe(netErrors, i.txErrors, tx);
        r.observe(netDropped, i.rxDropped, rx);
        r.observe(netDropped, i.txDropped, tx);
      }

      const [l1, l5, l15] = os.loadavg();
      r.observe(load1, l1 ?? 0);
      r.observe(load5, l5 ?? 0);
      r.observe(load15, l15 ?? 0);
      r.observe(uptime, os.uptime());
    },
    [cpuUtil, cpuTime, cpuCount, memUsage, memUtil, memLimit, swapUsage, fsUsageI, fsUtil, netIo, netPackets, netErrors, netDropped, load1, load5, load15, uptime],
  );
}
