import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeverityNumber } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { encodeLogs, encodeMetrics, logEntries, metricPoints, migrate, openStorage, queryRows, type Storage } from '@vigil/platform';
import { METRIC_TABLES, insertRows, logRow, metricRow } from '../src/rows.js';

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const resource = resourceFromAttributes({ 'service.name': 'shop-pos', 'host.id': 'h-1', 'host.name': 'pos-7', 'os.type': 'linux' });

async function sdkMetrics(): Promise<ResourceMetrics> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('test-scope', '1.2.3');
  meter.createObservableGauge('system.cpu.utilization', { unit: '1' }).addCallback((r) => {
    r.observe(0.25, { 'cpu.mode': 'user' });
    r.observe(0.7, { 'cpu.mode': 'idle' });
  });
  meter.createCounter('orders', { unit: '{order}' }).add(5, { shop: 'a' });
  const h = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [5, 50, 500]) h.record(v, { route: '/x' });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

describe('OTLP encode (SDK serializer) → decode → exporter rows', () => {
  it.each(['otlp_proto', 'otlp_json'] as const)('decodes metrics the SDK encoded as %s', async (encoding) => {
    const points = metricPoints(encodeMetrics(await sdkMetrics(), encoding));
    const byName = (n: string) => points.filter((p) => p.name === n);
    const cpu = byName('system.cpu.utilization');
    expect(cpu.map((p) => (p.kind === 'gauge' ? [p.attributes['cpu.mode'], p.value] : null)).sort()).toEqual([['idle', 0.7], ['user', 0.25]]);
    expect(cpu[0]!.resource.attributes['host.name']).toBe('pos-7');
    expect(cpu[0]!.resource.serviceName).toBe('shop-pos');
    expect(cpu[0]!.scope).toMatchObject({ name: 'test-scope', version: '1.2.3' });
    expect(cpu[0]!.timeUnixNano).toMatch(/^\d{19}$/);
    const orders = byName('orders')[0]!;
    expect(orders).toMatchObject({ kind: 'sum', value: 5, monotonic: true, temporality: 2, unit: '{order}', attributes: { shop: 'a' } });
    const lat = byName('latency')[0]!;
    expect(lat).toMatchObject({ kind: 'histogram', count: 3, sum: 555, bucketCounts: [1, 1, 1], explicitBounds: [10, 100], min: 5, max: 500 });
  });

  it('rejects garbage with a reason', () => {
    expect(() => metricPoints(Buffer.from('not protobuf at all'))).toThrow(/cannot decode OTLP metrics request/);
    expect(() => metricPoints(Buffer.from('{"resourceMetrics": 3}'))).toThrow(/expected a list/);
    expect(() => logEntries(Buffer.alloc(0))).toThrow(/empty payload/);
  });
});

