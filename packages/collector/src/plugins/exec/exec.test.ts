import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Attributes } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { HealthRegistry, accessPolicy, checkSection, createTelemetry } from '@vigil/platform';
import type { LogRecordInput, PluginContext } from '../../plugin.js';
import { loadRulePack } from '../../parse/index.js';
import { childEnv, createExecRunner, execSchema, type ExecOptions, type ExecRunner } from './index.js';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

interface Sink {
  ctx: PluginContext;
  records: LogRecordInput[];
  events: { name: string; body: string; attributes: Attributes; severity?: number }[];
  reader: TestReader;
  abort: AbortController;
}

/** A plugin context whose sinks collect what the plugin hands over (the sink is ours; the child processes are real). */
function sink(): Sink {
  const records: LogRecordInput[] = [];
  const events: Sink['events'] = [];
  const reader = new TestReader();
  const abort = new AbortController();
  const ctx: PluginContext = {
    name: 'exec-test',
    resource: {},
    identity: { 'host.id': 'h', 'host.name': 'h', 'host.arch': 'x64', 'os.type': 'linux', 'os.description': 'test' },
    meter: new MeterProvider({ readers: [reader] }).getMeter('test'),
    logs: async (r) => {
      records.push(...r);
    },
    event: async (name, body, attributes = {}, severity) => {
      events.push({ name, body, attributes, severity });
    },
    otlp: async () => {
      throw new Error('not used by exec');
    },
    pressure: () => undefined,
    stateDir: async () => {
      throw new Error('not used by exec');
    },
    health: new HealthRegistry(),
    telemetry: createTelemetry('test'),
    access: accessPolicy({}),
    signal: abort.signal,
  };
  return { ctx, records, events, reader, abort };
}

function options(command: string[], extra: Record<string, unknown> = {}): ExecOptions {
  return checkSection(execSchema, { command, ...extra }, 'test') as ExecOptions;
}

const node = (script: string) => [process.execPath, '-e', script];

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const runners: ExecRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

function run(o: ExecOptions, s: Sink, pack = 'default'): ExecRunner {
  const r = createExecRunner(o, s.ctx, loadRulePack(pack));
  runners.push(r);
  return r;
}

