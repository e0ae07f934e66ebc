/**
 * The Bus contract's partition ownership and followers on the two in-process buses, the
 * changelog store on top of them, compaction of the local log's changelogs, and the pure
 * partition assignment Kafka groups use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BARRIER_KEY, ChangelogStore, LogBus, MemoryBus, assignPartitions, topicProblems, vigilTopics, parseConfig, type Bus, type ConsumedRecord, type TopicPartition } from '../src/index.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function logBus(dir?: string): { bus: LogBus; dir: string } {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'vigil-own-'));
  if (!dir) dirs.push(d);
  const bus = new LogBus({ dir: d, partitions: 3, commitIntervalMs: 10 });
  closers.push(() => bus.close());
  return { bus, dir: d };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const buses: [string, () => Bus][] = [
  ['memory', () => new MemoryBus({ partitions: 3 })],
  ['local log', () => logBus().bus],
];

describe.each(buses)('%s bus: ownership and followers', (_name, make) => {
  it('assigns every partition before the first batch and revokes them after the last, at stop', async () => {
    const bus = make();
    const events: string[] = [];
    await (await bus.producer()).send('t', [{ key: 'a', value: Buffer.from('1') }]);
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      handler: async (b) => {
        events.push(`batch ${b.partition}`);
      },
      partitions: {
        assigned: async (ps: TopicPartition[]) => {
          events.push(`assigned ${ps.map((p) => p.partition).join(',')}`);
        },
        revoked: async (ps: TopicPartition[]) => {
          events.push(`revoked ${ps.map((p) => p.partition).join(',')}`);
        },
      },
    });
    await until('the batch', () => events.some((e) => e.startsWith('batch')));
    expect(sub.progress?.().assigned?.map((p) => p.partition)).toEqual([0, 1, 2]);
    await sub.stop();
    expect(events[0]).toBe('assigned 0,1,2');
    expect(events[events.length - 1]).toBe('revoked 0,1,2');
  });

  it('writes a record to the partition asked for, and a follower sees every partition from the start', async () => {
    const bus = make();
    await bus.ensureTopics([{ name: 'src' }, { name: 'log', copartitionedWith: 'src', compact: true }]);
    const p = await bus.producer();
    await p.send('log', [
      { key: 'x', value: Buffer.from('x1'), partition: 2 },
      { key: 'y', value: Buffer.from('y1'), partition: 0 },
    ]);
    const seen: ConsumedRecord[] = [];
    const f = await bus.follow({ topic: 'log', fromBeginning: true, handler: async (b) => void seen.push(...b.records) });
    await f.caughtUp();
    expect(seen.map((r) => `${r.key}@${r.partition}`).sort()).toEqual(['x@2', 'y@0']);
    await p.send('log', [{ key: 'x', value: Buffer.alloc(0), partition: 2 }]);
    await f.caughtUp();
    expect(seen.filter((r) => r.key === 'x').map((r) => r.value.length)).toEqual([2, 0]);
    await expect(p.send('log', [{ key: 'z', value: Buffer.from('z'), partition: 7 }])).rejects.toThrow(/no partition 7/);
    await f.stop();
  });
});

describe('changelog store', () => {
  it('restores a partition as its last owner left it, tombstones applied', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    const open = async () => {
      const s = new ChangelogStore<{ n: number }>({ bus, topic: 'g.state', source: 'alerts', name: 'test', encode: (v) => Buffer.from(JSON.stringify(v)), decode: (b) => JSON.parse(b.toString()) as { n: number } });
      await s.open();
      closers.push(() => s.close());
      return s;
    };
    const a = await open();
    await a.put(1, [
      ['k1', { n: 1 }],
      ['k2', { n: 2 }],
    ]);
    void a.put(1, [['k1', { n: 3 }]]);
    void a.put(1, [['k2', undefined]]);
    void a.put(0, [['k9', { n: 9 }]]);
    const b = await open();
    expect([...(await b.restore(1))]).toEqual([['k1', { n: 3 }]]);
    expect([...(await b.restore(0))]).toEqual([['k9', { n: 9 }]]);
    expect([...(await b.restore(2))]).toEqual([]);
  });

  it('restores only once it has read back what was written before, however long the changelog is away', async () => {
    const inner = new MemoryBus({ partitions: 3 });
    // A follower that reads nothing until the changelog is back (a broker failing over), and whose
    // wait for the end offsets gives up (as Kafka's does after 10 s without progress).
    let back!: () => void;
    const away = new Promise<void>((r) => (back = r));
    const bus: Bus = Object.assign(Object.create(inner) as Bus, {
      follow: async (opts: Parameters<Bus['follow']>[0]) => {
        const follower = await inner.follow({ ...opts, handler: async (batch) => (await away, opts.handler(batch)) });
        return { ...follower, caughtUp: async () => false };
      },
    });
    const store = (b: Bus) => new ChangelogStore<string>({ bus: b, topic: 'g.state', source: 'alerts', name: 'test', encode: (v) => Buffer.from(v), decode: (x) => x.toString() });
    const previous = store(inner);
    await previous.open();
    closers.push(() => previous.close());
    await previous.put(2, [['a', 'firing'], ['b', 'firing']]);
    const next = store(bus);
    await next.open();
    closers.push(() => next.close());
    let restored: Map<string, string> | undefined;
    const restoring = next.restore(2).then((m) => (restored = m));
    await new Promise((r) => setTimeout(r, 200));
    expect(restored).toBeUndefined();
    back();
    await restoring;
    expect([...restored!]).toEqual([['a', 'firing'], ['b', 'firing']]);
    // It waited for a barrier of its own, on the partition, never an entry.
    expect(inner.peek('g.state').filter((r) => r.key === BARRIER_KEY).map((r) => r.partition)).toEqual([2]);
    expect([...(await previous.restore(2))]).toEqual([['a', 'firing'], ['b', 'firing']]);
    expect(next.size()).toBe(2);
  });
});

describe('local log: compacted topics', () => {
  it('copies the live keys forward and deletes what they superseded; a reopened follower sees the latest of each key', async () => {
    const { bus, dir } = logBus();
    await bus.ensureTopics([{ name: 'c', partitions: 1, compact: true }]);
    const p = await bus.producer();
    const value = Buffer.alloc(200, 1);
    for (let round = 0; round < 40; round++) {
      // 50 live keys rewritten again and again, and a key deleted each round.
      await p.send('c', [...Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: Buffer.concat([Buffer.from(`${round}:`), value]) })), { key: `gone${round}`, value: Buffer.from('x') }, { key: `gone${round}`, value: Buffer.alloc(0) }]);
    }
    const latest = async (b: LogBus) => {
      const map = new Map<string, string>();
      const f = await b.follow({ topic: 'c', fromBeginning: true, handler: async (batch) => {
        for (const r of batch.records) if (r.value.length === 0) map.delete(r.key!); else map.set(r.key!, r.value.toString().split(':')[0]!);
      } });
      await f.caughtUp();
      await f.stop();
      return map;
    };
    await until('compaction', () => {
      // Held records fall below the 2,080 written once compaction ran.
      return (bus as unknown as { partitions: Map<string, { startOffset: number }[]> }).partitions.get('c')![0]!.startOffset > 0;
    });
    const before = await latest(bus);
    expect(before.size).toBe(50);
    expect([...before.values()].every((v) => v === '39')).toBe(true);
    await bus.close();
    const again = logBus(dir).bus;
    const after = await latest(again);
    expect(after).toEqual(before);
  });

  it('keeps the latest record of every key written while a compaction runs', async () => {
    const { bus } = logBus();
    await bus.ensureTopics([{ name: 'w', partitions: 1, compact: true }]);
    const p = await bus.producer();
    const value = Buffer.alloc(300, 1);
    const written = new Map<string, string>();
    const start = () => (bus as unknown as { partitions: Map<string, { startOffset: number }[]> }).partitions.get('w')![0]!.startOffset;
    let compactions = 0;
    let seen = 0;
    // Sends go on while compactions (every commit interval) read and copy: some of them land
    // between what a compaction read and its copy.
    // 700 live keys: a compaction's copy (about 230 KB) nearly always starts a new segment, the
    // case where what was appended between its read and its copy sat in a segment it deleted.
    for (let round = 0; round < 200 || compactions < 3; round += 4) {
      const sends = [0, 1, 2, 3].map((k) => {
        const r = round + k;
        // Churned keys, and a few written once and never again (as an alert that fires and stays).
        const records = [
          ...Array.from({ length: 50 }, (_, i) => ({ key: `k${(r * 50 + i) % 700}`, value: Buffer.concat([Buffer.from(`${r}:`), value]) })),
          ...Array.from({ length: 3 }, (_, i) => ({ key: `once-${r}-${i}`, value: Buffer.from(`${r}:`) })),
        ];
        for (const x of records) written.set(x.key, String(r));
        return p.send('w', records);
      });
      await Promise.all(sends);
      if (start() > seen) {
        compactions++;
        seen = start();
      }
      if (round > 4_000) break;
    }
    expect(compactions).toBeGreaterThanOrEqual(3);
    const map = new Map<string, string>();
    const f = await bus.follow({ topic: 'w', fromBeginning: true, handler: async (batch) => {
      for (const r of batch.records) map.set(r.key!, r.value.toString().split(':')[0]!);
    } });
    await f.caughtUp();
    await f.stop();
    await bus.close();
    expect(Object.fromEntries([...map].sort())).toEqual(Object.fromEntries([...written].sort()));
  });
});

describe('partition assignment (Kafka groups)', () => {
  it('spreads partitions evenly and co-partitions every topic', () => {
    const plan = assignPartitions([0, 1, 2, 0, 1, 2], [
      { id: 'b', held: [] },
      { id: 'a', held: [] },
    ]);
    expect([...plan.values()].map((ps) => ps.length).sort()).toEqual([1, 2]);
    expect([...plan.values()].flat().sort()).toEqual([0, 1, 2]);
  });

  it("keeps what members held, up to their share: only a dead member's partitions move", () => {
    const before = { a: [0, 1], b: [2, 3], c: [4, 5] };
    const plan = assignPartitions([0, 1, 2, 3, 4, 5], [
      { id: 'a', held: before.a },
      { id: 'c', held: before.c },
    ]);
    expect(plan.get('a')!.slice(0, 2)).toEqual([0, 1]);
    expect(plan.get('c')).toEqual(expect.arrayContaining([4, 5]));
    expect([...plan.values()].flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // A member that comes back takes a fair share from the others, who keep the rest.
    const back = assignPartitions([0, 1, 2, 3, 4, 5], [
      { id: 'a', held: plan.get('a')! },
      { id: 'c', held: plan.get('c')! },
      { id: 'd', held: [] },
    ]);
    expect(back.get('d')).toHaveLength(2);
    expect(back.get('a')!.filter((p) => plan.get('a')!.includes(p))).toHaveLength(2);
    expect(back.get('c')!.filter((p) => plan.get('c')!.includes(p))).toHaveLength(2);
  });

  it('gives a partition two members claim to one of them', () => {
    const plan = assignPartitions([0, 1], [
      { id: 'a', held: [0, 1] },
      { id: 'b', held: [0, 1] },
    ]);
    expect([...plan.values()].map((ps) => ps.length)).toEqual([1, 1]);
  });
});

describe('topic plan', () => {
  const config = parseConfig('kafka: { partitions: 6, replicationFactor: 3, minInsyncReplicas: 2 }\n', { source: 'test' });
  const plan = vigilTopics(config, { rulesGroup: 'vigil-rules', tickTopic: 'vigil.rules.ticks', notifierGroup: 'vigil-notifier' });

  it('lists the data topics, the changelogs beside their sources and the broadcast topics', () => {
    expect(plan.map((t) => t.name)).toEqual(['otlp_logs', 'otlp_metrics', 'vigil.alerts', 'vigil.dlq', 'vigil.rules.ticks', 'vigil-rules.state', 'vigil-rules.reloads', 'vigil-notifier.state', 'vigil-notifier.silences']);
    expect(plan.find((t) => t.name === 'vigil-notifier.state')).toMatchObject({ copartitionedWith: 'vigil.alerts', compact: true });
  });

  it('names what an existing topic lacks and how to fix it', () => {
    const state = plan.find((t) => t.name === 'vigil-notifier.state')!;
    const problems = topicProblems(state, { partitions: 3, replicas: 1, configs: { 'cleanup.policy': 'delete', 'min.insync.replicas': '1' } }, config.kafka, (t) => (t === 'vigil.alerts' ? 6 : undefined));
    expect(problems).toEqual([
      expect.stringContaining('vigil-notifier.state: 3 partitions, but vigil.alerts has 6'),
      expect.stringContaining('1 replica(s), kafka.replicationFactor is 3'),
      expect.stringContaining('min.insync.replicas is 1, kafka.minInsyncReplicas is 2'),
      expect.stringContaining('cleanup.policy is delete, a changelog needs compact'),
    ]);
    expect(topicProblems(state, { partitions: 6, replicas: 3, configs: { 'cleanup.policy': 'compact', 'min.insync.replicas': '2' } }, config.kafka, () => 6)).toEqual([]);
  });
});
