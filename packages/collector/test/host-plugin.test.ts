import os from 'node:os';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { ConfigError } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { checkSection } from '@vigil/platform';
import { hostPlugin } from '../src/plugins/host/index.js';
import type { PluginContext } from '../src/plugin.js';

class PullReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

async function collect(reader: PullReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, MetricData>();
  for (const s of resourceMetrics.scopeMetrics) for (const m of s.metrics) out.set(m.descriptor.name, m);
  return out;
}

function start(options: unknown) {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const ctx = { name: 'host', meter: provider.getMeter('test') } as unknown as PluginContext;
  const instance = hostPlugin.create(checkSection(hostPlugin.schema, options, 'collector.plugins[0]'), ctx);
  return { reader, provider, instance };
}

const points = (m: MetricData | undefined) => (m?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: unknown }[];
const burn = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('host plugin on a real MeterProvider', () => {
  it('reports CPU total and per core, memory, disks, network, load, uptime and processes', async () => {
    const { reader, provider, instance } = start({ interval: '1ms' });
    await instance.start();
    burn(30);
    const m = await collect(reader);
    const cores = os.cpus().length;
    const time = points(m.get('system.cpu.time'));
    expect(new Set(time.map((p) => p.attributes['cpu.logical_number']))).toEqual(new Set(Array.from({ length: cores }, (_, i) => i)));
    expect(time).toHaveLength(cores * 7);
    const util = points(m.get('system.cpu.utilization'));
    // The total only: the cpu_high rule sums the non-idle modes per host.
    expect(util.every((p) => p.attributes['cpu.logical_number'] === undefined)).toBe(true);
    expect(util.map((p) => p.attributes['cpu.mode']).sort()).toEqual(['idle', 'interrupt', 'iowait', 'nice', 'steal', 'system', 'user']);
    expect(util.reduce((s, p) => s + (p.value as number), 0)).toBeCloseTo(1, 5);
    expect(points(m.get('system.cpu.logical.count'))[0]!.value).toBe(cores);
    expect(points(m.get('system.memory.limit'))[0]!.value).toBe(os.totalmem());
    const disks = points(m.get('system.disk.io'));
    expect(disks.length).toBeGreaterThan(0);
    expect(disks.filter((p) => /^(loop|ram)\d/.test(String(p.attributes['system.device'])))).toEqual([]);
    expect(new Set(disks.map((p) => p.attributes['disk.io.direction']))).toEqual(new Set(['read', 'write']));
    expect(m.get('system.disk.operations')).toBeDefined();
    expect(m.get('system.disk.io_time')).toBeDefined();
    const running = points(m.get('system.process.count')).find((p) => p.attributes['process.status'] === 'running');
    expect(running!.value as number).toBeGreaterThanOrEqual(1);
    expect(points(m.get('system.uptime'))[0]!.value as number).toBeCloseTo(os.uptime(), -1);
    for (const name of ['system.cpu.load_average.1m', 'system.filesystem.usage', 'system.memory.usage', 'system.process.created']) expect(m.get(name), name).toBeDefined();
    await instance.stop();
    await provider.shutdown();
  });

  it('reads /proc at most once per interval: collections in between re-report the last reading', async () => {
    const { reader, provider, instance } = start({ interval: '300ms' });
    await instance.start();
    const user = (m: Map<string, MetricData>) =>
      points(m.get('system.cpu.time')).filter((p) => p.attributes['cpu.mode'] !== 'idle').reduce((s, p) => s + (p.value as number), 0) +
      (points(m.get('system.process.created'))[0]!.value as number);
    const a = user(await collect(reader));
    burn(120);
    const b = user(await collect(reader));
    expect(b).toBe(a);
    await new Promise((r) => setTimeout(r, 300));
    burn(50);
    const c = user(await collect(reader));
    expect(c).toBeGreaterThan(a);
    await provider.shutdown();
  });

  it('per-core series can be turned off; a bad disk pattern is a config error naming the key', async () => {
    const { reader, provider, instance } = start({ perCpu: false, disks: '^nothing$' });
    await instance.start();
    const m = await collect(reader);
    expect(points(m.get('system.cpu.time'))).toHaveLength(7);
    expect(points(m.get('system.cpu.time')).every((p) => p.attributes['cpu.logical_number'] === undefined)).toBe(true);
    expect(m.get('system.disk.io')?.dataPoints ?? []).toHaveLength(0);
    await provider.shutdown();
    expect(() => checkSection(hostPlugin.schema, { disks: '(' }, 'f.yaml: collector.plugins[0]')).toThrow(ConfigError);
    expect(() => checkSection(hostPlugin.schema, { disks: '(' }, 'f.yaml: collector.plugins[0]')).toThrow(/collector\.plugins\[0\]\.disks/);
    expect(() => checkSection(hostPlugin.schema, { interval: 'soon' }, 'f.yaml: collector.plugins[0]')).toThrow(/interval: "soon" is not a duration/);
  });
});
