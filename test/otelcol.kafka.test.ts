import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import {
  HealthRegistry,
  KafkaBus,
  createTelemetry,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  type RoleContext,
  type Storage,
  type VigilConfig,
} from '@vigil/platform';
import { createCollectorRole } from '@vigil/collector';
import { createIngestRole } from '@vigil/ingest';
import { otelcol } from './harness/deploy-tools.js';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';

/**
 * Vigil against the real OpenTelemetry Collector (otelcol-vigil, built once from the Go module
 * proxy by test/harness/deploy-tools.ts): what the Collector's Kafka exporter writes, Vigil's
 * ingest stores; what Vigil's collector writes, the Collector's Kafka receiver reads. Both
 * OTLP encodings the two sides share (otlp_proto, otlp_json). Loopback only.
 */

type Attr = { key: string; value: Record<string, unknown> };
const str = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });

/** A collector process on a config file; its output kept for failure messages. */
interface Otelcol {
  child: ChildProcess;
  output: () => string;
}

const children: Otelcol[] = [];
let bin: string;
let dir: string;
let storage: Storage;

beforeAll(async () => {
  bin = await otelcol((line) => process.stderr.write(`[otelcol] ${line}\n`));
  dir = mkdtempSync(join(os.tmpdir(), 'vigil-otelcol-'));
  storage = openStorage({ database: 'vigil', dataDir: join(dir, 'ch') });
  await migrate(storage, 30 * 86_400_000);
}, 40 * 60_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stop(c)));
  await storage?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function startOtelcol(name: string, config: string): Otelcol {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  let out = '';
  const child = spawn(bin, ['--config', `file:${file}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const c = { child, output: () => out };
  children.push(c);
  return c;
}

async function stop(c: Otelcol): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.child.once('exit', () => resolve()));
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The collector's own telemetry off (no port of its own), its logs at warn. */
const TELEMETRY = `  telemetry:\n    metrics: { level: none }\n    logs: { level: ${process.env.OTELCOL_LOG_LEVEL ?? 'warn'} }\n`;

function vigilConfig(prefix: string): VigilConfig {
  return parseConfig(
    `
kafka:
  partitions: 2
  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }
ingest: { groupId: ${prefix}-ingest }
`,
    { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
  );
}

function context(config: VigilConfig): RoleContext {
  return {
    config,
    bus: new KafkaBus({ brokers: config.kafka.brokers, clientId: 'otelcol-test', partitions: config.kafka.partitions }),
    storage,
    telemetry: createTelemetry('test'),
    health: new HealthRegistry(),
  };
}

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${text}`);
};

