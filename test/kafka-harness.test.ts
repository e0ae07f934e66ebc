/**
 * The harness's broker is a real Kafka, and KafkaBus keeps the bus contract on it: keyed order,
 * consumer groups that resume from their committed offsets, and redelivery of a failed batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KafkaBus, type Batch, type ConsumedRecord, type Subscription } from '@vigil/platform';
import { kafkaBrokers, unique } from './harness/index.js';

interface Sent {
  key: string;
  seq: number;
}

const KEYS = ['host-a', 'host-b', 'host-c', 'host-d', 'host-e', 'host-f'];

function records(seqs: number[]) {
  return seqs.map((seq) => KEYS.map((key) => ({ key, value: Buffer.from(JSON.stringify({ key, seq } satisfies Sent)) })));
}

function sent(r: ConsumedRecord): Sent {
  return JSON.parse(r.value.toString('utf8')) as Sent;
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Subscribes and keeps every batch the handler saw (including ones it then failed). */
async function collect(bus: KafkaBus, groupId: string, topics: string[], failIf: (b: Batch) => boolean = () => false) {
  const seen: Batch[] = [];
  const handled: ConsumedRecord[] = [];
  const sub: Subscription = await bus.subscribe({
    groupId,
    topics,
    handler: async (batch) => {
      seen.push(batch);
      if (failIf(batch)) throw new Error('handler failure injected by the test');
      handled.push(...batch.records);
    },
  });
  return { seen, handled, sub };
}

/** Per partition: the offset after the last record, and the group's committed offset. */
async function offsets(admin: Admin, topic: string, groupId: string) {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return { ends, committed: new Map(committed!.partitions.map((p) => [p.partition, p.offset])) };
}

describe('Kafka from the test harness, through KafkaBus', () => {
  let bus: KafkaBus;
  let admin: Admin;

  beforeAll(async () => {
    const brokers = kafkaBrokers();
    bus = new KafkaBus({ brokers, clientId: unique('harness-test'), partitions: 3 });
    admin = new Kafka({ clientId: unique('harness-admin'), brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await bus?.close();
  });

  it('creates topics with the configured or requested number of partitions', async () => {
    const byDefault = unique('harness-default');
    const explicit = unique('harness-explicit');
    await bus.ensureTopics([{ name: byDefault }, { name: explicit, partitions: 5 }]);
    // Idempotent: a second call for existing topics is a no-op, not an error.
    await bus.ensureTopics([{ name: byDefault }]);
    const { topics } = await admin.fetchTopicMetadata({ topics: [byDefault, explicit] });
    const counts = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
    expect(counts).toEqual({ [byDefault]: 3, [explicit]: 5 });
  });

  it('keeps order per key, and a group that stops resumes after its committed offsets', async () => {
    const topic = unique('harness-order');
    const group = unique('harness-group');
    await bus.ensureTopics([{ name: topic }]);
    const producer = await bus.producer();
    // One send per sequence number, so a key's records span several produce requests.
    for (const batch of records([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])) await producer.send(topic, batch);

    const first = await collect(bus, group, [topic]);
    await waitUntil('the first 60 records', () => first.handled.length >= 60);
    await first.sub.stop();

    expect(first.handled).toHaveLength(60);
    const partitionOfKey = new Map<string, number>();
    for (const key of KEYS) {
      const mine = first.handled.filter((r) => r.key === key);
      expect(mine.map((r) => sent(r).seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
      partitionOfKey.set(key, mine[0]!.partition);
    }
    // Everything handled is committed, up to the end of every partition.
    const afterFirst = await offsets(admin, topic, group);
    for (const [p, end] of afterFirst.ends) expect(afterFirst.committed.get(p), `partition ${p}`).toBe(end);

    for (const batch of records([10, 11, 12, 13, 14, 15])) await producer.send(topic, batch);
    const second = await collect(bus, group, [topic]);
    await waitUntil('the 36 new records', () => second.handled.length >= 36);
    await second.sub.stop();

    // Nothing committed came back: each partition resumed exactly at the offset committed before.
    expect(second.handled.map((r) => sent(r).seq).filter((s) => s < 10)).toEqual([]);
    for (const p of new Set(second.handled.map((r) => r.partition))) {
      const firstOffset = second.handled.filter((r) => r.partition === p).map((r) => BigInt(r.offset))[0];
      expect(String(firstOffset), `partition ${p}`).toBe(afterFirst.ends.get(p));
    }
    for (const key of KEYS) {
      const mine = second.handled.filter((r) => r.key === key);
      expect(mine.map((r) => sent(r).seq)).toEqual([10, 11, 12, 13, 14, 15]);
      expect(mine.every((r) => r.partition === partitionOfKey.get(key))).toBe(true);
    }
  });

  it('hands a batch whose handler threw to the handler again, and commits only after success', async () => {
    const topic = unique('harness-retry');
    const group = unique('harness-group');
    await bus.ensureTopics([{ name: topic }]);
    const producer = await bus.producer();
    for (const batch of records([0, 1, 2, 3, 4])) await producer.send(topic, batch);

    let failed: Batch | undefined;
    const run = await collect(bus, group, [topic], (b) => {
      if (failed) return false;
      failed = b;
      return true;
    });
    await waitUntil('all 30 records handled', () => run.handled.length >= 30);
    await run.sub.stop();

    expect(failed).toBeDefined();
    const failedOffsets = failed!.records.map((r) => r.offset);
    const retried = run.seen.slice(1).find((b) => b.partition === failed!.partition);
    expect(retried, 'a later batch on the failed partition').toBeDefined();
    expect(retried!.records.map((r) => r.offset).slice(0, failedOffsets.length)).toEqual(failedOffsets);
    // Every record handled successfully once: the failed attempt did not commit or skip anything.
    expect(run.handled.map((r) => `${sent(r).key}/${sent(r).seq}`).sort()).toEqual(
      KEYS.flatMap((k) => [0, 1, 2, 3, 4].map((s) => `${k}/${s}`)).sort(),
    );
    const after = await offsets(admin, topic, group);
    for (const [p, end] of after.ends) expect(after.committed.get(p), `partition ${p}`).toBe(end);
  });

  it('reports its lag and a handler that keeps failing, for /health', async () => {
    const topic = unique('harness-lag');
    const group = unique('harness-group');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const producer = await bus.producer();
    await producer.send(topic, records([0, 1])[0]!);
    let gate = false;
    const run = await collect(bus, group, [topic], () => !gate);
    await waitUntil('failing with lag', () => (run.sub.progress?.().failing?.attempts ?? 0) >= 2 && run.sub.progress!().lag > 0);
    expect(run.sub.progress!()).toMatchObject({ lag: KEYS.length, lastCommitAt: 0, failing: { error: 'handler failure injected by the test' } });
    gate = true;
    await waitUntil('caught up', () => run.sub.progress!().lag === 0 && run.sub.progress!().lastCommitAt > 0);
    expect(run.sub.progress!().failing).toBeUndefined();
    await run.sub.stop();
  });
});
