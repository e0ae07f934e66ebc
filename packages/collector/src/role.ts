import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SeverityNumber, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { FastifyInstance } from 'fastify';
import { ConfigError, VIGIL_VERSION, accessPolicy, checkSection, logger, transcodeRequest, type Role, type RoleContext, type VigilConfig } from '@vigil/platform';
import { BusMetricExporter } from './exporters.js';
import { HOST_DEFAULTS, hostPlugin, registerHostMetrics } from './plugins/host/index.js';
import { hostIdentity, labelledIdentity, type HostIdentity } from './identity.js';
import type { CollectorPlugin, LogRecordInput, PluginContext, PluginInstance, Pressure } from './plugin.js';
import { PLUGINS } from './plugins/index.js';
import { encodeLogRecords } from './records.js';
import type { IntakeSink } from './plugins/otlp/intake.js';
import { openShipper, type QueuedShipper } from './shipper.js';

const log = logger('collector');

export interface CollectorRole extends Role {
  /** Collects and exports metrics now and waits for everything handed over to be shipped (tests, and the final flush at stop). */
  collectNow(): Promise<void>;
  /** Emits a structured event (an OTLP log record with an event name). */
  event(name: string, body: string, attributes?: Attributes, severity?: SeverityNumber): Promise<void>;
  identity(): HostIdentity | undefined;
  /** Where an HTTP intake outside the plugins (the process's own /v1/*) hands records, as source `source`; undefined until started. */
  sink(source: string): IntakeSink | undefined;
}

export interface CollectorOptions {
  /** The process's HTTP server, for plugins that receive (OTLP, JSON events). */
  http?: FastifyInstance;
  /** Plugin kinds by type; default every built-in plugin. */
  plugins?: Record<string, CollectorPlugin>;
  /** Pressure from beyond the bus (the all-in-one's ingest lag), besides the shipper's own. */
  pressure?: () => Pressure | undefined;
}

interface PlannedPlugin {
  name: string;
  plugin: CollectorPlugin;
  options: unknown;
}

/**
 * Checks `collector.plugins` beyond the file's schema: every type is known, every name unique,
 * and each instance's options pass its plugin's own schema. One ConfigError with every problem.
 */
