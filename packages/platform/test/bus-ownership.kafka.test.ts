/**
 * KafkaBus on the real broker: the partition listener around a rebalance (revoked before the
 * member rejoins, assigned before the first batch), co-partitioned sticky assignment, followers
 * outside any group, and topics created as asked (changelog partitions from their source,
 * compaction).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { ChangelogStore, KafkaBus, type ConsumedRecord, type Subscription, type TopicPartition } from '../src/index.js';
import { eventually, kafkaBrokers, unique } from '../../../test/harness/index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

function newBus(): KafkaBus {
  const bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('own'), partitions: 4, sessionTimeoutMs: 10_000 });
  closers.push(() => bus.close());
  return bus;
}

interface Member {
  sub: Subscription;
  log: string[];
  owned: () => number[];
}

async function member(bus: KafkaBus, group: string, topics: string[], seen: ConsumedRecord[]): Promise<Member> {
  const log: string[] = [];
  let owned: TopicPartition[] = [];
  const sub = await bus.subscribe({
    groupId: group,
    topics,
    handler: async (b) => {
      // A batch only ever arrives for a partition whose `assigned` finished.
      if (!owned.some((tp) => tp.topic === b.topic && tp.partition === b.partition)) log.push(`batch of an unowned ${b.topic}:${b.partition}`);
      seen.push(...b.records);
    },
    partitions: {
      assigned: async (ps) => {
        await new Promise((r) => setTimeout(r, 200)); // a restore takes a while
        owned = ps;
        log.push(`assigned ${ps.map((p) => `${p.topic}:${p.partition}`).sort().join(' ')}`);
      },
      revoked: async (ps) => {
        owned = [];
        log.push(`revoked ${ps.length}`);
      },
    },
  });
  closers.push(() => sub.stop());
  return { sub, log, owned: () => [...new Set(owned.map((tp) => tp.partition))].sort() };
}

describe('KafkaBus: partition ownership', () => {
  it('hands partitions over at a rebalance, the same numbers of both topics to one member, and back when a member leaves', async () => {
    const bus = newBus();
    const [a, b] = [unique('metrics'), unique('logs')];
    await bus.ensureTopics([{ name: a }, { name: b }]);
    const group = unique('g');
    const seen: ConsumedRecord[] = [];
    const first = await member(bus, group, [a, b], seen);
    await eventually('first member owns all', async () => first.owned(), (o) => o.length === 4, 60_000);

    const second = await member(newBus(), group, [a, b], seen);
    await eventually('two members share', async () => [first.owned(), second.owned()], ([x, y]) => x!.length === 2 && y!.length === 2, 60_000);
    // The first member was told before it rejoined, and kept what it could.
    expect(first.log).toContain('revoked 8');
    const sub = second.sub.progress!().assigned!;
    for (const p of second.owned()) expect(sub.filter((tp) => tp.partition === p).map((tp) => tp.topic).sort()).toEqual([a, b].sort());

    const producer = await bus.producer();
    await producer.send(a, Array.from({ length: 40 }, (_, i) => ({ key: `host-${i}`, value: Buffer.from(String(i)) })));
    await eventually('every record consumed', async () => seen.length, (n) => n === 40, 30_000);

    await second.sub.stop();
    expect(second.log[second.log.length - 1]).toBe('revoked 4');
    await eventually('the first member owns all again', async () => first.owned(), (o) => o.length === 4, 60_000);
    expect([...first.log, ...second.log].filter((l) => l.includes('unowned'))).toEqual([]);
  }, 180_000);

  it('tells a member that the group went on without it (expired while a batch held it) to take its partitions afresh', async () => {
    // The broker's smallest session timeout: a handler that holds a batch longer sends no heartbeat.
    const bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('own'), partitions: 2, sessionTimeoutMs: 6_000 });
    closers.push(() => bus.close());
    const topic = unique('metrics');
    await bus.ensureTopics([{ name: topic }]);
    const told: { partitions: number; afresh: boolean | undefined }[] = [];
    let hold = true;
    const sub = await bus.subscribe({
      groupId: unique('g'),
      topics: [topic],
      handler: async () => {
        if (!hold) return;
        hold = false;
        await new Promise((r) => setTimeout(r, 9_000));
      },
      partitions: {
        assigned: async (ps, info) => void told.push({ partitions: ps.length, afresh: info?.afresh }),
        revoked: async () => undefined,
      },
    });
    closers.push(() => sub.stop());
    await eventually('assigned', async () => told.length, (n) => n === 1, 60_000);
    expect(sub.inGroup!()).toBe(true);
    await (await bus.producer()).send(topic, [{ key: 'host-1', value: Buffer.from('x') }]);
    // Holding the batch past the session timeout, the member no longer counts itself in.
    await eventually('out of the group', async () => sub.inGroup!(), (v) => v === false, 30_000, 100);
    await eventually('assigned again after the expiry', async () => told.length, (n) => n >= 2, 60_000);
    expect(sub.inGroup!()).toBe(true);
    expect(told[0]).toEqual({ partitions: 2, afresh: false });
    expect(told[told.length - 1]).toEqual({ partitions: 2, afresh: true });
  }, 120_000);

  it('creates a changelog with its source topic partition count, compacted, and follows it outside any group', async () => {
    const bus = newBus();
    const source = unique('alerts');
    await bus.ensureTopics([{ name: source, partitions: 5 }]);
    const changelog = `${source}.state`;
    const store = new ChangelogStore<string>({ bus, topic: changelog, source, name: 'test', encode: (v) => Buffer.from(v), decode: (b) => b.toString() });
    await store.open();
    closers.push(() => store.close());
    await store.put(4, [['fp1', 'firing'], ['fp2', 'firing']]);
    await store.put(4, [['fp2', undefined]]);

    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [changelog] });
      expect(meta.topics[0]!.partitions).toHaveLength(5);
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: changelog, configNames: ['cleanup.policy'] }] });
      expect(configs.resources[0]!.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('compact');
    } finally {
      await admin.disconnect();
    }
    // Another instance restores partition 4 as the first left it.
    const other = new ChangelogStore<string>({ bus: newBus(), topic: changelog, source, name: 'test', encode: (v) => Buffer.from(v), decode: (b) => b.toString() });
    await other.open();
    closers.push(() => other.close());
    expect([...(await other.restore(4))]).toEqual([['fp1', 'firing']]);
    expect([...(await other.restore(0))]).toEqual([]);
  }, 120_000);

  it('a follower reads each record once, however long it follows', async () => {
    const bus = newBus();
    const topic = unique('followed');
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    const producer = await bus.producer();
    await producer.send(topic, [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`), partition: i % 2 })));
    const seen: string[] = [];
    const follower = await bus.follow({ topic, fromBeginning: true, handler: async (b) => void seen.push(...b.records.map((r) => `${r.partition}:${r.offset}`)) });
    closers.push(() => follower.stop());
    await follower.caughtUp();
    // Records written while it follows, a fetch round (1 s) apart: each round fetches from where the last one ended.
    for (let i = 4; i < 8; i++) {
      await producer.send(topic, [{ key: `k${i}`, value: Buffer.from(`v${i}`), partition: i % 2 }]);
      await new Promise((r) => setTimeout(r, 1_200));
    }
    await follower.caughtUp();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(seen.length).toBe(8);
    expect(new Set(seen).size).toBe(8);
  }, 120_000);
});
