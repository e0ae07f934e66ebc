import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { checkSection } from '@vigil/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { hostPlugin } from '../src/plugins/host/index.js';
import { procPaths } from '../src/plugins/host/metrics.js';
import type { PluginContext } from '../src/plugin.js';

/**
 * The host plugin in a container given the node's /proc and / read-only (the Helm chart's
 * DaemonSet, the compose file's collector), as node_exporter's --path.procfs and --path.rootfs:
 * mounts and network counters come from the host's init (pid 1), filesystems are measured under
 * the root and reported by their host paths.
 */
class PullReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

const tmp = mkdtempSync(join(os.tmpdir(), 'vigil-host-root-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('host plugin: procfs and rootfs', () => {
  it('reads the own /proc by default, and the host init\'s mounts and network elsewhere', () => {
    expect(procPaths()).toEqual({ stat: '/proc/stat', meminfo: '/proc/meminfo', mounts: '/proc/mounts', netDev: '/proc/net/dev', diskstats: '/proc/diskstats', uptime: '/proc/uptime' });
    expect(procPaths('/host/proc')).toEqual({
      stat: '/host/proc/stat',
      meminfo: '/host/proc/meminfo',
      mounts: '/host/proc/1/mounts',
      netDev: '/host/proc/1/net/dev',
      diskstats: '/host/proc/diskstats',
      uptime: '/host/proc/uptime',
    });
  });

  it('reports what a mounted host procfs and root say', async () => {
    const proc = join(tmp, 'proc');
    const root = join(tmp, 'root');
    mkdirSync(join(proc, '1', 'net'), { recursive: true });
    mkdirSync(join(root, 'srv', 'data'), { recursive: true });
    copyFileSync('/proc/stat', join(proc, 'stat'));
    copyFileSync('/proc/diskstats', join(proc, 'diskstats'));
    writeFileSync(join(proc, 'meminfo'), 'MemTotal:       2048000 kB\nMemFree:         1024000 kB\nBuffers:           2000 kB\nCached:           20000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n');
    writeFileSync(join(proc, 'uptime'), '4242.50 8000.00\n');
    writeFileSync(join(proc, '1', 'mounts'), '/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n/dev/vdb1 /srv/data xfs rw 0 0\n');
    writeFileSync(
      join(proc, '1', 'net', 'dev'),
      'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  ens5: 5000000    4000    1    2    0     0          0         0  3000000    2000    0    0    0     0       0          0\n',
    );

    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const ctx = { name: 'host', meter: provider.getMeter('test') } as unknown as PluginContext;
    const instance = hostPlugin.create(checkSection(hostPlugin.schema, { interval: '1ms', procfs: proc, rootfs: root }, 'collector.plugins[0]'), ctx);
    await instance.start();
    const { resourceMetrics } = await reader.collect();
    const m = new Map<string, MetricData>();
    for (const s of resourceMetrics.scopeMetrics) for (const x of s.metrics) m.set(x.descriptor.name, x);
    const points = (name: string) => (m.get(name)?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: number }[];

    expect(points('system.memory.limit')[0]!.value).toBe(2048000 * 1024);
    expect(points('system.uptime')[0]!.value).toBe(4242.5);
    const net = points('system.network.io');
    expect(new Set(net.map((p) => p.attributes['network.interface.name']))).toEqual(new Set(['ens5']));
    expect(net.find((p) => p.attributes['network.io.direction'] === 'receive')!.value).toBe(5000000);
    // Measured under the root (the tmp directories exist), reported by the host's paths.
    const fs = points('system.filesystem.utilization');
    expect(fs.map((p) => p.attributes['system.filesystem.mountpoint']).sort()).toEqual(['/', '/srv/data']);
    expect(fs.find((p) => p.attributes['system.filesystem.mountpoint'] === '/srv/data')!.attributes).toMatchObject({ 'system.device': '/dev/vdb1', 'system.filesystem.type': 'xfs' });
    await instance.stop();
    await provider.shutdown();
  });

  it('refuses a relative path, naming the key', () => {
    expect(() => checkSection(hostPlugin.schema, { procfs: 'host/proc' }, 'collector.plugins[0]')).toThrow(/collector\.plugins\[0\]\.procfs/);
  });
});
