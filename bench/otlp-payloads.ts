import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { encodeMetrics } from '@vigil/platform';

/** Collects on demand, cumulative, like the SDK's periodic reader but without its timer. */
class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * Benchmark messages: one ExportMetricsServiceRequest each, made by the OpenTelemetry SDK, with
 * `perMessage` gauge points (series 0..perMessage-1 of their host; with `distinct`, also tagged
 * with the message number, so every point is a series of its own), from `hosts` hosts in turn
 * (keyed by host). A fresh provider per message, since a cumulative reader would keep re-reporting earlier
 * attribute sets.
 */
export async function metricPayloads(count: number, perMessage: number, opts: { from?: number; hosts?: number; distinct?: boolean } = {}): Promise<{ key: string; value: Buffer }[]> {
  const from = opts.from ?? 0;
  const hosts = opts.hosts ?? 20;
  const out: { key: string; value: Buffer }[] = [];
  for (let m = from; m < from + count; m++) {
    const host = `bench-host-${m % hosts}`;
    const reader = new ManualReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'bench', 'host.id': host, 'host.name': host }), readers: [reader] });
    provider
      .getMeter('bench')
      .createObservableGauge('bench.value', { unit: '1' })
      .addCallback((r) => {
        for (let i = 0; i < perMessage; i++) r.observe(Math.random(), opts.distinct ? { msg: String(m), series: String(i) } : { series: String(i) });
      });
    const { resourceMetrics } = await reader.collect();
    out.push({ key: host, value: encodeMetrics(resourceMetrics, 'otlp_proto') });
    await provider.shutdown();
  }
  return out;
}
