import { describe, expect, it } from 'vitest';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { MetricAggregator, registerParsedMetrics } from './metrics.js';
import type { MetricUpdate } from './types.js';

const T = Date.UTC(2024, 0, 15, 10);
const u = (name: string, kind: MetricUpdate['kind'], value: number, attributes: Record<string, string> = {}, timestamp = T): MetricUpdate => ({
  name,
  kind,
  value,
  unit: kind === 'last' ? 's' : 'By',
  description: '',
  attributes,
  timestamp,
});

describe('MetricAggregator', () => {
  it('sums per series, keeps the latest gauge, and the newest `last` even when lines arrive out of order', () => {
    const a = new MetricAggregator();
    a.update(u('io', 'sum', 100, { 'tunnel.id': 'a' }));
    a.update(u('io', 'sum', 50, { 'tunnel.id': 'a' }));
    a.update(u('io', 'sum', 7, { 'tunnel.id': 'b' }));
    a.update(u('open', 'gauge', 3, { 'tunnel.id': 'a' }));
    a.update(u('open', 'gauge', 1, { 'tunnel.id': 'a' }));
    a.update(u('seen', 'last', 2000, { 'tunnel.id': 'a' }, T + 2000));
    a.update(u('seen', 'last', 1000, { 'tunnel.id': 'a' }, T + 1000));
    expect(a.get('io')!.series.map((s) => [s.attributes, s.value])).toEqual([
      [{ 'tunnel.id': 'a' }, 150],
      [{ 'tunnel.id': 'b' }, 7],
    ]);
    expect(a.get('open')!.series[0]!.value).toBe(1);
    expect(a.get('seen')!.series[0]!.value).toBe(2000);
    expect(a.snapshot().map((s) => s.name)).toEqual(['io', 'open', 'seen']);
  });

  it('one series whatever the attribute order; bounded series; kind conflicts and negative sums are dropped and counted', () => {
    const a = new MetricAggregator({ maxSeriesPerMetric: 2 });
    a.update(u('m', 'sum', 1, { x: '1', y: '2' }));
    a.update(u('m', 'sum', 1, { y: '2', x: '1' }));
    a.update(u('m', 'sum', 1, { x: '2' }));
    a.update(u('m', 'sum', 1, { x: '3' }));
    a.update(u('m', 'gauge', 1, { x: '1', y: '2' }));
    a.update(u('m', 'sum', -4, { x: '2' }));
    expect(a.get('m')!.series.map((s) => s.value)).toEqual([2, 1]);
    expect(a.dropped).toBe(3);
  });
});

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

describe('registerParsedMetrics on a real OpenTelemetry meter', () => {
  it('sums as monotonic counters, gauge and last as gauges, including metrics that appear after registering', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const a = new MetricAggregator();
    a.update(u('vigil.tunnel.io', 'sum', 10, { 'tunnel.id': 'a' }));
    const stop = registerParsedMetrics(provider.getMeter('test'), a);
    a.update(u('vigil.tunnel.io', 'sum', 5, { 'tunnel.id': 'a' }));
    a.update(u('vigil.tunnel.last_activity', 'last', 1705312800, { 'tunnel.id': 'a' }));

    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const io = metrics.find((m) => m.descriptor.name === 'vigil.tunnel.io')!;
    expect(io.dataPointType).toBe(DataPointType.SUM);
    expect(io.descriptor.unit).toBe('By');
    expect((io as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    expect(io.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ 'tunnel.id': 'a' }, 15]]);
    const last = metrics.find((m) => m.descriptor.name === 'vigil.tunnel.last_activity')!;
    expect(last.dataPointType).toBe(DataPointType.GAUGE);
    expect(last.dataPoints[0]!.value).toBe(1705312800);

    // Stopped (the plugin stopped): the aggregator is no longer read, whatever it is fed.
    stop();
    a.update(u('vigil.tunnel.io', 'sum', 100, { 'tunnel.id': 'a' }));
    const after = await reader.collect();
    const values = after.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).flatMap((m) => m.dataPoints.map((p) => p.value));
    expect(values).not.toContain(115);
    await provider.shutdown();
  });
});
