import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthRegistry, MemoryBus, createTelemetry, logEntries, metricPoints, parseConfig, type LogEntry, type MetricPoint } from '@vigil/platform';
import { createCollectorRole } from '../../role.js';

const dir = mkdtempSync(join(os.tmpdir(), 'vigil-exec-role-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('exec plugin inside the collector role, on the in-process bus', () => {
  it('ships parsed lines, lifecycle events and log-derived metrics as OTLP', async () => {
    const script = [
      "console.log('tunnel t1 connected from 10.0.0.1')",
      "console.log('tunnel t1 in=100 out=40')",
      "console.error('psycopg2.OperationalError: could not connect to server: Connection refused')",
      'setInterval(() => {}, 1000)',
    ].join(';');
    const config = parseConfig(
      `
dataDir: ${JSON.stringify(dir)}
collector:
  interval: 1h
  host: { enabled: false }
  plugins:
    - type: exec
      name: tunneld
      command: ${JSON.stringify([process.execPath, '-e', script])}
      parser: ${JSON.stringify(join(import.meta.dirname, 'fixtures/tunnel.yaml'))}
      attributes: { service.name: tunneld }
      stopTimeout: 2s
`,
      { env: {} },
    );
    const bus = new MemoryBus({ partitions: 1 });
    const logs: LogEntry[] = [];
    const points: MetricPoint[] = [];
    const sub = await bus.subscribe({
      groupId: 'exec-role-test',
      topics: [config.kafka.topics.logs, config.kafka.topics.metrics],
      handler: async (batch) => {
        for (const r of batch.records) {
          if (batch.topic === config.kafka.topics.logs) logs.push(...logEntries(r.value));
          else points.push(...metricPoints(r.value));
        }
      },
    });
    const role = createCollectorRole({ config, bus, telemetry: createTelemetry('test'), health: new HealthRegistry() });
    await role.start();
    try {
      await until('three lines', () => logs.filter((l) => l.attributes['log.iostream'] !== undefined).length >= 3);
      await role.collectNow();
      await until('tunnel metrics', () => points.some((p) => p.name === 'vigil.tunnel.received'));
    } finally {
      await role.stop();
      await sub.stop();
      await bus.close();
    }

    const connected = logs.find((l) => l.eventName === 'tunnel.connected')!;
    expect(connected).toMatchObject({ body: 'tunnel t1 connected from 10.0.0.1', severityNumber: 9, severityText: 'INFO' });
    expect(connected.attributes).toMatchObject({ 'tunnel.id': 't1', 'client.address': '10.0.0.1', 'log.iostream': 'stdout', 'service.name': 'tunneld' });
    expect(connected.resource.attributes['host.name']).toBe(os.hostname());

    const db = logs.find((l) => l.attributes['log.iostream'] === 'stderr')!;
    expect(db).toMatchObject({ severityNumber: 21, severityText: 'FATAL' });
    expect(db.attributes).toMatchObject({ 'vigil.category': 'database_connection', 'vigil.severity': 'critical', 'exception.type': 'psycopg2.OperationalError' });

    const lifecycle = logs.filter((l) => l.eventName.startsWith('process.')).map((l) => l.eventName);
    expect(lifecycle).toEqual(['process.started', 'process.exited']);
    const exited = logs.find((l) => l.eventName === 'process.exited')!;
    expect(exited.attributes['vigil.exec.signal']).toBe('SIGTERM');

    const received = points.filter((p) => p.name === 'vigil.tunnel.received');
    expect(received.at(-1)).toMatchObject({ kind: 'sum', value: 100, unit: 'By', attributes: { 'tunnel.id': 't1' }, monotonic: true });
    expect(points.find((p) => p.name === 'vigil.tunnel.connections')).toMatchObject({ value: 1, attributes: { 'tunnel.id': 't1' } });
  });
});
