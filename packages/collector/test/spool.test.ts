import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFrames, encodeRecord, type SpoolRecord } from '../src/spool/segment.js';
import { planDrops, segmentBytesFor, segmentFileName, segmentIdOf } from '../src/spool/policy.js';
import { DiskSpool, spoolDiskBytes } from '../src/spool/spool.js';

const rec = (i: number, over: Partial<SpoolRecord> = {}): SpoolRecord => ({
  topic: i % 2 ? 'otlp_logs' : 'otlp_metrics',
  key: i % 3 ? `host-${i % 3}` : null,
  value: Buffer.from(`payload-${i}-`.padEnd(40, 'x')),
  count: i + 1,
  source: 'file',
  ...over,
});

describe('segment frames', () => {
  it('round-trip topic, key (also null and empty), source, count and value', () => {
    const records = [rec(0), rec(1), rec(2, { key: '' }), rec(3, { value: Buffer.alloc(0) }), rec(4, { topic: 'ü-topic', source: 'ünïcode' })];
    const buf = Buffer.concat(records.map(encodeRecord));
    const d = decodeFrames(buf);
    expect(d.stop).toBeUndefined();
    expect(d.validBytes).toBe(buf.length);
    expect(d.frames.map((f) => f.record)).toEqual(records);
    expect(d.frames[1]!.start).toBe(d.frames[0]!.end);
  });

  it('stop at maxFrames with the offset after the last frame taken', () => {
    const buf = Buffer.concat([rec(0), rec(1), rec(2)].map(encodeRecord));
    const d = decodeFrames(buf, 2);
    expect(d.frames).toHaveLength(2);
    expect(d.validBytes).toBe(d.frames[1]!.end);
  });

  it('discard a torn last frame at every cut point, keeping every whole frame before it', () => {
    const a = encodeRecord(rec(1));
    const b = encodeRecord(rec(2));
    const whole = Buffer.concat([a, b]);
    for (let cut = a.length; cut < whole.length; cut++) {
      const d = decodeFrames(whole.subarray(0, cut));
      expect(d.frames.map((f) => f.record)).toEqual([rec(1)]);
      expect(d.validBytes).toBe(a.length);
      expect(d.stop?.reason).toBe(cut === a.length ? undefined : 'partial');
    }
  });

  it('report a flipped byte as corrupt (CRC), not as a record', () => {
    const a = encodeRecord(rec(1));
    const b = Buffer.from(encodeRecord(rec(2)));
    b[b.length - 3] = b[b.length - 3]! ^ 0xff;
    const d = decodeFrames(Buffer.concat([a, b]));
    expect(d.frames).toHaveLength(1);
    expect(d.stop).toEqual({ reason: 'corrupt', detail: `CRC mismatch at byte ${a.length}` });
  });

  it('report a garbage length as corrupt', () => {
    const d = decodeFrames(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3]));
    expect(d.stop?.reason).toBe('corrupt');
    expect(d.frames).toEqual([]);
  });
});

describe('drop policy', () => {
  const seg = (id: number, bytes: number) => ({ id, bytes, entries: 1, items: 1 });

  it('drop nothing while the incoming bytes fit', () => {
    expect(planDrops([seg(1, 400), seg(2, 300)], 300, 1000)).toEqual({ segments: 0, incoming: false });
  });

  it('drop the oldest segments, fewest first, until the incoming bytes fit', () => {
    expect(planDrops([seg(1, 400), seg(2, 300), seg(3, 200)], 200, 1000)).toEqual({ segments: 1, incoming: false });
    expect(planDrops([seg(1, 400), seg(2, 300), seg(3, 200)], 600, 1000)).toEqual({ segments: 2, incoming: false });
  });

  it('never drop the segment being written; drop the incoming batch when it alone is too big', () => {
    expect(planDrops([seg(1, 400), seg(2, 0)], 2000, 1000)).toEqual({ segments: 1, incoming: true });
    expect(planDrops([seg(1, 0)], 1000, 1000)).toEqual({ segments: 0, incoming: false });
  });

  it('size segments at an eighth of the cap within 1 KiB..16 MiB, and name them in order', () => {
    expect(segmentBytesFor(256 * 1024 * 1024)).toBe(16 * 1024 * 1024);
    expect(segmentBytesFor(80_000)).toBe(10_000);
    expect(segmentBytesFor(1024)).toBe(1024);
    expect(segmentFileName(12)).toBe('000000000012.seg');
    expect(segmentIdOf('000000000012.seg')).toBe(12);
    expect(segmentIdOf('head.json')).toBeUndefined();
    expect([segmentFileName(10), segmentFileName(9)].sort()).toEqual([segmentFileName(9), segmentFileName(10)]);
  });
});

