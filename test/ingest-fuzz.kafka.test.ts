import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry, KafkaBus, createTelemetry, migrate, openStorage, parseConfig, queryRows, type DeadLetter, type Storage } from '@vigil/platform';
import { createIngestRole } from '@vigil/ingest';
import { otlpLogsRequest, otlpMetricsRequest } from '../packages/ingest/test/otlp-arbitraries.js';
import { eventually, kafkaBrokers, unique } from './harness/index.js';

/**
 * The decoders' property on real Kafka: generated OTLP messages (spec-valid variations and
 * invalid fields, JSON and protobuf) mixed with garbage, on two partitions, through the ingest
 * role into the embedded engine. Every valid record lands in a table, every message with a
 * rejected record or no OTLP at all lands on the dead-letter topic, and a sentinel produced last
 * on each partition is stored: no poisoned batch stops what is behind it.
 */
describe('ingest over real Kafka, fuzzed', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-fuzz-kafka-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // pipeline 3: batches decoded while earlier ones are inserted, offsets committed behind them.
  it.each([1, 3])('stores every valid record, dead-letters the rest, and never stops a partition (ingest.pipeline %i)', async (pipeline) => {
    const prefix = unique('fuzz');
    const config = parseConfig(
      `kafka:\n  partitions: 2\n  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }\ningest: { groupId: ${prefix}-ingest, pipeline: ${pipeline} }\n`,
      { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
    );
    const topics = config.kafka.topics;
    const kafka = new Kafka({ brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [topics.metrics, topics.logs, topics.alerts, topics.dlq].map((topic) => ({ topic, numPartitions: 2 })) });
    await admin.disconnect();

    const metrics = fc.sample(otlpMetricsRequest(), { numRuns: 40, seed: 42 });
    const logs = fc.sample(otlpLogsRequest(), { numRuns: 40, seed: 43 });
    const run = prefix;
    const garbage = [Buffer.from([0xff, 0x00, 0x13]), Buffer.from('{"resourceMetrics": 3}'), Buffer.from('not otlp'), Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":' + '[{"arrayValue":{"values":'.repeat(40) + '[]' + '}}]'.repeat(40) + '}}}]}]}]}')];
    let expectedValid = 0;
    /** Valid records whose time is within the retention (older ones may be dropped by the TTL at once). */
    let expectedRecent = 0;
    const oldest = BigInt(Date.now() - 29 * 86_400_000) * 1_000_000n;
    const recent = (g: { valid: string[]; times: Map<string, bigint> }) => g.valid.filter((i) => (g.times.get(i) ?? oldest + 1n) > oldest).length;
    let expectedDead = 0;
    const messages: { topic: string; key: string; value: Buffer }[] = [];
    metrics.forEach((m, i) => {
      messages.push({ topic: topics.metrics, key: `k${i % 5}`, value: m.encode(`${run}-m${i}`, m.encoding) });
      expectedValid += m.valid.length;
      expectedRecent += recent(m);
      if (m.valid.length < m.points) expectedDead++;
      if (i % 10 === 3) {
        messages.push({ topic: topics.metrics, key: `k${i % 5}`, value: garbage[i % 2]! });
        expectedDead++;
      }
    });
    logs.forEach((l, i) => {
      messages.push({ topic: topics.logs, key: `k${i % 5}`, value: l.encode(`${run}-l${i}`, l.encoding) });
      expectedValid += l.valid.length;
      expectedRecent += recent(l);
      if (l.valid.length < l.points) expectedDead++;
      if (i % 10 === 5) {
        messages.push({ topic: topics.logs, key: `k${i % 5}`, value: garbage[2 + (i % 2)]! });
        expectedDead++;
      }
    });
    // Sentinels last on every key (so on both partitions): stored only if nothing before them blocked.
    const sentinel = (k: number) =>
      Buffer.from(JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ logRecords: [{ body: { stringValue: 'sentinel' }, attributes: [{ key: 'run', value: { stringValue: `${run}-sentinel` } }, { key: 'i', value: { stringValue: `s${k}` } }] }] }] }] }));
    for (let k = 0; k < 5; k++) messages.push({ topic: topics.logs, key: `k${k}`, value: sentinel(k) });

    const producer = kafka.producer();
    await producer.connect();
    for (const m of messages) await producer.send({ topic: m.topic, messages: [{ key: m.key, value: m.value }] });
    await producer.disconnect();

    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: prefix, partitions: 2 });
    const ingest = createIngestRole({ config, bus, storage, telemetry: createTelemetry('test'), health: new HealthRegistry() });
    await ingest.start();
    const count = async (table: string, attrs: string) =>
      Number((await queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table(table)} WHERE startsWith(${attrs}['run'], {run:String})`, { run }))[0]!.n);
    const stored = async () => (await Promise.all(['otel_metrics_gauge', 'otel_metrics_sum', 'otel_metrics_histogram'].map((t) => count(t, 'Attributes')))).reduce((a, b) => a + b, 0) + (await count('otel_logs', 'LogAttributes'));
    // Valid records plus the five sentinels; rows older than the retention may be dropped by the TTL, so ">=" on what is recent.
    await eventually('the sentinels', () => count('otel_logs', 'LogAttributes').then(() => queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table('otel_logs')} WHERE LogAttributes['run'] = {r:String}`, { r: `${run}-sentinel` })), (rows) => Number(rows[0]!.n) === 5, 90_000, 500);
    const n = await eventually('every recent valid record stored', stored, (v) => v >= expectedRecent + 5, 60_000, 500).catch(() => stored());
    console.log(`fuzz over Kafka: ${messages.length} messages, ${expectedValid} valid records (${expectedRecent} within the retention), ${n} rows stored, ${expectedDead} expected dead letters`);
    expect(n).toBeLessThanOrEqual(expectedValid + 5);
    expect(n).toBeGreaterThanOrEqual(expectedRecent + 5);

    const dead: DeadLetter[] = [];
    const consumer = kafka.consumer({ groupId: unique('dlq') });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dead.push(JSON.parse(message.value!.toString()) as DeadLetter) });
    await eventually('the dead letters', () => dead.length, (d) => d >= expectedDead, 60_000);
    await consumer.disconnect();
    expect(dead).toHaveLength(expectedDead);
    for (const d of dead) expect(d.error).toMatch(/cannot decode|left out|not a|nested/);
    await ingest.stop();
    await bus.close();
  }, 240_000);
});
