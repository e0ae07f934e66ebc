/**
 * The in-process bus keeps the same contract as KafkaBus (see test/kafka-harness.test.ts for the
 * broker side): keyed order, groups that resume from their commits, redelivery after a failure.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBus, partitionFor, type Batch, type BusRecord, type ConsumedRecord } from '../src/index.js';

const KEYS = ['host-a', 'host-b', 'host-c', 'host-d', 'host-e', 'host-f'];

function keyed(seqs: number[]): BusRecord[][] {
  return seqs.map((seq) => KEYS.map((key) => ({ key, value: Buffer.from(`${key}/${seq}`) })));
}

function seqOf(r: ConsumedRecord): number {
  return Number(r.value.toString().split('/')[1]);
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function collect(bus: MemoryBus, groupId: string, topics: string[], opts: { failIf?: (b: Batch) => boolean; fromBeginning?: boolean } = {}) {
  const seen: Batch[] = [];
  const handled: ConsumedRecord[] = [];
  const sub = await bus.subscribe({
    groupId,
    topics,
    fromBeginning: opts.fromBeginning,
    handler: async (batch) => {
      seen.push(batch);
      if (opts.failIf?.(batch)) throw new Error('handler failure injected by the test');
      handled.push(...batch.records);
    },
  });
  return { seen, handled, sub };
}

describe('partitionFor', () => {
  it('puts a key always in the same partition, within range', () => {
    for (const n of [1, 3, 7]) {
      for (const key of [...KEYS, '', 'ü-ñ']) {
        const p = partitionFor(key, n, 0);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
        expect(partitionFor(key, n, 99)).toBe(p);
      }
    }
  });

  it('spreads keys over partitions and unkeyed records round-robin', () => {
    const used = new Set(Array.from({ length: 100 }, (_, i) => partitionFor(`host-${i}`, 3, 0)));
    expect(used).toEqual(new Set([0, 1, 2]));
    expect([0, 1, 2, 3, 4].map((c) => partitionFor(null, 3, c))).toEqual([0, 1, 2, 0, 1]);
  });
});

describe('MemoryBus', () => {
  it('keeps order per key, and a group that stops resumes after its committed offsets', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    await bus.ensureTopics([{ name: 't' }]);
    const producer = await bus.producer();
    for (const batch of keyed([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])) await producer.send('t', batch);

    const first = await collect(bus, 'g', ['t']);
    await waitUntil('60 records', () => first.handled.length >= 60);
    await first.sub.stop();
    expect(first.handled).toHaveLength(60);
    for (const key of KEYS) {
      const mine = first.handled.filter((r) => r.key === key);
      expect(mine.map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionFor(key, 3, 0)]));
    }
    // Offsets count up from 0 without gaps in each partition.
    for (const p of [0, 1, 2]) {
      const offs = first.handled.filter((r) => r.partition === p).map((r) => Number(r.offset));
      expect(offs).toEqual(offs.map((_, i) => i));
    }

    for (const batch of keyed([10, 11, 12])) await producer.send('t', batch);
    const second = await collect(bus, 'g', ['t']);
    await waitUntil('18 new records', () => second.handled.length >= 18);
    await second.sub.stop();
    expect(second.handled).toHaveLength(18);
    for (const key of KEYS) expect(second.handled.filter((r) => r.key === key).map(seqOf)).toEqual([10, 11, 12]);
    await bus.close();
  });

  it('hands a batch whose handler threw to the handler again, with the same records first', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    const producer = await bus.producer();
    for (const batch of keyed([0, 1, 2, 3, 4])) await producer.send('t', batch);

    let failed: Batch | undefined;
    const run = await collect(bus, 'g', ['t'], {
      failIf: (b) => {
        if (failed) return false;
        failed = b;
        return true;
      },
    });
    await waitUntil('30 records', () => run.handled.length >= 30);
    await run.sub.stop();
    const retried = run.seen.slice(1).find((b) => b.partition === failed!.partition);
    expect(retried!.records.slice(0, failed!.records.length).map((r) => r.offset)).toEqual(failed!.records.map((r) => r.offset));
    expect(run.handled).toHaveLength(30);
    expect(bus.depth('t')).toBe(0);
    await bus.close();
  });

  it('stop() waits for the batch in hand and commits it', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const producer = await bus.producer();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      handler: async () => {
        entered = true;
        await gate;
      },
    });
    await producer.send('t', [{ key: 'k', value: Buffer.from('x') }]);
    await waitUntil('the handler to start', () => entered);
    let stopped = false;
    const stopping = sub.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    const again = await collect(bus, 'g', ['t']);
    await new Promise((r) => setTimeout(r, 30));
    await again.sub.stop();
    expect(again.seen).toEqual([]);
    await bus.close();
  });

  it('gives every group all records, and starts a new group at the end when fromBeginning is false', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    const producer = await bus.producer();
    await bus.ensureTopics([{ name: 't' }]);
    const a = await collect(bus, 'a', ['t']);
    const b = await collect(bus, 'b', ['t']);
    for (const batch of keyed([0, 1])) await producer.send('t', batch);
    await waitUntil('both groups', () => a.handled.length >= 12 && b.handled.length >= 12);
    const late = await collect(bus, 'late', ['t'], { fromBeginning: false });
    for (const batch of keyed([2])) await producer.send('t', batch);
    await waitUntil('the late group', () => late.handled.length >= 6 && a.handled.length >= 18);
    for (const c of [a, b, late]) await c.sub.stop();
    expect(a.handled).toHaveLength(18);
    expect(late.handled.map(seqOf)).toEqual([2, 2, 2, 2, 2, 2]);
    await bus.close();
  });

  it('refuses a second consumer in a group that already has one', async () => {
    const bus = new MemoryBus();
    const first = await collect(bus, 'g', ['t']);
    await expect(bus.subscribe({ groupId: 'g', topics: ['t'], handler: async () => undefined })).rejects.toThrow('group "g" already has a consumer');
    await first.sub.stop();
    await bus.close();
  });

  it('delivers at most maxBatch records per batch', async () => {
    const bus = new MemoryBus({ partitions: 1, maxBatch: 4 });
    const producer = await bus.producer();
    await producer.send('t', Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: Buffer.from(`k/${i}`) })));
    const run = await collect(bus, 'g', ['t']);
    await waitUntil('10 records', () => run.handled.length >= 10);
    await run.sub.stop();
    expect(run.seen.map((b) => b.records.length)).toEqual([4, 4, 2]);
    expect(run.handled.map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await bus.close();
  });

  it('keeps at most unreadLimit records per partition of a topic nobody reads', async () => {
    const bus = new MemoryBus({ partitions: 1, unreadLimit: 5 });
    const producer = await bus.producer();
    await producer.send('t', Array.from({ length: 12 }, (_, i) => ({ key: 'k', value: Buffer.from(`k/${i}`) })));
    expect(bus.peek('t').map(seqOf)).toEqual([7, 8, 9, 10, 11]);
    // Offsets stay those of the records, not positions in what is left.
    expect(bus.peek('t').map((r) => r.offset)).toEqual(['7', '8', '9', '10', '11']);
    await bus.close();
  });

  it('refuses to send once closed', async () => {
    const bus = new MemoryBus();
    const producer = await bus.producer();
    await bus.close();
    await expect(producer.send('t', [{ key: null, value: Buffer.from('x') }])).rejects.toThrow('in-process bus is closed');
  });
});