export function checkCollectorConfig(config: VigilConfig, source = 'config', plugins: Record<string, CollectorPlugin> = PLUGINS): PlannedPlugin[] {
  const problems: string[] = [];
  const planned: PlannedPlugin[] = [];
  const names = new Set<string>();
  config.collector.plugins.forEach((entry, i) => {
    const at = `${source}: collector.plugins[${i}]`;
    const { type, name = type, ...options } = entry as { type: string; name?: string } & Record<string, unknown>;
    const plugin = plugins[type];
    if (!plugin) {
      problems.push(`${at}.type: "${type}" is not a plugin (use one of ${Object.keys(plugins).sort().join(', ')})`);
      return;
    }
    if (names.has(name)) problems.push(`${at}.name: "${name}" is used twice (give each plugin instance its own name)`);
    names.add(name);
    try {
      const checked = checkSection(plugin.schema, options, at);
      plugin.check?.(checked, at);
      planned.push({ name, plugin, options: checked });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return planned;
}

/**
 * The collector: the host's metrics, plugin records and lifecycle events, each exported as OTLP
 * through the shipper onto the bus, keyed by host.id.
 */
export function createCollectorRole(ctx: RoleContext, options: CollectorOptions = {}): CollectorRole {
  const { config, bus, telemetry, health } = ctx;
  const planned = checkCollectorConfig(config, 'config', options.plugins ?? PLUGINS);
  const { metrics: metricsTopic, logs: logsTopic } = config.kafka.topics;
  const encoding = config.kafka.encoding;
  let meterProvider: MeterProvider | undefined;
  let identity: HostIdentity | undefined;
  let resource: Resource | undefined;
  let shipper: QueuedShipper | undefined;
  const pressure = (): Pressure | undefined => options.pressure?.() ?? shipper?.pressure();
  let stopping: AbortController | undefined;
  const instances: { name: string; instance: PluginInstance }[] = [];

  const shipLogs = async (source: string, records: LogRecordInput[]) => {
    if (!shipper || !resource || !identity) throw new Error('the collector is not started');
    if (records.length === 0) return;
    await shipper.ship(logsTopic, identity['host.id'], encodeLogRecords(resource, source, records, encoding), records.length, source);
  };

  const role: CollectorRole = {
    name: 'collector',
    identity: () => identity,
    sink(source) {
      if (!shipper || !identity) return undefined;
      const key = identity['host.id'];
      const to = shipper;
      return {
        otlp: (signal, payload, k, count = 1) => to.ship(signal === 'metrics' ? metricsTopic : logsTopic, k ?? key, transcodeRequest(signal, payload, encoding), count, source),
        logs: (records) => shipLogs(source, records),
        pressure,
      };
    },
    async start() {
      const detected = await hostIdentity();
      const attrs: Attributes = { ...detected, 'service.name': config.collector.serviceName, 'service.version': VIGIL_VERSION, ...config.collector.labels };
      // Labels that name the host (host.id, host.name) are its identity: the records' Kafka key too,
      // so a host keeps one partition as its resource says (not the machine's id under the label).
      identity = labelledIdentity(detected, attrs);
      resource = resourceFromAttributes(attrs);
      stopping = new AbortController();
      shipper = await openShipper({
        bus,
        meter: telemetry.meter,
        health,
        maxQueue: config.collector.queue.maxRecords,
        batchBytes: config.collector.queue.maxBatchBytes,
        spool: { dir: resolve(config.collector.spool.dir ?? join(config.dataDir, 'spool')), maxBytes: config.collector.spool.maxBytes },
        onDropsReported: (lost) =>
          void role
            .event('collector.records_dropped', `the spool was full while the bus was unreachable: ${lost.records} records (${lost.bytes} bytes) were dropped, oldest first`, {
              'vigil.dropped.records': lost.records,
              'vigil.dropped.requests': lost.entries,
              'vigil.dropped.bytes': lost.bytes,
            }, SeverityNumber.WARN)
            .catch((err: Error) => log.warn({ err: err.message }, 'could not send the records_dropped event')),
      });
      // Topics are created in the background: a broker that is down must not stop the collector starting.
      void bus.ensureTopics([{ name: metricsTopic }, { name: logsTopic }]).catch((err: Error) => log.warn({ err: err.message }, 'could not create topics'));

      const interval = config.collector.interval;
      const target = { shipper, encoding, key: identity['host.id'] };
      meterProvider = new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: new BusMetricExporter({ ...target, topic: metricsTopic, source: 'metrics' }),
            exportIntervalMillis: interval,
            exportTimeoutMillis: Math.min(interval, 30_000),
          }),
        ],
      });
      // The all-in-one default; a `type: host` entry in collector.plugins replaces it (never both).
      if (config.collector.host.enabled && !planned.some((p) => p.plugin.type === hostPlugin.type)) {
        registerHostMetrics(meterProvider.getMeter('vigil.collector.host', VIGIL_VERSION), { ...HOST_DEFAULTS, interval });
      }

      const stateRoot = resolve(config.dataDir, 'collector');
      const access = accessPolicy(config.http);
      for (const p of planned) {
        const pctx: PluginContext = {
          name: p.name,
          resource: attrs,
          identity,
          meter: meterProvider.getMeter(`vigil.collector.${p.name}`, VIGIL_VERSION),
          logs: (records) => shipLogs(p.name, records),
          event: (name, body, attributes = {}, severityNumber = SeverityNumber.INFO) =>
            shipLogs(p.name, [{ eventName: name, body, attributes, severityNumber, severityText: SeverityNumber[severityNumber] }]),
          otlp: async (signal, payload, key, count = 1) => {
            if (!shipper || !identity) throw new Error('the collector is not started');
            await shipper.ship(signal === 'metrics' ? metricsTopic : logsTopic, key ?? identity['host.id'], transcodeRequest(signal, payload, encoding), count, p.name);
          },
          pressure,
          stateDir: async () => {
            const dir = join(stateRoot, p.name);
            await mkdir(dir, { recursive: true });
            return dir;
          },
          http: options.http,
          health,
          telemetry,
          access,
          signal: stopping.signal,
        };
        const instance = p.plugin.create(p.options as never, pctx);
        await instance.start();
        instances.push({ name: p.name, instance });
      }
      await role.event('app.startup', `collector started on ${identity['host.name']}`, { 'vigil.role': 'collector', 'process.pid': process.pid });
      log.info({ host: identity['host.name'], intervalMs: interval, plugins: planned.map((p) => `${p.plugin.type}:${p.name}`) }, 'collector started');
    },
    async event(name, body, attributes = {}, severity = SeverityNumber.INFO) {
      await shipLogs('collector', [{ eventName: name, body, attributes, severityNumber: severity, severityText: SeverityNumber[severity] }]);
    },
    async collectNow() {
      await meterProvider?.forceFlush();
      await shipper?.flush();
    },
    async stop() {
      if (!meterProvider || !shipper) return;
      stopping?.abort();
      for (const { name, instance } of instances.splice(0).reverse()) {
        await instance.stop().catch((err: Error) => log.warn({ plugin: name, err: err.message }, 'plugin did not stop cleanly'));
      }
      await role.event('app.shutdown', 'collector stopping', { 'vigil.role': 'collector', 'process.pid': process.pid }).catch((err: Error) => log.warn({ err: err.message }, 'could not send the shutdown event'));
      await meterProvider.shutdown();
      await shipper.flush();
      await shipper.stop();
      meterProvider = undefined;
      shipper = undefined;
    },
  };
  return role;
}
