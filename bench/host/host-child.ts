/**
 * The Vigil side of bench/host: the host plugin alone on a MeterProvider whose reader collects
 * every INTERVAL_MS and encodes each collection as an OTLP protobuf request, as the collector
 * does before handing it to the bus (the bytes are counted and dropped here, so Kafka's cost is
 * not in the figure). Prints `ready` once, then runs until killed.
 */
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { registerHostMetrics, HOST_DEFAULTS } from '../../packages/collector/src/plugins/host/metrics.js';

const interval = Number(process.env.INTERVAL_MS ?? 1000);
let bytes = 0;
let exports = 0;

const exporter: PushMetricExporter = {
  export(metrics: ResourceMetrics, done) {
    const body = ProtobufMetricsSerializer.serializeRequest(metrics);
    bytes += body?.byteLength ?? 0;
    exports++;
    done({ code: 0 });
  },
  async forceFlush() {},
  async shutdown() {},
};

const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'vigil-bench-host' }),
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval, exportTimeoutMillis: interval })],
});
registerHostMetrics(provider.getMeter('vigil.collector.host'), { ...HOST_DEFAULTS, interval });
// The SDK's export timer is unref'd: hold the process open until the bench stops it.
const keepAlive = setInterval(() => {}, 1 << 30);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  process.stdout.write(`${JSON.stringify({ exports, bytes })}\n`, () => process.exit(0));
});