describe('rows in the real ClickHouse engine', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-rows-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores gauge, sum and histogram points with the exporter columns', async () => {
    const points = metricPoints(encodeMetrics(await sdkMetrics(), 'otlp_proto'));
    for (const p of points) await insertRows(storage, METRIC_TABLES[p.kind], [metricRow(p)]);
    const gauge = await queryRows<Record<string, unknown>>(
      storage,
      `SELECT MetricName, Value, Attributes, ResourceAttributes['host.name'] AS host, ServiceName, ScopeName, MetricUnit,
              toUnixTimestamp64Nano(TimeUnix) AS t FROM ${storage.table('otel_metrics_gauge')} ORDER BY Value`,
    );
    expect(gauge.map((r) => [r.MetricName, r.Value, r.Attributes, r.host, r.ServiceName, r.ScopeName, r.MetricUnit])).toEqual([
      ['system.cpu.utilization', 0.25, { 'cpu.mode': 'user' }, 'pos-7', 'shop-pos', 'test-scope', '1'],
      ['system.cpu.utilization', 0.7, { 'cpu.mode': 'idle' }, 'pos-7', 'shop-pos', 'test-scope', '1'],
    ]);
    const cpu0 = points.find((p) => p.name === 'system.cpu.utilization')!;
    expect(String(gauge[0]!.t)).toBe(cpu0.timeUnixNano);
    const sum = await queryRows<Record<string, unknown>>(storage, `SELECT Value, IsMonotonic, AggregationTemporality FROM ${storage.table('otel_metrics_sum')}`);
    expect(sum).toEqual([{ Value: 5, IsMonotonic: true, AggregationTemporality: 2 }]);
    const hist = await queryRows<Record<string, unknown>>(storage, `SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max FROM ${storage.table('otel_metrics_histogram')}`);
    expect(hist.map((r) => ({ ...r, Count: Number(r.Count), BucketCounts: (r.BucketCounts as unknown[]).map(Number) }))).toEqual([
      { Count: 3, Sum: 555, BucketCounts: [1, 1, 1], ExplicitBounds: [10, 100], Min: 5, Max: 500 },
    ]);
  });

  it('stores log records with event name, severity and attributes', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
    // A recent time: a row older than the retention (30 days here) may be dropped by the TTL at once.
    const at = Date.now() - 3_600_000 + 123;
    provider.getLogger('app').emit({ eventName: 'app.startup', body: 'started', severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { 'app.version': '2.1' }, timestamp: at });
    await provider.forceFlush();
    const entries = logEntries(encodeLogs(exporter.getFinishedLogRecords(), 'otlp_proto'));
    await insertRows(storage, 'otel_logs', entries.map(logRow));
    const rows = await queryRows<Record<string, unknown>>(
      storage,
      `SELECT EventName, Body, SeverityText, SeverityNumber, LogAttributes, ServiceName, toUnixTimestamp64Milli(Timestamp) AS ms FROM ${storage.table('otel_logs')} WHERE EventName = 'app.startup'`,
    );
    expect(rows).toEqual([{ EventName: 'app.startup', Body: 'started', SeverityText: 'INFO', SeverityNumber: 9, LogAttributes: { 'app.version': '2.1' }, ServiceName: 'shop-pos', ms: at }]);
    await provider.shutdown();
  });

  it('stores an error\'s fingerprint as the log attribute vigil.error.fingerprint, the same for the same bug on two hosts', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
    const trace = (root: string, order: number) =>
      `Traceback (most recent call last):\n  File "${root}/orders/service.py", line 88, in place\n    charge(o)\n  File "${root}/billing/charge.py", line 17, in charge\n    raise PaymentError(o)\nbilling.PaymentError: declined for order ${order}`;
    const logger = provider.getLogger('app');
    // Recent times: rows older than the retention are dropped.
    const t = Date.now() - 60_000;
    logger.emit({ body: trace('/srv/a', 1), severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', timestamp: t + 1 });
    logger.emit({ body: trace('/opt/b', 2), severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', timestamp: t + 2 });
    logger.emit({ body: 'user logged in', severityNumber: SeverityNumber.INFO, timestamp: t + 3 });
    await provider.forceFlush();
    await insertRows(storage, 'otel_logs', logEntries(encodeLogs(exporter.getFinishedLogRecords(), 'otlp_proto')).map(logRow));
    const rows = await queryRows<{ fp: string; n: string }>(
      storage,
      `SELECT LogAttributes['vigil.error.fingerprint'] AS fp, count() AS n FROM ${storage.table('otel_logs')} WHERE toUnixTimestamp64Milli(Timestamp) > {t:Int64} GROUP BY fp ORDER BY fp`,
      { t },
    );
    expect(rows.map((r) => [r.fp === '' ? '' : 'fp', Number(r.n)])).toEqual([['', 1], ['fp', 2]]);
    expect(rows[1]!.fp).toMatch(/^[0-9a-f]{16}$/);
    await provider.shutdown();
  });

  it('goes straight to the embedded engine\'s parser, where a repeated insert with the same deduplication token adds nothing and a row it cannot read fails the insert', async () => {
    expect(storage.insertEncoded).toBeTypeOf('function');
    const at = Date.now() - 30_000;
    const rows = metricPoints(encodeMetrics(await sdkMetrics(), 'otlp_proto'))
      .filter((p) => p.kind === 'gauge')
      .map((p) => metricRow({ ...p, name: 'dedup.check', timeUnixNano: `${at}000000` }));
    const settings = { insert_deduplicate: 1, insert_deduplication_token: `dedup-${at}` };
    await insertRows(storage, 'otel_metrics_gauge', rows, settings);
    await insertRows(storage, 'otel_metrics_gauge', rows, settings);
    await insertRows(storage, 'otel_metrics_gauge', []);
    const count = async () => Number((await queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table('otel_metrics_gauge')} WHERE MetricName = 'dedup.check'`))[0]!.n);
    expect(await count()).toBe(rows.length);
    await insertRows(storage, 'otel_metrics_gauge', rows, { insert_deduplicate: 1, insert_deduplication_token: `other-${at}` });
    expect(await count()).toBe(rows.length * 2);
    const bad = [...rows[0]!];
    bad[13] = 'not a time';
    await expect(insertRows(storage, 'otel_metrics_gauge', [bad])).rejects.toThrow(/TimeUnix|parse|DateTime/i);
  });
});
