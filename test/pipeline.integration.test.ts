import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import {
  HealthRegistry,
  KafkaBus,
  createTelemetry,
  encodeAlert,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  type DeadLetter,
  type RoleContext,
  type Storage,
  type VigilConfig,
} from '@vigil/platform';
import { createCollectorRole } from '@vigil/collector';
import { createIngestRole } from '@vigil/ingest';
import { eventually, kafkaBrokers, unique } from './harness/index.js';


function configFor(prefix: string): VigilConfig {
  return parseConfig(
    `
kafka:
  partitions: 2
  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }
ingest: { groupId: ${prefix}-ingest }
collector: { interval: 1s }
`,
    { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
  );
}

describe('collector → Kafka → ingest → ClickHouse', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-pipeline-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function context(config: VigilConfig): RoleContext {
    return {
      config,
      bus: new KafkaBus({ brokers: config.kafka.brokers, clientId: 'test', partitions: config.kafka.partitions }),
      storage,
      telemetry: createTelemetry('test'),
      health: new HealthRegistry(),
    };
  }

  it('stores host metrics and lifecycle events with the exporter columns', async () => {
    const config = configFor(unique('pipe'));
    const collectorCtx = context(config);
    const ingestCtx = context(config);
    const ingest = createIngestRole(ingestCtx);
    const collector = createCollectorRole(collectorCtx);
    await ingest.start();
    await collector.start();
    await collector.collectNow();
    await new Promise((r) => setTimeout(r, 1_200));
    await collector.collectNow();
    const host = os.hostname();
    const cpu = await eventually(
      'cpu rows',
      () =>
        queryRows<{ mode: string; v: number; host: string; service: string; unit: string; osType: string; hostId: string }>(
          storage,
          `SELECT Attributes['cpu.mode'] AS mode, Value AS v, ResourceAttributes['host.name'] AS host, ServiceName AS service,
                  MetricUnit AS unit, ResourceAttributes['os.type'] AS osType, ResourceAttributes['host.id'] AS hostId
           FROM ${storage.table('otel_metrics_gauge')}
           WHERE MetricName = 'system.cpu.utilization' AND ResourceAttributes['host.name'] = {host:String}`,
          { host },
        ),
      (rows) => rows.length >= 5,
    );
    expect(new Set(cpu.map((r) => r.mode))).toEqual(new Set(['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'steal']));
    expect(cpu.every((r) => r.v >= 0 && r.v <= 1 && r.service === 'vigil-collector' && r.unit === '1' && r.osType === 'linux' && r.hostId !== '')).toBe(true);

    const mem = await queryRows<{ states: string[] }>(
      storage,
      `SELECT groupUniqArray(Attributes['system.memory.state']) AS states FROM ${storage.table('otel_metrics_gauge')} WHERE MetricName = 'system.memory.utilization'`,
    );
    expect(new Set(mem[0]!.states)).toEqual(new Set(['used', 'free', 'buffers', 'cached']));
    const sums = await queryRows<{ n: number | string }>(
      storage,
      `SELECT count() AS n FROM ${storage.table('otel_metrics_sum')} WHERE MetricName = 'system.network.io' AND IsMonotonic AND AggregationTemporality = 2`,
    );
    expect(Number(sums[0]!.n)).toBeGreaterThan(0);

    await collector.stop();
    const events = await eventually(
      'lifecycle events',
      () =>
        queryRows<{ EventName: string; SeverityText: string; host: string }>(
          storage,
          `SELECT EventName, SeverityText, ResourceAttributes['host.name'] AS host FROM ${storage.table('otel_logs')} WHERE ResourceAttributes['host.name'] = {host:String} ORDER BY Timestamp`,
          { host },
        ),
      (rows) => rows.some((r) => r.EventName === 'app.shutdown'),
    );
    expect(events.map((e) => e.EventName)).toEqual(['app.startup', 'app.shutdown']);
    expect(events[0]!.SeverityText).toBe('INFO');
    await ingest.stop();
    await collectorCtx.bus.close();
    await ingestCtx.bus.close();
  });

  it('sends a poison message to the DLQ and stores the good ones around it, and a replay adds no rows', async () => {
    const prefix = unique('poison');
    const config = configFor(prefix);
    const kafka = new Kafka({ brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [config.kafka.topics.alerts, config.kafka.topics.dlq].map((topic) => ({ topic, numPartitions: 1 })) });
    const producer = kafka.producer();
    await producer.connect();
    const alert = (fp: string) =>
      encodeAlert({ fingerprint: fp, status: 'firing', severity: 'warning', labels: { alertname: 'cpu_high', 'host.name': 'h' }, annotations: {}, startsAt: '2026-11-22T00:00:00.000Z', value: 0.8, rule: 'cpu_high', window: 60_000 });
    await producer.send({
      topic: config.kafka.topics.alerts,
      messages: [
        { key: 'fp-1', value: alert('fp-1') },
        { key: 'bad', value: Buffer.from([0xff, 0x00, 0x13, 0x37]) },
        { key: 'fp-2', value: alert('fp-2') },
        { key: 'half', value: Buffer.from('{"fingerprint":"x"}') },
        { key: 'fp-3', value: alert('fp-3') },
      ],
    });
    const ctx = context(config);
    const ingest = createIngestRole(ctx);
    await ingest.start();
    const count = () => queryRows<{ fp: string }>(storage, `SELECT Fingerprint AS fp FROM ${storage.table('vigil_alerts')} WHERE Fingerprint LIKE 'fp-%' ORDER BY fp`);
    await eventually('3 alerts stored', count, (rows) => rows.length === 3);

    const dead: DeadLetter[] = [];
    const consumer = kafka.consumer({ groupId: unique('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: config.kafka.topics.dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dead.push(JSON.parse(message.value!.toString()) as DeadLetter) });
    await eventually('2 dead letters', async () => dead.length, (n) => n === 2);
    await consumer.disconnect();
    expect(dead.map((d) => [d.topic, d.offset, d.key])).toEqual([
      [config.kafka.topics.alerts, '1', 'bad'],
      [config.kafka.topics.alerts, '3', 'half'],
    ]);
    expect(Buffer.from(dead[0]!.value, 'base64')).toEqual(Buffer.from([0xff, 0x00, 0x13, 0x37]));
    expect(dead[1]!.error).toMatch(/not an alert transition: missing or invalid status/);
    await ingest.stop();
    await ctx.bus.close();

    // A second ingest with a fresh group replays the whole topic: the ledger makes it a no-op.
    const replayCtx = context({ ...config, ingest: { ...config.ingest, groupId: unique('replay') } });
    const replay = createIngestRole(replayCtx);
    await replay.start();
    await producer.send({ topic: config.kafka.topics.alerts, messages: [{ key: 'fp-4', value: alert('fp-4') }] });
    await eventually('4 alerts stored', count, (rows) => rows.length >= 4);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await count()).map((r) => r.fp)).toEqual(['fp-1', 'fp-2', 'fp-3', 'fp-4']);
    await replay.stop();
    await replayCtx.bus.close();
    await producer.disconnect();
    await admin.disconnect();
  });
});
