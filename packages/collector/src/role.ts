import { SeverityNumber, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { VIGIL_VERSION, logger, type BusProducer, type Role, type RoleContext } from '@vigil/platform';
import { BusLogExporter, BusMetricExporter } from './exporters.js';
import { registerHostMetrics } from './host/plugin.js';
import { hostIdentity, type HostIdentity } from './identity.js';

const log = logger('collector');

export interface CollectorRole extends Role {
  /** Collects and exports host metrics now (tests, and the final flush at stop). */
  collectNow(): Promise<void>;
  /** Emits a structured event (an OTLP log record with an event name). */
  event(name: string, body: string, attributes?: Attributes, severity?: SeverityNumber): void;
  identity(): HostIdentity | undefined;
}

/**
 * The collector: this host's metrics through the OpenTelemetry metrics SDK and lifecycle events
 * through the logs SDK, each exported as OTLP onto the bus keyed by host.id.
 */
export function createCollectorRole(ctx: RoleContext): CollectorRole {
  const { config, bus, telemetry } = ctx;
  let meterProvider: MeterProvider | undefined;
  let loggerProvider: LoggerProvider | undefined;
  let identity: HostIdentity | undefined;
  let producer: Promise<BusProducer> | undefined;
  const getProducer = () => (producer ??= bus.producer());
  const sent = telemetry.meter.createCounter('vigil_collector_records_sent', { description: 'Data points and log records handed to the bus.' });
  const failed = telemetry.meter.createCounter('vigil_collector_records_failed', { description: 'Data points and log records the bus did not accept.' });

  const role: CollectorRole = {
    name: 'collector',
    identity: () => identity,
    async start() {
      identity = await hostIdentity();
      const resource = resourceFromAttributes({
        ...identity,
        'service.name': config.collector.serviceName,
        'service.version': VIGIL_VERSION,
        ...config.collector.labels,
      });
      const target = { producer: getProducer, encoding: config.kafka.encoding, key: identity['host.id'], sent, failed };
      // Topics are created in the background: a broker that is down must not stop the collector starting.
      void bus
        .ensureTopics([{ name: config.kafka.topics.metrics }, { name: config.kafka.topics.logs }])
        .catch((err: Error) => log.warn({ err: err.message }, 'could not create topics'));

      const interval = config.collector.interval;
      meterProvider = new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: new BusMetricExporter({ ...target, topic: config.kafka.topics.metrics }),
            exportIntervalMillis: interval,
            exportTimeoutMillis: Math.min(interval, 30_000),
          }),
        ],
      });
      if (config.collector.host.enabled) registerHostMetrics(meterProvider.getMeter('vigil.collector.host', VIGIL_VERSION));

      loggerProvider = new LoggerProvider({
        resource,
        processors: [new BatchLogRecordProcessor({ exporter: new BusLogExporter({ ...target, topic: config.kafka.topics.logs }), scheduledDelayMillis: 500 })],
      });
      role.event('app.startup', `collector started on ${identity['host.name']}`, { 'vigil.role': 'collector', 'process.pid': process.pid });
      log.info({ host: identity['host.name'], intervalMs: interval }, 'collector started');
    },
    event(name, body, attributes = {}, severity = SeverityNumber.INFO) {
      if (!loggerProvider) throw new Error('the collector is not started');
      loggerProvider.getLogger('vigil.collector', VIGIL_VERSION).emit({
        eventName: name,
        body,
        severityNumber: severity,
        severityText: SeverityNumber[severity],
        attributes,
        timestamp: Date.now(),
      });
    },
    async collectNow() {
      await meterProvider?.forceFlush();
      await loggerProvider?.forceFlush();
    },
    async stop() {
      if (!loggerProvider || !meterProvider) return;
      role.event('app.shutdown', 'collector stopping', { 'vigil.role': 'collector', 'process.pid': process.pid });
      await loggerProvider.forceFlush();
      await loggerProvider.shutdown();
      await meterProvider.shutdown();
      loggerProvider = undefined;
      meterProvider = undefined;
    },
  };
  return role;
}