describe('DiskSpool on real files', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'vigil-spool-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function drain(spool: DiskSpool, per = 3): Promise<SpoolRecord[]> {
    const out: SpoolRecord[] = [];
    for (;;) {
      const b = await spool.read(per);
      if (!b) return out;
      out.push(...b.records);
      await spool.commit(b);
    }
  }

  it('give back what was appended, in order, across segments, and delete delivered segments', async () => {
    const dir = await tempDir();
    const spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 200 });
    const records = Array.from({ length: 20 }, (_, i) => rec(i));
    for (const r of records) await spool.append([r]);
    expect(spool.entries).toBe(20);
    expect(spool.records).toBe(records.reduce((n, r) => n + r.count, 0));
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(3);
    expect(await drain(spool)).toEqual(records);
    expect(spool.entries).toBe(0);
    expect(spool.bytes).toBe(0);
    expect((await readdir(dir)).filter((f) => f.endsWith('.seg'))).toHaveLength(1);
    await spool.close();
  });

  it('survive a restart: delivered records stay delivered, the rest come back in order', async () => {
    const dir = await tempDir();
    const records = Array.from({ length: 12 }, (_, i) => rec(i));
    let spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 300 });
    await spool.append(records);
    const first = (await spool.read(5))!;
    await spool.commit(first);
    await spool.close();

    spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 300 });
    expect(spool.entries).toBe(7);
    expect(await drain(spool)).toEqual(records.slice(5));
    await spool.close();
  });

  it('cut a torn last frame at open (a crash mid-write), keep the whole ones, and append after them', async () => {
    const dir = await tempDir();
    let spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024 });
    await spool.append([rec(1), rec(2)]);
    await spool.close();
    const file = join(dir, (await readdir(dir)).find((f) => f.endsWith('.seg'))!);
    const good = (await stat(file)).size;
    await appendFile(file, encodeRecord(rec(3)).subarray(0, 17));

    spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024 });
    expect((await stat(file)).size).toBe(good);
    expect(spool.entries).toBe(2);
    await spool.append([rec(4)]);
    expect(await drain(spool)).toEqual([rec(1), rec(2), rec(4)]);
    await spool.close();
  });

  it('open with a missing or unreadable head file from the first segment', async () => {
    const dir = await tempDir();
    let spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024 });
    await spool.append([rec(1)]);
    await spool.close();
    await writeFile(join(dir, 'head.json'), '{not json');
    spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024 });
    expect(await drain(spool)).toEqual([rec(1)]);
    await spool.close();
  });

  it('when full, drop the oldest records, count them, and keep the files under the cap', async () => {
    const dir = await tempDir();
    const drops: number[] = [];
    const maxBytes = 2048;
    const spool = await DiskSpool.open({ dir, maxBytes, segmentBytes: 512, onDrop: (l) => drops.push(l.records) });
    const records = Array.from({ length: 100 }, (_, i) => rec(i, { count: 1 }));
    for (const r of records) await spool.append([r]);
    expect(await spoolDiskBytes(dir)).toBeLessThanOrEqual(maxBytes);
    const kept = await drain(spool, 100);
    const lost = drops.reduce((a, b) => a + b, 0);
    expect(lost).toBeGreaterThan(0);
    expect(kept.length + lost).toBe(100);
    // What is kept is the newest, contiguous and in order.
    expect(kept).toEqual(records.slice(100 - kept.length));
    expect(spool.takeDropped().records).toBe(lost);
    expect(spool.takeDropped().records).toBe(0);
    await spool.close();
  });

  it('ignore a commit for a batch whose segment was dropped meanwhile', async () => {
    const dir = await tempDir();
    const spool = await DiskSpool.open({ dir, maxBytes: 2048, segmentBytes: 512 });
    for (let i = 0; i < 5; i++) await spool.append([rec(i, { count: 1 })]);
    const stale = (await spool.read(2))!;
    for (let i = 5; i < 100; i++) await spool.append([rec(i, { count: 1 })]);
    const before = spool.entries;
    await spool.commit(stale);
    expect(spool.entries).toBe(before);
    const rest = await drain(spool, 100);
    expect(rest.at(-1)).toEqual(rec(99, { count: 1 }));
    await spool.close();
  });

  it('read a record larger than one read window', async () => {
    const dir = await tempDir();
    const spool = await DiskSpool.open({ dir, maxBytes: 64 * 1024 * 1024 });
    const big = rec(1, { value: Buffer.alloc(3 * 1024 * 1024, 7) });
    await spool.append([rec(0), big]);
    const got = await drain(spool, 10);
    expect(got).toHaveLength(2);
    // Buffers compared directly: a deep equality over 3 MiB takes vitest half a minute.
    expect(got[1]!.value.equals(big.value)).toBe(true);
    expect({ ...got[1]!, value: null }).toEqual({ ...big, value: null });
    await spool.close();
  });

  it('skip a segment damaged after it was written, counted as dropped', async () => {
    const dir = await tempDir();
    const drops: number[] = [];
    let spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 200, onDrop: (l) => drops.push(l.records) });
    for (let i = 0; i < 6; i++) await spool.append([rec(i, { count: 1 })]);
    await spool.close();
    const segs = (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
    expect(segs.length).toBeGreaterThan(1);
    // Damage the first segment in the middle of its first frame: open cuts it to nothing.
    const first = join(dir, segs[0]!);
    const bytes = await readFile(first);
    bytes[12] = bytes[12]! ^ 0xff;
    await writeFile(first, bytes);
    spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 200, onDrop: (l) => drops.push(l.records) });
    const kept = await drain(spool);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.at(-1)).toEqual(rec(5, { count: 1 }));
    await spool.close();
    await truncate(first, 0).catch(() => undefined);
  });
});
