import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  HealthRegistry,
  KafkaBus,
  createHttpServer,
  createTelemetry,
  decodeAlert,
  encodeMetrics,
  fingerprint,
  migrate,
  openStorage,
  parseConfig,
  type AlertTransition,
  type RoleContext,
  type Storage,
  type VigilConfig,
} from '@vigil/platform';
import { createRulesRole, type RulesRole } from '@vigil/rules';
import { eventually, kafkaBrokers, unique } from './harness/index.js';

/** A reader that collects only when asked, as a test drives it. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/**
 * A host as the collector reports it: `system.cpu.utilization` per cpu.mode from the
 * OpenTelemetry metrics SDK, encoded as the OTLP request the collector puts on Kafka.
 */
function fakeHost(hostName: string) {
  let busy = 0;
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': hostName, 'host.id': hostName, 'service.name': 'vigil-collector' }), readers: [reader] });
  const gauge = provider.getMeter('vigil.collector.host').createObservableGauge('system.cpu.utilization', { unit: '1' });
  gauge.addCallback((r) => {
    r.observe(busy * 0.8, { 'cpu.mode': 'user' });
    r.observe(busy * 0.2, { 'cpu.mode': 'system' });
    r.observe(1 - busy, { 'cpu.mode': 'idle' });
  });
  return {
    setBusy: (v: number) => {
      busy = v;
    },
    async payload(): Promise<Buffer> {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return encodeMetrics(resourceMetrics, 'otlp_proto');
    },
    shutdown: () => provider.shutdown(),
  };
}

function configFor(prefix: string): VigilConfig {
  // "!idle" is quoted: unquoted, YAML reads `!idle` as a tag.
  return parseConfig(
    `
kafka:
  partitions: 2
  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }
rules:
  groupId: ${prefix}-rules
  evaluationInterval: 500ms
  defaults: false
  rules:
    - name: cpu_test
      metric: system.cpu.utilization
      where: { cpu.mode: "!idle" }
      groupBy: [host.name]
      combine: sum
      aggregate: avg
      window: 2s
      critical: 0.9
      for: 0s
      annotations: { summary: "CPU {{percent}} on {{labels.host.name}}" }
`,
    { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
  );
}


interface Seen {
  key: string | null;
  timestamp: number;
  alert: AlertTransition;
}

/** Everything published on the alerts topic, read by a plain kafkajs consumer. */
async function watchAlerts(brokers: string[], topic: string): Promise<{ seen: Seen[]; consumer: Consumer }> {
  const seen: Seen[] = [];
  const kafka = new Kafka({ clientId: 'rules-test', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: unique('rules-test-watch') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({ key: message.key?.toString() ?? null, timestamp: Number(message.timestamp), alert: decodeAlert(message.value!) });
    },
  });
  return { seen, consumer };
}