describe('exec plugin with real child processes', () => {
  it('parses stdout and stderr lines with the rule pack, reports start and exit, restarts with backoff', async () => {
    const s = sink();
    const script = `
      console.log("ERROR 2003 (HY000): Can't connect to MySQL server on 'db:3306' (111)");
      console.error('plain complaint on stderr');
      console.error(JSON.stringify({ level: 'info', msg: 'stderr but informational' }));
      process.stdout.write('no final newline');
      process.exit(3);`;
    const r = run(options(node(script), { restart: { initialDelay: '20ms', maxDelay: '80ms', stableAfter: '1h' } }), s);
    await r.start();
    await until('three restarts', () => s.events.filter((e) => e.name === 'process.restarting').length >= 3);
    await r.stop();

    const first = s.records.slice(0, 4);
    const byBody = (b: string) => first.find((x) => x.body === b);
    expect(byBody("ERROR 2003 (HY000): Can't connect to MySQL server on 'db:3306' (111)")).toMatchObject({
      severityNumber: 21,
      attributes: { 'log.iostream': 'stdout', 'vigil.category': 'database_connection', 'process.executable.name': 'node' },
    });
    expect(byBody('plain complaint on stderr')).toMatchObject({ severityNumber: 13, severityText: 'WARN', attributes: { 'log.iostream': 'stderr' } });
    expect(byBody('stderr but informational')).toMatchObject({ severityNumber: 9, attributes: { 'log.iostream': 'stderr' } });
    expect(byBody('no final newline')).toBeDefined();
    const pid = first[0]!.attributes!['process.pid'];
    expect(typeof pid).toBe('number');

    const names = s.events.map((e) => e.name);
    expect(names.slice(0, 6)).toEqual(['process.started', 'process.exited', 'process.restarting', 'process.started', 'process.exited', 'process.restarting']);
    const started = s.events[0]!;
    expect(started.attributes['process.pid']).toBe(pid);
    const exited = s.events[1]!;
    expect(exited.attributes).toMatchObject({ 'process.exit.code': 3, 'process.executable.name': 'node' });
    expect(exited.severity).toBe(13);
    expect(exited.body).toMatch(/^node exited with code 3 after \d+ ms$/);
    // Quick exits: the delay grows from initialDelay and is capped by maxDelay (jittered to [cap/2, cap]).
    const delays = s.events.filter((e) => e.name === 'process.restarting').map((e) => e.attributes['vigil.exec.restart_delay_ms'] as number);
    const caps = [20, 40, 80, 80];
    delays.slice(0, 3).forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(caps[i]! / 2);
      expect(d).toBeLessThanOrEqual(caps[i]!);
    });
  });

  it('a run longer than stableAfter resets the backoff to initialDelay', async () => {
    const s = sink();
    const r = run(options(node('setTimeout(() => process.exit(1), 60)'), { restart: { initialDelay: '10ms', maxDelay: '10s', stableAfter: '30ms' } }), s);
    await r.start();
    await until('four restarts', () => s.events.filter((e) => e.name === 'process.restarting').length >= 4);
    await r.stop();
    const delays = s.events.filter((e) => e.name === 'process.restarting').map((e) => e.attributes['vigil.exec.restart_delay_ms'] as number);
    expect(delays.every((d) => d <= 10)).toBe(true);
    expect(s.events.filter((e) => e.name === 'process.restarting').map((e) => e.attributes['vigil.exec.attempt'])).toEqual(delays.map(() => 1));
  });

  it('stop: SIGTERM lets the command finish its output; one that ignores SIGTERM is killed after stopTimeout', async () => {
    const polite = sink();
    const p = run(options(node(`process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);`)), polite);
    await p.start();
    await until('ready', () => polite.records.some((x) => x.body === 'ready'));
    await p.stop();
    expect(polite.records.map((x) => x.body)).toEqual(['ready', 'bye']);
    expect(polite.events.map((e) => e.name)).toEqual(['process.started', 'process.exited']);
    expect(polite.events[1]!.attributes['process.exit.code']).toBe(0);

    const stubborn = sink();
    const k = run(options(node(`process.on('SIGTERM', () => console.log('ignoring')); console.log('ready'); setInterval(() => {}, 1000);`), { stopTimeout: '300ms' }), stubborn);
    await k.start();
    await until('ready', () => stubborn.records.some((x) => x.body === 'ready'));
    const t0 = Date.now();
    await k.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(stubborn.records.map((x) => x.body)).toContain('ignoring');
    expect(stubborn.events.at(-1)).toMatchObject({ name: 'process.exited', attributes: { 'vigil.exec.signal': 'SIGKILL' } });
    expect(k.pid()).toBeUndefined();
  });

  it('a command that cannot start is reported and retried, not fatal', async () => {
    const s = sink();
    const r = run(options(['/nonexistent/vigil-test-binary'], { restart: { initialDelay: '10ms', maxDelay: '20ms' } }), s);
    await r.start();
    await until('two failed starts', () => s.events.filter((e) => e.name === 'process.exited').length >= 2);
    await r.stop();
    expect(s.events[0]).toMatchObject({ name: 'process.exited', attributes: { 'vigil.exec.error': 'ENOENT' } });
    expect(s.events[0]!.body).toBe('vigil-test-binary could not start (ENOENT) after ' + String(s.events[0]!.attributes['vigil.exec.uptime_ms']) + ' ms');
    expect(s.events[1]!.name).toBe('process.restarting');
  });

  it('restart disabled: runs once; passes only the named environment variables; runs in cwd', async () => {
    process.env.VIGIL_EXEC_TEST_PASSED = 'yes';
    process.env.VIGIL_EXEC_TEST_SECRET = 'hidden';
    const s = sink();
    const r = run(
      options(node('console.log(JSON.stringify({ msg: "env", passed: process.env.VIGIL_EXEC_TEST_PASSED ?? null, secret: process.env.VIGIL_EXEC_TEST_SECRET ?? null, cwd: process.cwd() }))'), {
        restart: { enabled: false },
        env: ['VIGIL_EXEC_TEST_PASSED'],
        cwd: '/tmp',
        attributes: { 'service.name': 'tunneld' },
      }),
      s,
    );
    await r.start();
    await until('exit', () => s.events.some((e) => e.name === 'process.exited'));
    await new Promise((res) => setTimeout(res, 50));
    expect(s.events.map((e) => e.name)).toEqual(['process.started', 'process.exited']);
    expect(s.records).toHaveLength(1);
    expect(s.records[0]!.attributes).toMatchObject({ passed: 'yes', cwd: '/tmp', 'service.name': 'tunneld' });
    expect(s.records[0]!.attributes).not.toHaveProperty('secret');
    expect(childEnv(['A'], { A: '1', B: '2', PATH: '/bin' })).toEqual({ A: '1', PATH: '/bin' });
  });

  it('metrics from a tunnel daemon\'s lines reach the plugin meter per tunnel (MISSION C)', async () => {
    const s = sink();
    const script = `
      console.log('tunnel t1 connected from 10.0.0.1');
      console.log('tunnel t1 in=100 out=40');
      console.log('tunnel t2 connected from 10.0.0.2');
      console.log('tunnel t1 in=50 out=10');
      console.log('tunnel t1 error: handshake timeout');
      setInterval(() => {}, 1000);`;
    const r = run(options(node(script)), s, join(import.meta.dirname, 'fixtures/tunnel.yaml'));
    await r.start();
    await until('five lines', () => s.records.length >= 5);
    const { resourceMetrics } = await s.reader.collect();
    const metrics = new Map(resourceMetrics.scopeMetrics.flatMap((x) => x.metrics).map((m) => [m.descriptor.name, m.dataPoints.map((p) => [p.attributes['tunnel.id'], p.value])]));
    expect(metrics.get('vigil.tunnel.received')).toEqual([['t1', 150]]);
    expect(metrics.get('vigil.tunnel.sent')).toEqual([['t1', 50]]);
    expect(metrics.get('vigil.tunnel.connections')).toEqual([['t1', 1], ['t2', 1]]);
    expect(metrics.get('vigil.tunnel.errors')).toEqual([['t1', 1]]);
    const last = metrics.get('vigil.tunnel.last_activity')!;
    expect(last.map(([id]) => id)).toEqual(['t1', 't2']);
    expect(Math.abs((last[0]![1] as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(s.records.find((x) => x.eventName === 'tunnel.error')).toMatchObject({ body: 'handshake timeout', severityNumber: 17, attributes: { 'vigil.category': 'tunnel_error', 'tunnel.id': 't1' } });
  });
});

describe('exec options', () => {
  it('name the key and what is allowed', () => {
    expect(() => checkSection(execSchema, { command: [] }, 'f.yaml: collector.plugins[0]')).toThrow(/collector\.plugins\[0\]\.command/);
    expect(() => checkSection(execSchema, { command: ['x'], env: ['NOT-A-NAME'] }, 'f.yaml: collector.plugins[0]')).toThrow(/collector\.plugins\[0\]\.env\[0\]: "NOT-A-NAME" does not have the expected form/);
    expect(() => checkSection(execSchema, { command: ['x'], restart: { initialDelay: 'soon' } }, 'f.yaml: collector.plugins[0]')).toThrow(/restart\.initialDelay: "soon" is not a duration/);
    const o = checkSection(execSchema, { command: ['x'] }, 'f') as ExecOptions;
    expect(o).toMatchObject({ parser: 'default', env: [], restart: { enabled: true, initialDelay: 1000, maxDelay: 60_000, stableAfter: 30_000 }, stopTimeout: 10_000 });
  });
});
