import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SeverityNumber } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { HealthRegistry, MemoryBus, accessPolicy, createHttpServer, createTelemetry, logEntries, metricPoints, parseConfig, type LogEntry, type MetricPoint } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/harness/kafka-jvm.js';
import { parseEvents } from '../src/plugins/otlp/events.js';
import { parseListen } from '../src/plugins/otlp/plugin.js';
import { registerIntake } from '../src/plugins/otlp/intake.js';
import { createCollectorRole, type CollectorRole } from '../src/role.js';

const messageOf = async (r: Response) => ((await r.json()) as { message: string }).message;

describe('JSON events → log records', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it('map every field: severity, event name, OTel semconv attributes, timestamp', () => {
    const r = parseEvents(
      {
        level: 'error',
        type: 'app.error',
        message: 'payment failed',
        error: { type: 'TimeoutError', message: 'gateway timed out', stack: 'TimeoutError: gateway\n  at charge (billing.ts:120)' },
        module: 'billing',
        function: 'charge',
        line: 120,
        file: 'billing.ts',
        appVersion: '2.3.1',
        timestamp: '2025-03-01T11:59:00Z',
        attributes: { 'order.id': 'A1', retries: 3, paid: false },
      },
      now,
    );
    expect(r).toEqual({
      ok: true,
      records: [
        {
          timestamp: Date.parse('2025-03-01T11:59:00Z'),
          severityNumber: SeverityNumber.ERROR,
          severityText: 'ERROR',
          body: 'payment failed',
          eventName: 'app.error',
          attributes: {
            'order.id': 'A1',
            retries: 3,
            paid: false,
            'code.namespace': 'billing',
            'code.function': 'charge',
            'code.filepath': 'billing.ts',
            'code.lineno': 120,
            'service.version': '2.3.1',
            'exception.type': 'TimeoutError',
            'exception.message': 'gateway timed out',
            'exception.stacktrace': 'TimeoutError: gateway\n  at charge (billing.ts:120)',
          },
        },
      ],
    });
  });

  it('default to info, now and no event name; accept an array and Unix milliseconds', () => {
    const r = parseEvents([{ message: 'a' }, { message: 'b', level: 'WARNING', timestamp: 1000 }], now);
    expect(r).toEqual({
      ok: true,
      records: [
        { timestamp: now, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'a', attributes: {} },
        { timestamp: 1000, severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'b', attributes: {} },
      ],
    });
  });

  it('keep integers JavaScript cannot hold exactly as text (an intValue of 1e+21 is no int64), found by the property test', () => {
    const r = parseEvents({ message: 'm', attributes: { big: 1e21, ids: [1, 2 ** 60], ok: 2 ** 53 - 1, ratio: 1.5 } }, now);
    expect(r.ok && r.records[0]!.attributes).toEqual({ big: '1e+21', ids: ['1', '1152921504606847000'], ok: 2 ** 53 - 1, ratio: 1.5 });
  });

  it.each([
    [{ level: 'info' }, 'message: required (a non-empty string)'],
    [{ message: '' }, 'message: must be a non-empty string (got "")'],
    [{ message: 'x', level: 'loud' }, 'level: "loud" is not a level'],
    [{ message: 'x', line: 'twelve' }, 'line: must be a line number, an integer >= 0 (got "twelve")'],
    [{ message: 'x', line: 1e21 }, 'line: must be a line number, an integer >= 0 (got 1e+21)'],
    [{ message: 'x', timestamp: 'yesterday' }, 'timestamp: must be an ISO 8601 time or Unix milliseconds (got "yesterday")'],
    [{ message: 'x', mesage: 'typo' }, 'mesage: unknown field (allowed: level, type, message'],
    [{ message: 'x', error: 'boom' }, 'error: must be an object with type, message and stack (got "boom")'],
    [{ message: 'x', error: { code: 1 } }, 'error.code: unknown field (allowed: type, message, stack)'],
    [{ message: 'x', attributes: { nested: { a: 1 } } }, 'attributes.nested: must be a string, a finite number, a boolean or an array of one of those'],
    [{ message: 'x', type: 'has space' }, 'type: "has space" is not an event name'],
    ['just text', 'body: must be an event object (got "just text")'],
  ])('reject %j naming the field', (body, problem) => {
    const r = parseEvents(body);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems.join('\n')).toContain(problem);
  });

  it('name the index of the bad event in an array, and reject an empty array', () => {
    const r = parseEvents([{ message: 'ok' }, { message: 'x', line: -1 }]);
    expect(r).toEqual({ ok: false, problems: ['[1].line: must be a line number, an integer >= 0 (got -1)'] });
    expect(parseEvents([])).toEqual({ ok: false, problems: ['the array holds no events (send one event object or a non-empty array)'] });
  });

  it('split listen into host and port, IPv6 in brackets', () => {
    expect(parseListen('127.0.0.1:4318')).toEqual({ host: '127.0.0.1', port: 4318 });
    expect(parseListen('[::1]:4318')).toEqual({ host: '::1', port: 4318 });
  });
});

