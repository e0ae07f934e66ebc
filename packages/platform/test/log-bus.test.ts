/**
 * The all-in-one's durable bus: Kafka's contract (keyed order, groups resuming from their
 * commits, redelivery after a failure) on files that survive the process, with offsets that never
 * start again from 0.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogBus, type Batch, type BusRecord, type ConsumedRecord } from '../src/index.js';
import { decodeFrames, encodeFrame } from '../src/bus/log/frame.js';

const dirs: string[] = [];
const buses: LogBus[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-logbus-'));
  dirs.push(d);
  return d;
}

function bus(dir: string, opts: Partial<ConstructorParameters<typeof LogBus>[0]> = {}): LogBus {
  const b = new LogBus({ dir, partitions: 3, commitIntervalMs: 10, ...opts });
  buses.push(b);
  return b;
}

const KEYS = ['host-a', 'host-b', 'host-c', 'host-d'];
const records = (from: number, to: number): BusRecord[] =>
  Array.from({ length: to - from }, (_, i) => ({ key: KEYS[(from + i) % KEYS.length]!, value: Buffer.from(`${KEYS[(from + i) % KEYS.length]}/${from + i}`) }));
const seq = (r: ConsumedRecord) => Number(r.value.toString().split('/')[1]);

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function consume(b: LogBus, groupId: string, topics: string[], opts: { failIf?: (batch: Batch) => boolean; fromBeginning?: boolean } = {}) {
  const handled: ConsumedRecord[] = [];
  const sub = await b.subscribe({
    groupId,
    topics,
    fromBeginning: opts.fromBeginning,
    handler: async (batch) => {
      if (opts.failIf?.(batch)) throw new Error('handler failure injected by the test');
      handled.push(...batch.records);
    },
  });
  return { handled, sub };
}

describe('frames', () => {
  it('round-trip keys, headers, values and offsets; stop at a torn or damaged frame', () => {
    const a = encodeFrame({ offset: 7, timestamp: 1_764_000_000_123, key: 'k', value: Buffer.from('v1'), headers: { h: 'x' } });
    const b = encodeFrame({ offset: 8, timestamp: 1, key: null, value: Buffer.alloc(0) });
    const both = Buffer.concat([a, b]);
    expect(decodeFrames(both)).toEqual({
      records: [
        { offset: 7, timestamp: 1_764_000_000_123, key: 'k', value: Buffer.from('v1'), headers: { h: 'x' } },
        { offset: 8, timestamp: 1, key: null, value: Buffer.alloc(0) },
      ],
      end: both.length,
    });
    const torn = decodeFrames(both.subarray(0, both.length - 3));
    expect(torn.records).toHaveLength(1);
    expect(torn.end).toBe(a.length);
    expect(torn.stop?.reason).toBe('partial');
    const damaged = Buffer.from(both);
    damaged[a.length + 12] = damaged[a.length + 12]! ^ 0xff;
    expect(decodeFrames(damaged).stop).toMatchObject({ reason: 'corrupt', at: a.length, detail: 'checksum mismatch' });
  });
});

describe('LogBus', () => {
  it('keeps order per key and delivers to each group once it is on disk', async () => {
    const b = bus(fresh());
    const producer = await b.producer();
    await producer.send('t', records(0, 40));
    const { handled } = await consume(b, 'g', ['t']);
    await waitUntil('40 records', () => handled.length === 40);
    for (const key of KEYS) {
      const mine = handled.filter((r) => r.key === key).map(seq);
      expect(mine).toEqual([...mine].sort((x, y) => x - y));
      expect(new Set(handled.filter((r) => r.key === key).map((r) => r.partition)).size).toBe(1);
    }
  });

  it('survives a restart: what a send acknowledged is there, the group resumes after its commits, offsets go on', async () => {
    const dir = fresh();
    const first = bus(dir);
    const p1 = await first.producer();
    await p1.send('t', records(0, 30));
    const c1 = await consume(first, 'g', ['t']);
    await waitUntil('30 records', () => c1.handled.length === 30);
    await c1.sub.stop();
    await p1.send('t', records(30, 50));
    await first.close();

    const second = bus(dir);
    const c2 = await consume(second, 'g', ['t']);
    await waitUntil('the 20 records sent after the stop', () => c2.handled.length === 20);
    expect(c2.handled.map(seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i));
    const lastBefore = new Map<number, number>();
    for (const r of c2.handled) lastBefore.set(r.partition, Math.max(lastBefore.get(r.partition) ?? -1, Number(r.offset)));
    const p2 = await second.producer();
    await p2.send('t', records(50, 60));
    await waitUntil('10 more', () => c2.handled.length === 30);
    for (const r of c2.handled.slice(20)) expect(Number(r.offset)).toBeGreaterThan(lastBefore.get(r.partition) ?? -1);
  });

  it('cuts a torn tail at open and keeps every whole record', async () => {
    const dir = fresh();
    const first = bus(dir, { partitions: 1 });
    await (await first.producer()).send('t', records(0, 10));
    await first.close();
    const segment = join(dir, 'topics', 't', '0', '00000000000000000000.log');
    const size = statSync(segment).size;
    appendFileSync(segment, Buffer.from([0, 0, 0, 40, 1, 2, 3]));
    const second = bus(dir, { partitions: 1 });
    const c = await consume(second, 'g', ['t']);
    await waitUntil('10 records', () => c.handled.length === 10);
    expect(statSync(segment).size).toBe(size);
    await (await second.producer()).send('t', records(10, 11));
    await waitUntil('the next one, at offset 10', () => c.handled.length === 11);
    expect(c.handled[10]!.offset).toBe('10');
  });

  it('redelivers the same batch after a handler failure, and reports it as failing meanwhile', async () => {
    const b = bus(fresh(), { partitions: 1 });
    await (await b.producer()).send('t', records(0, 5));
    let fail = 2;
    const c = await consume(b, 'g', ['t'], { failIf: () => fail-- > 0 });
    await waitUntil('failing', () => (c.sub.progress?.().failing?.attempts ?? 0) >= 1);
    expect(c.sub.progress!().lag).toBe(5);
    expect(c.sub.progress!().failing!.error).toMatch(/injected/);
    await waitUntil('5 records after two failures', () => c.handled.length === 5, 15_000);
    expect(c.handled.map(seq)).toEqual([0, 1, 2, 3, 4]);
    expect(c.sub.progress!()).toMatchObject({ lag: 0 });
    expect(c.sub.progress!().failing).toBeUndefined();
  });

  it('rolls segments and deletes those every reader passed; keeps them for a reader behind', async () => {
    const dir = fresh();
    const b = bus(dir, { partitions: 1, segmentBytes: 1_000 });
    const producer = await b.producer();
    for (let i = 0; i < 20; i++) await producer.send('t', records(i * 10, i * 10 + 10));
    const segments = () => readdirSync(join(dir, 'topics', 't', '0')).filter((f) => f.endsWith('.log')).length;
    expect(segments()).toBeGreaterThan(5);
    const slowGate = { open: false };
    const slow = await consume(b, 'slow', ['t'], { failIf: () => !slowGate.open });
    const fast = await consume(b, 'fast', ['t']);
    await waitUntil('fast read all', () => fast.handled.length === 200);
    await new Promise((r) => setTimeout(r, 100));
    expect(segments()).toBeGreaterThan(5);
    slowGate.open = true;
    await waitUntil('slow read all', () => slow.handled.length === 200, 15_000);
    await waitUntil('segments deleted', () => segments() === 1);
    // Deleted segments do not bring offsets back to 0.
    await producer.send('t', records(200, 201));
    await waitUntil('one more', () => fast.handled.length === 201);
    expect(fast.handled[200]!.offset).toBe('200');
  });

  it('starts a new group at the end when asked (Kafka "latest")', async () => {
    const b = bus(fresh(), { partitions: 1 });
    const producer = await b.producer();
    await producer.send('t', records(0, 3));
    const c = await consume(b, 'late', ['t'], { fromBeginning: false });
    await producer.send('t', records(3, 5));
    await waitUntil('the 2 sent after', () => c.handled.length === 2);
    expect(c.handled.map(seq)).toEqual([3, 4]);
  });

  it('hands a record larger than a batch on its own, and many concurrent sends all land once', async () => {
    const b = bus(fresh(), { partitions: 2, maxBatchBytes: 1_024 });
    const producer = await b.producer();
    const big = Buffer.alloc(100_000, 7);
    await Promise.all([producer.send('t', [{ key: 'x', value: big }]), ...Array.from({ length: 50 }, (_, i) => producer.send('t', records(i * 4, i * 4 + 4)))]);
    const c = await consume(b, 'g', ['t']);
    await waitUntil('201 records', () => c.handled.length === 201);
    expect(c.handled.find((r) => r.key === 'x')!.value.equals(big)).toBe(true);
    expect(new Set(c.handled.filter((r) => r.key !== 'x').map(seq)).size).toBe(200);
  });

  it('says how far a group is behind, in records and bytes, and drains', async () => {
    const b = bus(fresh(), { partitions: 1 });
    const producer = await b.producer();
    let gate = false;
    const c = await consume(b, 'g', ['t'], { failIf: () => !gate });
    await producer.send('t', records(0, 10));
    await waitUntil('lag', () => c.sub.progress!().lag === 10);
    expect(b.pending()).toBe(10);
    gate = true;
    expect(await b.drained(10_000)).toBe(true);
    expect(c.sub.progress!()).toMatchObject({ lag: 0, lagBytes: 0 });
  });

  it('reads an unreadable offsets file as no commits, and refuses a bad topic name', async () => {
    const dir = fresh();
    const first = bus(dir, { partitions: 1 });
    await (await first.producer()).send('t', records(0, 2));
    await first.close();
    writeFileSync(join(dir, 'groups', 'g.json'), '{not json');
    const second = bus(dir, { partitions: 1 });
    const c = await consume(second, 'g', ['t']);
    await waitUntil('read again from the start', () => c.handled.length === 2);
    await expect(second.ensureTopics([{ name: '../escape' }])).rejects.toThrow(/not a topic name/);
  });
});
