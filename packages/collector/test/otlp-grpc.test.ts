import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { SeverityNumber } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { HealthRegistry, MemoryBus, createTelemetry, decodeMetricsRequest, logEntries, metricPoints, parseConfig, type LogEntry, type MetricPoint } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/harness/kafka-jvm.js';
import { OTLP_GRPC_PATHS } from '../src/plugins/otlp/grpc.js';
import { createCollectorRole, type CollectorRole } from '../src/role.js';

/**
 * OTLP/gRPC from the OpenTelemetry SDK's own gRPC exporters into the otlp plugin and onto the
 * bus; refusals with the OTLP status codes, by a raw gRPC client.
 */
describe('otlp plugin over gRPC, onto the bus', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-otlp-grpc-'));
  const bus = new MemoryBus({ partitions: 1 });
  const telemetry = createTelemetry('otlp-grpc-test');
  const logs: LogEntry[] = [];
  const points: MetricPoint[] = [];
  let role: CollectorRole;
  let target: string;
  let stopSub: () => Promise<void>;

  beforeAll(async () => {
    const [http, grpcPort] = [await freePort(), await freePort()];
    const config = parseConfig(
      [
        `dataDir: ${dir}`,
        'http:',
        '  tokens:',
        '    - { name: apps, token: "${APPS_TOKEN}", scopes: [ingest] }',
        '    - { name: grafana, token: "${GRAFANA_TOKEN}", scopes: [read] }',
        'collector:',
        '  host: { enabled: false }',
        '  plugins:',
        '    - type: otlp',
        '      name: apps',
        `      listen: 127.0.0.1:${http}`,
        `      grpc: 127.0.0.1:${grpcPort}`,
        '      bodyLimit: 65536',
        '',
      ].join('\n'),
      { env: { APPS_TOKEN: 'apps-s3cret', GRAFANA_TOKEN: 'grafana-s3cret' } },
    );
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
    role = createCollectorRole({ config, bus, telemetry, health: new HealthRegistry() });
    await role.start();
    target = `127.0.0.1:${grpcPort}`;
  });

  afterAll(async () => {
    await role.stop();
    await stopSub();
    await bus.close();
    await telemetry.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async <T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const metadata = () => {
    const m = new grpc.Metadata();
    m.set('authorization', 'Bearer apps-s3cret');
    return m;
  };

  it('takes logs from the SDK gRPC exporter (gzip) and puts them on the bus', async () => {
    const exporter = new OTLPLogExporter({ url: `http://${target}`, metadata: metadata(), compression: 'gzip' as never });
    const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'pos-app', 'service.instance.id': 'till-9' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
    provider.getLogger('pos').emit({ body: 'drawer opened', severityNumber: SeverityNumber.WARN, severityText: 'WARN', attributes: { 'till.id': 9 } });
    await provider.forceFlush();
    await provider.shutdown();
    const e = await until('the SDK log record on the bus', () => logs.find((l) => l.body === 'drawer opened'));
    expect(e.resource.attributes['service.instance.id']).toBe('till-9');
    expect(e.severityNumber).toBe(SeverityNumber.WARN);
  });

  it('takes metrics from the SDK gRPC exporter', async () => {
    const exporter = new OTLPMetricExporter({ url: `http://${target}`, metadata: metadata() });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'pos-app', 'host.id': 'till-host-9' }), readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })] });
    provider.getMeter('pos').createCounter('pos.refunds').add(3, { 'till.id': '9' });
    await provider.forceFlush();
    await provider.shutdown();
    const p = await until('the SDK metric point on the bus', () => points.find((x) => x.name === 'pos.refunds'));
    expect(p.resource.attributes['host.id']).toBe('till-host-9');
    expect(p.kind === 'sum' && p.value).toBe(3);
  });

  /** One Export call with raw bytes, as any gRPC client sends it. */
  const call = (path: string, body: Buffer, md = metadata()) =>
    new Promise<{ code: grpc.status; details: string; response?: Buffer }>((resolve) => {
      const client = new grpc.Client(target, grpc.credentials.createInsecure());
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, md, (err, response) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', response });
      });
    });
  const metricsRequest = (dataPoints: unknown[]) => {
    const body = { resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics: [{ name: 'raw.gauge', gauge: { dataPoints } }] }] }] };
    const { type } = decodeMetricsRequest(Buffer.from(JSON.stringify(body)));
    return Buffer.from(type.encode(type.fromObject(body)).finish());
  };

  it('answers partial success, INVALID_ARGUMENT, UNAUTHENTICATED and PERMISSION_DENIED as the OTLP spec says', async () => {
    const partial = await call(OTLP_GRPC_PATHS.metrics, metricsRequest([{ asInt: '1' }, { timeUnixNano: '18446744073709551615', asInt: '2' }]));
    expect(partial.code).toBe(grpc.status.OK);
    // ExportMetricsServiceResponse.partial_success (field 1, length-delimited) holding rejected_data_points = 1 (field 1, varint).
    const reader = protobuf.Reader.create(partial.response!);
    expect(reader.uint32()).toBe(0x0a);
    reader.uint32();
    expect([reader.uint32(), reader.int64().toString()]).toEqual([0x08, '1']);
    expect(partial.response!.toString('latin1')).toMatch(/timeUnixNano: "18446744073709551615" is after 2100/);
    await until('the kept point', () => points.find((p) => p.name === 'raw.gauge'));
    expect(points.filter((p) => p.name === 'raw.gauge')).toHaveLength(1);

    const invalid = await call(OTLP_GRPC_PATHS.metrics, Buffer.from([0x0a, 0xff, 0xff]));
    expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(invalid.details).toMatch(/cannot decode OTLP metrics request/);
    expect((await call(OTLP_GRPC_PATHS.logs, Buffer.from('x'), new grpc.Metadata())).code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer grafana-s3cret');
    const denied = await call(OTLP_GRPC_PATHS.logs, Buffer.from('x'), md);
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.details).toMatch(/ingest scope/);
  });
});
