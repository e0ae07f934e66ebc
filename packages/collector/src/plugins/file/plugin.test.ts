import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, HealthRegistry, accessPolicy, checkSection, createTelemetry } from '@vigil/platform';
import type { LogRecordInput, PluginContext } from '../../plugin.js';
import { FileOptions, filePlugin } from './index.js';

const root = mkdtempSync(join(os.tmpdir(), 'vigil-fileplugin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function context(name: string) {
  const records: LogRecordInput[] = [];
  const abort = new AbortController();
  const health = new HealthRegistry();
  const telemetry = createTelemetry('test');
  const ctx: PluginContext = {
    name,
    resource: {},
    identity: { 'host.id': 'h', 'host.name': 'h', 'host.arch': 'x64', 'os.type': 'linux', 'os.description': 'test' },
    meter: new MeterProvider().getMeter('test'),
    logs: async (r) => void records.push(...r),
    event: async () => undefined,
    otlp: async () => undefined,
    pressure: () => undefined,
    stateDir: async () => {
      const d = join(root, name, 'state');
      mkdirSync(d, { recursive: true });
      return d;
    },
    health,
    telemetry,
    access: accessPolicy({}),
    signal: abort.signal,
  };
  return { ctx, records, health, telemetry, abort };
}

const check = (v: unknown) => checkSection(FileOptions, v, 'config: collector.plugins[0]');

describe('file plugin config', () => {
  it('fills documented defaults', () => {
    const o = check({ include: ['/var/log/*.log'] });
    expect(o).toMatchObject({ exclude: [], startAt: 'end', pollInterval: 250, fingerprintBytes: 1024, maxLineBytes: 65536, encoding: 'utf8', batchWait: 200 });
    expect(check({ include: ['x'], multiline: { startPattern: '^\\d' } }).multiline).toEqual({ startPattern: '^\\d', flushTimeout: 1000, maxLines: 500 });
  });

  it('names the key of every mistake', () => {
    const problems = (v: unknown) => {
      try {
        check(v);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.join('\n');
        throw err;
      }
      return '';
    };
    expect(problems({})).toMatch(/collector\.plugins\[0\]\.include: is required/);
    expect(problems({ include: ['a'], startAt: 'middle' })).toMatch(/startAt: "middle" is not allowed \(use one of end, beginning\)/);
    expect(problems({ include: ['a'], pollInterval: 'often' })).toMatch(/pollInterval: "often" is not a duration/);
    expect(problems({ include: ['a'], multiline: { startPattern: '([' } })).toMatch(/multiline\.startPattern/);
    expect(problems({ include: ['a'], folow: true })).toMatch(/folow: unknown key/);
  });
});

describe('file plugin', () => {
  it('ships lines with the parser when one is named, and reports on /metrics and /health', async () => {
    const dir = join(root, 'parsed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'app.log'), '{"level":"error","message":"payment failed","time":"2024-05-01T12:00:00Z"}\nplain words\n');
    const t = context('parsed');
    const instance = filePlugin.create(check({ include: [join(dir, '*.log')], startAt: 'beginning', parser: 'default', pollInterval: '20ms' }), t.ctx);
    await instance.start();
    const deadline = Date.now() + 5000;
    while (t.records.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await instance.stop();
    expect(t.records).toHaveLength(2);
    const [json, plain] = t.records;
    expect(json!.body).toBe('payment failed');
    expect(json!.severityNumber).toBe(17);
    expect(json!.attributes!['log.file.name']).toBe('app.log');
    expect(plain!.body).toBe('plain words');

    const health = t.health.report().checks['file:parsed']!;
    expect(health.status).toBe('up');
    expect(health.detail).toMatch(/2 lines read, 2 records shipped/);
    let text = '';
    await new Promise<void>((resolve) => {
      const res = { statusCode: 0, setHeader: () => undefined, end: (b: string) => ((text = b), resolve()) };
      t.telemetry.handle({ url: '/metrics', headers: {} } as never, res as never);
    });
    expect(text).toMatch(/vigil_collector_file_lines(_total)?\{plugin="parsed"\} 2/);
    expect(text).toMatch(/vigil_collector_file_records_shipped(_total)?\{plugin="parsed"\} 2/);
  });

  it('parses a multiline record like a line: level, time and message from its first line, the trace as exception.*', async () => {
    const dir = join(root, 'multiline');
    mkdirSync(dir, { recursive: true });
    const trace = ['java.lang.IllegalStateException: queue is closed', '\tat com.example.Exporter.run(Exporter.java:57)', '\tat java.base/java.lang.Thread.run(Thread.java:1583)'];
    writeFileSync(join(dir, 'app.log'), `2024-05-01 12:00:00,250 ERROR [export-1] exporter: export stopped\n${trace.join('\n')}\n2024-05-01 12:00:01,000 INFO [main] exporter: next\n`);
    const t = context('multiline');
    const options = { include: [join(dir, '*.log')], startAt: 'beginning', parser: 'default', pollInterval: '20ms', multiline: { startPattern: '^\\d{4}-\\d{2}-\\d{2} ', flushTimeout: '100ms' } };
    const instance = filePlugin.create(check(options), t.ctx);
    await instance.start();
    const deadline = Date.now() + 5000;
    while (t.records.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await instance.stop();
    expect(t.records).toHaveLength(2);
    expect(t.records[0]).toMatchObject({
      timestamp: new Date(2024, 4, 1, 12, 0, 0, 250).getTime(),
      severityNumber: 17,
      body: 'exporter: export stopped',
      attributes: {
        'thread.name': 'export-1',
        'exception.type': 'java.lang.IllegalStateException',
        'exception.message': 'queue is closed',
        'exception.stacktrace': trace.join('\n'),
        'vigil.category': 'application_error',
        'log.file.name': 'app.log',
      },
    });
    expect(t.records[1]).toMatchObject({ body: 'exporter: next', severityNumber: 9 });
  });
});
