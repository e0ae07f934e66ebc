import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { decodeLogsRequest, encodeMetrics } from '@vigil/platform';

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

/**
 * Benchmark log messages: ExportLogsServiceRequest protobuf, `perMessage` records each from one of
 * `hosts` hosts in turn (keyed by host), a realistic mix as the issue names it: bodies of 100-400
 * bytes, 5-15 attributes, a tenth of them errors with a stack trace. Deterministic (a fixed seed).
 */
export function logPayloads(count: number, perMessage: number, opts: { hosts?: number } = {}): { key: string; value: Buffer }[] {
  const hosts = opts.hosts ?? 20;
  let seed = 42;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const words = ['order', 'payment', 'user', 'session', 'cart', 'item', 'queue', 'worker', 'request', 'response', 'timeout', 'retry', 'cache', 'db', 'printer', 'tunnel'];
  const sentence = (bytes: number) => {
    let s = '';
    while (s.length < bytes) s += `${pick(words)} ${Math.floor(rand() * 100_000)} `;
    return s.slice(0, bytes);
  };
  const stack = () =>
    `Error: ${sentence(40)}\n${Array.from({ length: 8 }, (_, i) => `    at ${pick(words)}${i} (/srv/app/src/${pick(words)}.js:${10 + i * 7}:${3 + i})`).join('\n')}`;
  const type = decodeLogsRequest(Buffer.from('{"resourceLogs":[]}')).type;
  const out: { key: string; value: Buffer }[] = [];
  const start = BigInt(Date.now()) * 1_000_000n;
  for (let m = 0; m < count; m++) {
    const host = `bench-host-${m % hosts}`;
    const logRecords = Array.from({ length: perMessage }, (_, i) => {
      const error = rand() < 0.1;
      const n = 5 + Math.floor(rand() * 11);
      const attributes = Array.from({ length: n }, (_, a) => ({ key: `attr.${a}`, value: { stringValue: sentence(8 + Math.floor(rand() * 24)) } }));
      return {
        timeUnixNano: String(start + BigInt(m * perMessage + i) * 1000n),
        severityNumber: error ? 17 : 9,
        severityText: error ? 'ERROR' : 'INFO',
        body: { stringValue: error ? stack() : sentence(100 + Math.floor(rand() * 300)) },
        attributes,
      };
    });
    const body = { resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }, { key: 'host.name', value: { stringValue: host } }] }, scopeLogs: [{ scope: { name: 'bench' }, logRecords }] }] };
    out.push({ key: host, value: Buffer.from(type.encode(type.fromObject(body)).finish()) });
  }
  return out;
}