/** One OTLP/JSON logs request and one metrics request for the service `service`, at `now` (ns). */
function requests(service: string, host: string, now: bigint) {
  const resource = { attributes: [str('service.name', service), str('host.name', host), str('host.id', `${host}-id`), str('deployment.environment', 'interop')] };
  const t = String(now);
  const logs = {
    resourceLogs: [
      {
        resource,
        scopeLogs: [
          {
            scope: { name: 'interop', version: '1.0' },
            logRecords: [
              { timeUnixNano: t, observedTimeUnixNano: t, severityNumber: 9, severityText: 'INFO', eventName: 'app.startup', body: { stringValue: `${service} started` }, attributes: [str('event.name', 'app.startup'), { key: 'attempt', value: { intValue: '1' } }] },
              { timeUnixNano: String(now + 1_000_000n), observedTimeUnixNano: t, severityNumber: 17, severityText: 'ERROR', eventName: 'probe.failed', body: { stringValue: `${service} failed: disk full` }, attributes: [str('event.name', 'probe.failed')] },
            ],
          },
        ],
      },
    ],
  };
  const metrics = {
    resourceMetrics: [
      {
        resource,
        scopeMetrics: [
          {
            scope: { name: 'interop', version: '1.0' },
            metrics: [
              { name: 'interop.temperature', unit: 'Cel', description: 'room temperature', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 21.5, attributes: [str('room', 'lab')] }] } },
              {
                name: 'interop.requests',
                unit: '{request}',
                sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: String(now - 60_000_000_000n), timeUnixNano: t, asInt: '42', attributes: [str('route', '/a')] }] },
              },
              {
                name: 'interop.latency',
                unit: 's',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [{ startTimeUnixNano: String(now - 60_000_000_000n), timeUnixNano: t, count: '3', sum: 0.6, bucketCounts: ['1', '2', '0'], explicitBounds: [0.1, 0.5] }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  return { logs, metrics };
}

async function dlqCount(config: VigilConfig): Promise<number> {
  const admin = new Kafka({ brokers: config.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(config.kafka.topics.dlq)) return 0;
    const offsets = await admin.fetchTopicOffsets(config.kafka.topics.dlq);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('OpenTelemetry Collector → Kafka → Vigil ingest', () => {
  it('stores what the Kafka exporter writes, otlp_proto (keyed by resource) and otlp_json (no key), with nothing in the DLQ', async () => {
    const prefix = unique('otelcol-in');
    const config = vigilConfig(prefix);
    const ctx = context(config);
    const ingest = createIngestRole(ctx);
    await ingest.start();
    try {
      const [protoPort, jsonPort] = [await freePort(), await freePort()];
      const brokers = JSON.stringify(kafkaBrokers());
      const exporter = (encoding: string, extra: string) =>
        `    brokers: ${brokers}\n    logs: { topic: ${config.kafka.topics.logs}, encoding: ${encoding} }\n    metrics: { topic: ${config.kafka.topics.metrics}, encoding: ${encoding} }\n${extra}`;
      const col = startOtelcol(
        'in',
        `receivers:
  otlp/proto: { protocols: { http: { endpoint: 127.0.0.1:${protoPort} } } }
  otlp/json: { protocols: { http: { endpoint: 127.0.0.1:${jsonPort} } } }
processors:
  batch: { timeout: 200ms }
exporters:
  kafka/proto:
${exporter('otlp_proto', '    partition_logs_by_resource_attributes: true\n    partition_metrics_by_resource_attributes: true\n')}
  kafka/json:
${exporter('otlp_json', '')}
service:
${TELEMETRY}  pipelines:
    logs/proto: { receivers: [otlp/proto], processors: [batch], exporters: [kafka/proto] }
    metrics/proto: { receivers: [otlp/proto], processors: [batch], exporters: [kafka/proto] }
    logs/json: { receivers: [otlp/json], processors: [batch], exporters: [kafka/json] }
    metrics/json: { receivers: [otlp/json], processors: [batch], exporters: [kafka/json] }
`,
      );
      const now = BigInt(Date.now()) * 1_000_000n;
      for (const [port, service] of [
        [protoPort, 'interop-proto'],
        [jsonPort, 'interop-json'],
      ] as const) {
        const { logs, metrics } = requests(service, `${service}-host`, now);
        await eventually(`otelcol accepts OTLP on ${port} (${col.output().slice(-500)})`, () => post(`http://127.0.0.1:${port}/v1/logs`, logs).then(() => true), Boolean, 30_000);
        await post(`http://127.0.0.1:${port}/v1/metrics`, metrics);
      }

      const table = (t: string) => storage.table(t);
      for (const service of ['interop-proto', 'interop-json']) {
        const logRows = await eventually(
          `${service} logs stored`,
          () =>
            queryRows<{ body: string; sev: string; num: number; ev: string; host: string; env: string; hostId: string; attempt: string; scope: string; ts: string }>(
              storage,
              `SELECT Body AS body, SeverityText AS sev, SeverityNumber AS num, EventName AS ev, ResourceAttributes['host.name'] AS host,
                      ResourceAttributes['deployment.environment'] AS env, ResourceAttributes['host.id'] AS hostId, LogAttributes['attempt'] AS attempt,
                      ScopeName AS scope, toString(toUnixTimestamp64Nano(Timestamp)) AS ts
               FROM ${table('otel_logs')} WHERE ServiceName = {service:String} ORDER BY Timestamp`,
              { service },
            ),
          (rows) => rows.length >= 2,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\notelcol said: ${col.output().slice(-3000)}`);
        });
        expect(logRows.map((r) => [r.body, r.sev, Number(r.num), r.ev])).toEqual([
          [`${service} started`, 'INFO', 9, 'app.startup'],
          [`${service} failed: disk full`, 'ERROR', 17, 'probe.failed'],
        ]);
        expect(logRows.every((r) => r.host === `${service}-host` && r.hostId === `${service}-host-id` && r.env === 'interop' && r.scope === 'interop')).toBe(true);
        expect(logRows[0]!.attempt).toBe('1');
        expect(logRows.map((r) => r.ts)).toEqual([String(now), String(now + 1_000_000n)]);

        const gauge = await eventually(
          `${service} gauge stored`,
          () =>
            queryRows<{ v: number; unit: string; room: string; host: string }>(
              storage,
              `SELECT Value AS v, MetricUnit AS unit, Attributes['room'] AS room, ResourceAttributes['host.name'] AS host FROM ${table('otel_metrics_gauge')}
               WHERE ServiceName = {service:String} AND MetricName = 'interop.temperature'`,
              { service },
            ),
          (rows) => rows.length >= 1,
        );
        expect(gauge).toEqual([{ v: 21.5, unit: 'Cel', room: 'lab', host: `${service}-host` }]);
        const sum = await eventually(
          `${service} sum stored`,
          () =>
            queryRows<{ v: number; mono: boolean | number; temp: number; route: string }>(
              storage,
              `SELECT Value AS v, IsMonotonic AS mono, AggregationTemporality AS temp, Attributes['route'] AS route FROM ${table('otel_metrics_sum')}
               WHERE ServiceName = {service:String} AND MetricName = 'interop.requests'`,
              { service },
            ),
          (rows) => rows.length >= 1,
        );
        expect(sum.map((r) => [r.v, Boolean(r.mono), Number(r.temp), r.route])).toEqual([[42, true, 2, '/a']]);
        const hist = await eventually(
          `${service} histogram stored`,
          () =>
            queryRows<{ n: number | string; s: number; buckets: (number | string)[]; bounds: number[] }>(
              storage,
              `SELECT Count AS n, Sum AS s, BucketCounts AS buckets, ExplicitBounds AS bounds FROM ${table('otel_metrics_histogram')}
               WHERE ServiceName = {service:String} AND MetricName = 'interop.latency'`,
              { service },
            ),
          (rows) => rows.length >= 1,
        );
        expect(hist.map((r) => [Number(r.n), r.s, r.buckets.map(Number), r.bounds])).toEqual([[3, 0.6, [1, 2, 0], [0.1, 0.5]]]);
      }
      // Exactly once each (no duplicate rows), and nothing dead-lettered.
      const counts = await queryRows<{ service: string; n: number | string }>(
        storage,
        `SELECT ServiceName AS service, count() AS n FROM ${table('otel_logs')} WHERE ServiceName LIKE 'interop-%' GROUP BY service ORDER BY service`,
      );
      expect(counts.map((r) => [r.service, Number(r.n)])).toEqual([
        ['interop-json', 2],
        ['interop-proto', 2],
      ]);
      expect(await dlqCount(config)).toBe(0);
      await stop(col);
    } finally {
      await ingest.stop();
      await ctx.bus.close();
    }
  }, 90_000);
});

/** A loopback OTLP/HTTP (JSON) endpoint that keeps every request body by path. */
async function otlpSink(): Promise<{ server: Server; port: number; bodies: Map<string, unknown[]> }> {
  const bodies = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const list = bodies.get(req.url ?? '') ?? [];
      list.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      bodies.set(req.url ?? '', list);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, bodies };
}

interface JsonLogs {
  resourceLogs: { resource: { attributes: Attr[] }; scopeLogs: { scope?: { name?: string }; logRecords: { timeUnixNano: string; severityNumber: number; severityText: string; body: { stringValue: string }; attributes?: Attr[] }[] }[] }[];
}
interface JsonMetrics {
  resourceMetrics: { resource: { attributes: Attr[] }; scopeMetrics: { metrics: { name: string; unit?: string; gauge?: { dataPoints: { asDouble?: number }[] }; sum?: { isMonotonic?: boolean; dataPoints: { asInt?: string }[] }; histogram?: { dataPoints: { count: string; sum: number; bucketCounts: string[] }[] } }[] }[] }[];
}
const attrs = (list: Attr[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, Object.values(a.value)[0]]));

describe('Vigil collector → Kafka → OpenTelemetry Collector', () => {
  it('the Kafka receiver reads what Vigil produces in otlp_proto and otlp_json, records intact', async () => {
    const sink = await otlpSink();
    const roles: { stop(): Promise<void>; ctx: RoleContext }[] = [];
    try {
      const receivers: string[] = [];
      const pipelines: string[] = [];
      const intakes: [string, number][] = [];
      for (const encoding of ['otlp_proto', 'otlp_json'] as const) {
        const prefix = unique(`otelcol-out-${encoding.slice(5)}`);
        const port = await freePort();
        const cfg = parseConfig(
          `kafka:\n  partitions: 2\n  encoding: ${encoding}\n  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }\ncollector:\n  host: { enabled: false }\n  plugins:\n    - { type: otlp, listen: 127.0.0.1:${port} }\n`,
          { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
        );
        const ctx = context(cfg);
        const role = createCollectorRole(ctx);
        await role.start();
        roles.push({ stop: () => role.stop(), ctx });
        intakes.push([encoding, port]);
        const name = `kafka/${encoding.slice(5)}`;
        receivers.push(
          `  ${name}:\n    brokers: ${JSON.stringify(kafkaBrokers())}\n    group_id: ${prefix}-otelcol\n    initial_offset: earliest\n    logs: { topics: [${cfg.kafka.topics.logs}], encoding: ${encoding} }\n    metrics: { topics: [${cfg.kafka.topics.metrics}], encoding: ${encoding} }\n`,
        );
        pipelines.push(`    logs/${encoding}: { receivers: [${name}], exporters: [otlp_http] }\n    metrics/${encoding}: { receivers: [${name}], exporters: [otlp_http] }\n`);
      }
      const now = BigInt(Date.now()) * 1_000_000n;
      for (const [encoding, port] of intakes) {
        const { logs, metrics } = requests(`vigil-${encoding}`, `vigil-${encoding}-host`, now);
        await eventually(`Vigil's intake on ${port} accepts OTLP`, () => post(`http://127.0.0.1:${port}/v1/logs`, logs).then(() => true), Boolean, 20_000);
        await post(`http://127.0.0.1:${port}/v1/metrics`, metrics);
      }
      const col = startOtelcol(
        'out',
        `receivers:\n${receivers.join('')}exporters:\n  otlp_http:\n    endpoint: http://127.0.0.1:${sink.port}\n    encoding: json\n    compression: none\n    retry_on_failure: { enabled: false }\nservice:\n${TELEMETRY}  pipelines:\n${pipelines.join('')}`,
      );

      for (const [encoding] of intakes) {
        const service = `vigil-${encoding}`;
        const found = await eventually(
          `${service} logs and metrics through the Collector`,
          () => {
            const logs = ((sink.bodies.get('/v1/logs') ?? []) as JsonLogs[]).flatMap((b) => b.resourceLogs).filter((r) => attrs(r.resource.attributes)['service.name'] === service);
            const metrics = ((sink.bodies.get('/v1/metrics') ?? []) as JsonMetrics[]).flatMap((b) => b.resourceMetrics).filter((r) => attrs(r.resource.attributes)['service.name'] === service);
            return { logs, metrics };
          },
          (f) => f.logs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).length >= 2 && f.metrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).length >= 3,
          45_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\notelcol said: ${col.output().slice(-3000)}`);
        });
        for (const r of [...found.logs, ...found.metrics]) {
          expect(attrs(r.resource.attributes)).toMatchObject({ 'service.name': service, 'host.name': `${service}-host`, 'host.id': `${service}-host-id`, 'deployment.environment': 'interop' });
        }
        const records = found.logs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
        expect(records.map((l) => [l.body.stringValue, l.severityText, l.severityNumber, l.timeUnixNano, attrs(l.attributes)['event.name']])).toEqual([
          [`${service} started`, 'INFO', 9, String(now), 'app.startup'],
          [`${service} failed: disk full`, 'ERROR', 17, String(now + 1_000_000n), 'probe.failed'],
        ]);
        expect(attrs(records[0]!.attributes).attempt).toBe('1');
        const metrics = new Map(found.metrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).map((m) => [m.name, m]));
        expect([...metrics.keys()].sort()).toEqual(['interop.latency', 'interop.requests', 'interop.temperature']);
        expect(metrics.get('interop.temperature')!.gauge!.dataPoints.map((p) => p.asDouble)).toEqual([21.5]);
        expect(metrics.get('interop.temperature')!.unit).toBe('Cel');
        expect(metrics.get('interop.requests')!.sum!.dataPoints.map((p) => p.asInt)).toEqual(['42']);
        expect(metrics.get('interop.requests')!.sum!.isMonotonic).toBe(true);
        expect(metrics.get('interop.latency')!.histogram!.dataPoints.map((p) => [p.count, p.sum, p.bucketCounts])).toEqual([['3', 0.6, ['1', '2', '0']]]);
      }
      await stop(col);
    } finally {
      for (const r of roles) {
        await r.stop();
        await r.ctx.bus.close();
      }
      await new Promise<void>((resolve) => sink.server.close(() => resolve()));
    }
  }, 90_000);
});

describe('OpenTelemetry Collector otlphttp exporter → Vigil all-in-one', () => {
  it('stores what the exporter posts to /v1/logs and /v1/metrics (protobuf, gzip: its defaults)', async () => {
    const [vigilPort, otlpPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'aio.yaml'), 'collector: { host: { enabled: false } }\n');
    let out = '';
    const vigil = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'all-in-one', '--config', join(dir, 'aio.yaml')], {
      env: { ...process.env, VIGIL_PORT: String(vigilPort), VIGIL_DATA_DIR: join(dir, 'aio-data'), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    vigil.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    vigil.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const aio = { child: vigil, output: () => out };
    children.push(aio);
    // Read through the query API's own routes, not POST /api/v1/sql: on the embedded engine chdb's
    // connection sends that route's clickhouse_settings as SET statements, so readonly=1 stays on the
    // shared session and ingest can write no more ("Cannot execute query in readonly mode"; open bug).
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${vigilPort}${path}`);
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    try {
      await eventually('all-in-one ready', async () => (await fetch(`http://127.0.0.1:${vigilPort}/health`)).status, (s) => s === 200, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\nvigil said: ${out.slice(-2000)}`);
      });
      const col = startOtelcol(
        'http',
        `receivers:\n  otlp: { protocols: { http: { endpoint: 127.0.0.1:${otlpPort} } } }\nprocessors:\n  batch: { timeout: 200ms }\nexporters:\n  otlp_http:\n    endpoint: http://127.0.0.1:${vigilPort}\nservice:\n${TELEMETRY}  pipelines:\n    logs: { receivers: [otlp], processors: [batch], exporters: [otlp_http] }\n    metrics: { receivers: [otlp], processors: [batch], exporters: [otlp_http] }\n`,
      );
      const service = 'interop-otlphttp';
      const now = BigInt(Date.now()) * 1_000_000n;
      const { logs, metrics } = requests(service, `${service}-host`, now);
      await eventually('otelcol accepts OTLP', () => post(`http://127.0.0.1:${otlpPort}/v1/logs`, logs).then(() => true), Boolean, 30_000);
      await post(`http://127.0.0.1:${otlpPort}/v1/metrics`, metrics);

      type Events = { events: { body: string; severity: string; severityNumber: number; eventName: string; host: string; resource: Record<string, string>; attributes: Record<string, string> }[] };
      const events = await eventually(
        'logs stored by the all-in-one',
        () => api<Events>(`/api/v1/events?service=${service}&since=1h`).then((r) => r.events),
        (r) => r.length >= 2,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\notelcol said: ${col.output().slice(-3000)}\nvigil said: ${out.slice(-2000)}`);
      });
      expect(events.map((e) => [e.body, e.severity, e.severityNumber, e.eventName, e.host]).reverse()).toEqual([
        [`${service} started`, 'INFO', 9, 'app.startup', `${service}-host`],
        [`${service} failed: disk full`, 'ERROR', 17, 'probe.failed', `${service}-host`],
      ]);
      expect(events[0]!.resource).toMatchObject({ 'host.id': `${service}-host-id`, 'deployment.environment': 'interop' });
      type Series = { series: { host: string; attributes: Record<string, string>; points: [number, number | null][] }[] };
      for (const [name, value, attr] of [
        ['interop.temperature', 21.5, { room: 'lab' }],
        ['interop.requests', 42, { route: '/a' }],
      ] as const) {
        const series = await eventually(
          `${name} stored by the all-in-one`,
          () => api<Series>(`/api/v1/metrics/series?name=${name}&host=${service}-host&agg=max`).then((r) => r.series),
          (s) => s.length > 0 && s[0]!.points.some((p) => p[1] !== null),
        );
        expect(series.map((s) => [s.host, s.attributes, s.points.map((p) => p[1]).filter((v) => v !== null)])).toEqual([[`${service}-host`, attr, [value]]]);
      }
      await stop(col);
    } finally {
      await stop(aio);
    }
  }, 90_000);
});