describe('rules worker over Kafka', () => {
  let dir: string;
  let storage: Storage;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function context(config: VigilConfig, withStorage: boolean): RoleContext {
    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'rules-test', partitions: config.kafka.partitions });
    cleanup.push(() => bus.close());
    return { config, bus, ...(withStorage ? { storage } : {}), telemetry: createTelemetry('rules-test'), health: new HealthRegistry() };
  }

  /** Sends the host's current utilization every 250 ms, as a collector would. */
  async function feed(config: VigilConfig, host: ReturnType<typeof fakeHost>, hostName: string, partition?: number) {
    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'rules-test-feed', partitions: config.kafka.partitions });
    await bus.ensureTopics([{ name: config.kafka.topics.metrics }, { name: config.kafka.topics.alerts }]);
    const producer = await bus.producer();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        await producer.send(config.kafka.topics.metrics, [{ key: hostName, value: await host.payload(), ...(partition !== undefined ? { partition } : {}) }]);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const stop = async () => {
      stopped = true;
      await loop;
      await bus.close();
    };
    cleanup.push(stop);
    // A record that is not OTLP: the worker skips it (ingest owns the dead-letter entry).
    await producer.send(config.kafka.topics.metrics, [{ key: hostName, value: Buffer.from('not an OTLP request'), ...(partition !== undefined ? { partition } : {}) }]);
    return stop;
  }

  it('publishes firing when CPU crosses the threshold and resolved when it falls back', async () => {
    const prefix = unique('rules');
    const config = configFor(prefix);
    const hostName = unique('host');
    const fp = fingerprint({ alertname: 'cpu_test', 'host.name': hostName });
    const host = fakeHost(hostName);
    cleanup.push(() => host.shutdown());
    const ctx = context(config, false);
    const role = createRulesRole(ctx);
    cleanup.push(() => role.stop());
    const { seen, consumer } = await watchAlerts(config.kafka.brokers, config.kafka.topics.alerts);
    cleanup.push(() => consumer.disconnect());

    await role.start();
    host.setBusy(0.3);
    await feed(config, host, hostName);
    await eventually('data in the window', () => role.engine.groupCount(), (n) => n > 0);
    host.setBusy(0.96);
    await eventually('firing', () => seen.length, (n) => n >= 1);
    host.setBusy(0.1);
    await eventually('resolved', () => seen.map((s) => s.alert.status), (s) => s.includes('resolved'));

    expect(seen.map((s) => [s.key, s.alert.fingerprint, s.alert.status, s.alert.severity])).toEqual([
      [fp, fp, 'firing', 'critical'],
      [fp, fp, 'resolved', 'critical'],
    ]);
    const [firing, resolved] = seen.map((s) => s.alert) as [AlertTransition, AlertTransition];
    expect(firing).toMatchObject({ labels: { alertname: 'cpu_test', 'host.name': hostName }, rule: 'cpu_test', window: 2_000 });
    expect(firing.value).toBeGreaterThanOrEqual(0.9);
    expect(firing.annotations.summary).toMatch(new RegExp(`^CPU \\d+(\\.\\d)?% on ${hostName}$`));
    expect(firing.endsAt).toBeUndefined();
    expect(resolved.startsAt).toBe(firing.startsAt);
    expect(resolved.value).toBeLessThan(0.9);
    expect(Date.parse(resolved.endsAt!)).toBeGreaterThan(Date.parse(firing.startsAt));

    // The worker's own metrics say the same.
    const app = createHttpServer(ctx.health, ctx.telemetry);
    const text = (await app.inject({ url: '/metrics' })).body;
    await app.close();
    expect(text).toMatch(/vigil_rules_transitions(_total)?\{status="firing",severity="critical"\} 1\b/);
    expect(text).toMatch(/vigil_rules_transitions(_total)?\{status="resolved",severity="critical"\} 1\b/);
    expect(text).toMatch(/vigil_rules_records_undecodable(_total)?\{signal="metrics"\} 1\b/);
    expect(text).toMatch(/vigil_rules_evaluation_duration_seconds_count \d+/);
  }, 120_000);

  it('a restarted worker resolves what was firing before, without paging it again', async () => {
    const prefix = unique('rules-restart');
    const config = configFor(prefix);
    const hostName = unique('host');
    const fp = fingerprint({ alertname: 'cpu_test', 'host.name': hostName });
    const host = fakeHost(hostName);
    cleanup.push(() => host.shutdown());
    const { seen, consumer } = await watchAlerts(config.kafka.brokers, config.kafka.topics.alerts);
    cleanup.push(() => consumer.disconnect());

    const first: RulesRole = createRulesRole(context(config, true));
    await first.start();
    host.setBusy(0.97);
    const stopFeed = await feed(config, host, hostName);
    await eventually('firing', () => seen.length, (n) => n >= 1);
    await first.stop();
    const [firing] = seen;
    expect(firing!.alert).toMatchObject({ fingerprint: fp, status: 'firing', severity: 'critical' });

    // The alert's state is in the group's changelog, in its source's partition: the next owner of
    // that partition restores it when it is assigned.
    const second = createRulesRole(context(config, true));
    cleanup.push(() => second.stop());
    await second.start();
    await eventually('the firing alert restored from the changelog', () => second.engine.firingCount(), (n) => n === 1, 60_000);
    // Still critical: the second worker evaluates it and stays silent.
    await eventually('data in the new worker\'s window', () => second.engine.groupCount(), (n) => n > 0);
    const evaluated = await second.evaluateNow();
    expect(evaluated).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(seen).toHaveLength(1);

    host.setBusy(0.05);
    await eventually('resolved', () => seen.length, (n) => n >= 2);
    await stopFeed();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen.map((s) => [s.alert.fingerprint, s.alert.status, s.alert.severity, s.alert.startsAt])).toEqual([
      [fp, 'firing', 'critical', firing!.alert.startsAt],
      [fp, 'resolved', 'critical', firing!.alert.startsAt],
    ]);
  }, 120_000);

  it('two workers in one group: each holds only the alerts of its partitions; hand-overs both ways page nothing again and lose no resolve', async () => {
    const prefix = unique('rules-own');
    const config = configFor(prefix);
    const names = [unique('host-a'), unique('host-b')];
    const hosts = names.map((n) => fakeHost(n));
    for (const h of hosts) cleanup.push(() => h.shutdown());
    const { seen, consumer } = await watchAlerts(config.kafka.brokers, config.kafka.topics.alerts);
    cleanup.push(() => consumer.disconnect());
    const statuses = () => seen.map((s) => `${s.alert.labels['host.name']} ${s.alert.status}`).sort();

    // One worker owns both partitions; each host is hot, one per partition.
    const a = createRulesRole(context(config, false));
    cleanup.push(() => a.stop());
    await a.start();
    for (const h of hosts) h.setBusy(0.97);
    const stops = await Promise.all(hosts.map((h, i) => feed(config, h, names[i]!, i)));
    await eventually('both firing', () => seen.length, (n) => n >= 2, 60_000);
    expect(a.engine.firingCount()).toBe(2);

    // A second worker joins: each gets one partition and holds that partition's alert only.
    const b = createRulesRole(context(config, false));
    cleanup.push(() => b.stop());
    await b.start();
    await eventually('one alert each', () => [a.engine.firingCount(), b.engine.firingCount()], ([x, y]) => x === 1 && y === 1, 60_000);
    // Restored alerts are held aside until their group's data comes: then they are b's groups.
    const [held] = await eventually('b evaluates its alert', () => b.engine.firing(), (f) => f.length === 1, 30_000);
    const ofB = held!.labels['host.name']!;
    const ofA = names.find((n) => n !== ofB)!;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(statuses()).toEqual([`${names[0]} firing`, `${names[1]} firing`]);

    // The host on b's partition cools: b resolves it, once.
    hosts[names.indexOf(ofB)]!.setBusy(0.05);
    await eventually('resolved by b', () => statuses(), (s) => s.includes(`${ofB} resolved`), 60_000);

    // a stops: b takes a's partition over and resolves a's alert when its host cools, paging nothing again.
    await a.stop();
    await eventually('b holds a\'s alert', () => b.engine.firingCount(), (n) => n === 1, 60_000);
    await eventually('b evaluates a\'s alert', () => b.engine.firing().map((f) => f.labels['host.name']), (f) => f.length === 1 && f[0] === ofA, 30_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(statuses()).toEqual([`${names[0]} firing`, `${names[1]} firing`, `${ofB} resolved`].sort());
    hosts[names.indexOf(ofA)]!.setBusy(0.05);
    await eventually('resolved by b', () => statuses(), (s) => s.includes(`${ofA} resolved`), 60_000);
    for (const stop of stops) await stop();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(statuses()).toEqual([`${names[0]} firing`, `${names[0]} resolved`, `${names[1]} firing`, `${names[1]} resolved`].sort());
  }, 240_000);
});