describe('otlp plugin over HTTP, onto the bus', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-otlp-'));
  const bus = new MemoryBus({ partitions: 1 });
  const telemetry = createTelemetry('otlp-test');
  const health = new HealthRegistry();
  const logs: LogEntry[] = [];
  const points: MetricPoint[] = [];
  let role: CollectorRole;
  let intake: string;
  let main: string;
  let app: ReturnType<typeof createHttpServer>;
  let stopSub: () => Promise<void>;

  beforeAll(async () => {
    const port = await freePort();
    const config = parseConfig(
      [
        `dataDir: ${dir}`,
        'http:',
        '  token: ${TOKEN}',
        '  tokens:',
        '    - { name: apps, token: "${APPS_TOKEN}", scopes: [ingest] }',
        '    - { name: grafana, token: "${GRAFANA_TOKEN}", scopes: [read] }',
        'collector:',
        '  host:',
        '    enabled: false',
        '  plugins:',
        '    - type: otlp',
        '      name: apps',
        `      listen: 127.0.0.1:${port}`,
        '      bodyLimit: 65536',
        '',
      ].join('\n'),
      { env: { TOKEN: 's3cret', APPS_TOKEN: 'apps-s3cret', GRAFANA_TOKEN: 'grafana-s3cret' } },
    );
    app = createHttpServer(health, telemetry, { access: accessPolicy(config.http) });
    const sub = await bus.subscribe({
      groupId: 'test',
      topics: [config.kafka.topics.logs, config.kafka.topics.metrics],
      handler: async (batch) => {
        for (const r of batch.records) {
          if (r.topic === config.kafka.topics.logs) logs.push(...logEntries(r.value));
          else points.push(...metricPoints(r.value));
        }
      },
    });
    stopSub = () => sub.stop();
    role = createCollectorRole({ config, bus, telemetry, health }, { http: app });
    registerIntake(app, { sink: () => role.sink('http') });
    main = await app.listen({ host: '127.0.0.1', port: 0 });
    await role.start();
    intake = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await role.stop();
    await app.close();
    await stopSub();
    await bus.close();
    await telemetry.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = { authorization: 'Bearer s3cret' };
  const until = async <T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('take logs from a real OpenTelemetry SDK (OTLP/HTTP JSON, gzip) and put them on the bus, keyed by the app', async () => {
    const exporter = new OTLPLogExporter({ url: `${intake}/v1/logs`, headers: auth, compression: 'gzip' as never });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'pos-app', 'service.instance.id': 'till-7' }),
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    provider.getLogger('pos').emit({ body: 'till opened', severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { 'till.id': 7 } });
    await provider.forceFlush();
    await provider.shutdown();
    const e = await until('the SDK log record on the bus', () => logs.find((l) => l.body === 'till opened'));
    expect(e.resource.attributes['service.instance.id']).toBe('till-7');
    expect(e.severityNumber).toBe(SeverityNumber.INFO);
    expect(e.attributes['till.id']).toBe('7');
  });

  it('take metrics from a real OpenTelemetry SDK meter provider', async () => {
    const exporter = new OTLPMetricExporter({ url: `${intake}/v1/metrics`, headers: auth });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'pos-app', 'host.id': 'till-host-7' }), readers: [reader] });
    provider.getMeter('pos').createCounter('pos.sales').add(42, { 'till.id': '7' });
    await provider.forceFlush();
    await provider.shutdown();
    const p = await until('the SDK metric point on the bus', () => points.find((x) => x.name === 'pos.sales'));
    expect(p.resource.attributes['host.id']).toBe('till-host-7');
    expect(p.kind === 'sum' && p.value).toBe(42);
  });

  it('take the plain JSON events intake and ship the events as log records with the collector as resource', async () => {
    const res = await fetch(`${intake}/v1/events`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([
        { type: 'app.startup', message: 'POS started', appVersion: '4.2.0' },
        { level: 'error', message: 'printer jammed', error: { type: 'PrinterError', message: 'jam', stack: 'PrinterError: jam' }, module: 'print', function: 'feed', line: 88 },
      ]),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2 });
    const jam = await until('the error event on the bus', () => logs.find((l) => l.body === 'printer jammed'));
    expect(jam.severityText).toBe('ERROR');
    expect(jam.attributes).toMatchObject({ 'exception.type': 'PrinterError', 'exception.stacktrace': 'PrinterError: jam', 'code.function': 'feed', 'code.lineno': '88', 'code.namespace': 'print' });
    expect(jam.resource.attributes['host.id']).toBe(role.identity()!['host.id']);
    expect(jam.scope.name).toBe('vigil.collector.apps');
    const start = logs.find((l) => l.body === 'POS started')!;
    expect(start.eventName).toBe('app.startup');
    expect(start.attributes['service.version']).toBe('4.2.0');
  });

  it('answer bad requests with a 4xx that says what is wrong, and keep serving', async () => {
    const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`${intake}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', ...headers }, body });
    const before = logs.length;

    let r = await post('/v1/events', JSON.stringify({ message: 'x', line: 'ten' }));
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toBe('line: must be a line number, an integer >= 0 (got "ten")');

    r = await post('/v1/events', '{"message": ');
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toMatch(/^the body is not JSON/);

    r = await post('/v1/logs', Buffer.from([0x0a, 0xff, 0xff, 0x01]), { 'content-type': 'application/x-protobuf' });
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toMatch(/^cannot decode OTLP logs request: .*ExportLogsServiceRequest/);

    r = await post('/v1/metrics', '{"resourceMetrics": 5}');
    expect(r.status).toBe(400);

    r = await post('/v1/events', JSON.stringify({ message: 'x'.repeat(70_000) }));
    expect(r.status).toBe(413);
    expect((await messageOf(r))).toBe("the body is larger than 65536 bytes, the intake's limit: send smaller batches");

    r = await post('/v1/events', gzipSync(JSON.stringify({ message: 'y'.repeat(200_000) })), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect((await messageOf(r))).toMatch(/decompresses to more than 65536 bytes/);

    r = await post('/v1/events', 'x', { 'content-encoding': 'br' });
    expect(r.status).toBe(415);

    r = await post('/v1/logs', 'hello', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);

    r = await fetch(`${intake}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"x"}' });
    expect(r.status).toBe(401);
    expect((await messageOf(r))).toContain('Authorization: Bearer');

    // Nested past the cap: a 400 from a byte scan, before any parser recurses into it.
    const deep = (n: number) => '{"message":"x","attributes":'.concat('['.repeat(n), ']'.repeat(n), '}');
    r = await post('/v1/events', deep(30_000));
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toMatch(/^the JSON body nests deeper than 64 levels of arrays and objects \(at byte \d+\); send flatter records$/);
    r = await post('/v1/logs', gzipSync('{"resourceLogs":'.concat('['.repeat(30_000), ']'.repeat(30_000), '}')), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toMatch(/nests deeper than 64 levels/);
    // JSON under a protobuf Content-Type: the decoder reads it as JSON, so it is scanned too.
    r = await post('/v1/metrics', '{"resourceMetrics":'.concat('['.repeat(1000), ']'.repeat(1000), '}'), { 'content-type': 'application/x-protobuf' });
    expect(r.status).toBe(400);
    expect((await messageOf(r))).toMatch(/nests deeper than 64 levels/);
    r = await post('/v1/events', JSON.stringify([{ message: '[[[[{{{{'.repeat(20) }]));
    expect(r.status).toBe(202);

    // Nothing above reached the bus, and a good request still goes through.
    r = await post('/v1/events', JSON.stringify({ message: 'after the bad ones' }));
    expect(r.status).toBe(202);
    await until('the good event', () => logs.find((l) => l.body === 'after the bad ones'));
    expect(logs.slice(before).map((l) => l.body)).toEqual(['[[[[{{{{'.repeat(20), 'after the bad ones']);
  });

  it('serve the same intake on the main port, through the collector', async () => {
    const r = await fetch(`${main}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"message":"via main port"}' });
    expect(r.status).toBe(202);
    const e = await until('the main-port event', () => logs.find((l) => l.body === 'via main port'));
    expect(e.scope.name).toBe('vigil.collector.http');
  });

  it('show records in and out per plugin, the spool and Kafka errors on /metrics and /health', async () => {
    await role.collectNow();
    const text = await (await fetch(`${main}/metrics`)).text();
    expect(text).toMatch(/vigil_collector_records_received_total\{source="apps"\} [1-9]/);
    expect(text).toMatch(/vigil_collector_records_sent_total\{source="apps"\} [1-9]/);
    expect(text).toMatch(/vigil_collector_records_sent_total\{source="http"\} 1\n/);
    expect(text).toMatch(/vigil_collector_spool_bytes(\{[^}]*\})? 0\n/);
    expect(text).toMatch(/vigil_collector_queue_length(\{[^}]*\})? 0\n/);
    expect(text).toContain('# TYPE vigil_collector_spool_dropped_records_total counter');
    expect(text).toContain('# TYPE vigil_collector_kafka_errors_total counter');
    const health = (await (await fetch(`${main}/health`)).json()) as { checks: Record<string, unknown> };
    expect(health.checks.spool).toEqual({ status: 'up', detail: 'empty: records go straight to the bus' });
  });

  it("check tokens and scopes on the plugin's own server as on the main one", async () => {
    const send = (base: string, token?: string) =>
      fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: '{"message":"scoped"}' });
    for (const base of [intake, main]) {
      expect((await send(base)).status).toBe(401);
      expect((await send(base, 'wrong')).status).toBe(401);
      const readOnly = await send(base, 'grafana-s3cret');
      expect(readOnly.status).toBe(403);
      expect(await messageOf(readOnly)).toBe('POST /v1/events needs a token with the ingest scope; token "grafana" has read: add ingest to its scopes in http.tokens, or use a token that has it');
      expect((await send(base, 'apps-s3cret')).status).toBe(202);
      expect((await send(base, 's3cret')).status).toBe(202);
    }
  });
});
