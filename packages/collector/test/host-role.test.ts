import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { HealthRegistry, MemoryBus, createTelemetry, metricPoints, parseConfig, type MetricPoint } from '@vigil/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollectorRole } from '../src/role.js';

const dir = mkdtempSync(join(os.tmpdir(), 'vigil-host-role-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a collector with `yaml` on an in-process bus, collects once, returns the metric points it shipped. */
async function shipped(yaml: string): Promise<MetricPoint[]> {
  const config = parseConfig(`dataDir: ${dir}\n${yaml}`, { env: {} });
  const bus = new MemoryBus();
  const points: MetricPoint[] = [];
  const sub = await bus.subscribe({
    groupId: 'test',
    topics: [config.kafka.topics.metrics],
    handler: async (batch) => {
      for (const r of batch.records) points.push(...metricPoints(r.value));
    },
  });
  const role = createCollectorRole({ config, bus, telemetry: createTelemetry('test'), health: new HealthRegistry() });
  await role.start();
  await role.collectNow();
  await role.stop();
  await new Promise((r) => setTimeout(r, 100));
  await sub.stop();
  await bus.close();
  return points;
}

/** One point per series of system.cpu.time (the collector exports at collectNow and again at stop). */
const cpuTime = (points: MetricPoint[]) => {
  const series = new Map<string, MetricPoint>();
  for (const p of points) if (p.name === 'system.cpu.time') series.set(`${p.scope.name}|${JSON.stringify(p.attributes)}`, p);
  return [...series.values()];
};

describe('collector: host metrics registered once', () => {
  it('collector.host.enabled (the default) runs the host plugin with defaults: per-core CPU time', async () => {
    const t = cpuTime(await shipped(''));
    expect(new Set(t.map((p) => p.scope.name))).toEqual(new Set(['vigil.collector.host']));
    expect(t).toHaveLength(7 * os.cpus().length);
  });

  it('a `type: host` entry replaces the default instead of adding a second registration', async () => {
    const t = cpuTime(await shipped('collector:\n  plugins:\n    - type: host\n      interval: 1s\n      perCpu: false\n'));
    expect(new Set(t.map((p) => p.scope.name))).toEqual(new Set(['vigil.collector.host']));
    expect(t).toHaveLength(7);
    expect(t.every((p) => p.attributes['cpu.logical_number'] === undefined)).toBe(true);
  });

  it('collector.host.enabled: false and no entry: no host metrics', async () => {
    expect(cpuTime(await shipped('collector:\n  host:\n    enabled: false\n'))).toEqual([]);
  });
});
