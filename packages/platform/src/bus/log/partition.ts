import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFrames, encodeFrame, FRAME_HEADER_BYTES, type LogRecord } from './frame.js';

/**
 * One partition of the local log: segment files named by the offset of their first record
 * (`00000000000000000042.log`), appended by one writer, read by any number of cursors. Offsets
 * are assigned at append and become visible to readers only once synced to disk (`durableEnd`,
 * Kafka's high watermark): a consumer never commits past what a crash could take back.
 */

export interface AppendInput {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
  timestamp: number;
}

interface Segment {
  base: number;
  path: string;
  /** Position of the segment's first byte in the partition's byte stream (for lag in bytes). */
  startByte: number;
  /** Bytes handed to the file (writes done). */
  written: number;
  /** Bytes known to be on disk (synced). */
  durable: number;
  /** Offset after the last record written. */
  writtenEnd: number;
  writer?: FileHandle;
  reader?: Promise<FileHandle>;
  /** Sparse index, [offset, byte position] of a frame about every INDEX_EVERY bytes, ascending: seeks start there. */
  index: [number, number][];
}

const INDEX_EVERY = 256 * 1024;

function indexAt(seg: Segment, offset: number, pos: number): void {
  const last = seg.index[seg.index.length - 1];
  if (!last || pos - last[1] >= INDEX_EVERY) seg.index.push([offset, pos]);
}

/** Where a reader is: the segment (by base offset), the byte in it, the next offset. */
export interface Cursor {
  base: number;
  pos: number;
  offset: number;
}

export interface ReadResult {
  records: LogRecord[];
  next: Cursor;
  /** Frames skipped because they were damaged (bad checksum in the middle of a segment). */
  corrupt?: string;
}

const SEGMENT = /^(\d{20})\.log$/;
const name = (base: number) => `${String(base).padStart(20, '0')}.log`;
const READ_CHUNK = 4 * 1024 * 1024;

export class PartitionLog {
  private segments: Segment[] = [];
  /** The next offset to assign. */
  nextOffset = 0;
  /** Offsets below this are on disk and visible to readers. */
  durableEnd = 0;
  /** Frames appended and not yet written. */
  private queued: { first: number; end: number; buf: Buffer }[] = [];
  private writeError: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /** Opens (or creates) the partition, cutting a torn tail off the last segment. */
  static async open(dir: string, segmentBytes: number): Promise<{ log: PartitionLog; truncatedBytes: number }> {
    mkdirSync(dir, { recursive: true });
    const log = new PartitionLog(dir, segmentBytes);
    const bases = readdirSync(dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let startByte = 0;
    for (const base of bases) {
      const path = join(dir, name(base));
      const size = statSync(path).size;
      log.segments.push({ base, path, startByte, written: size, durable: size, writtenEnd: base, index: [] });
      startByte += size;
    }
    let truncatedBytes = 0;
    const last = log.segments[log.segments.length - 1];
    if (last) {
      const { end, next, index } = await scanEnd(last.path, last.base);
      last.index = index;
      if (end < last.written) {
        truncatedBytes = last.written - end;
        const fh = await open(last.path, 'r+');
        await fh.truncate(end);
        await fh.sync();
        await fh.close();
        last.written = last.durable = end;
      }
      last.writtenEnd = next;
      log.nextOffset = next;
    }
    for (let i = 0; i + 1 < log.segments.length; i++) log.segments[i]!.writtenEnd = log.segments[i + 1]!.base;
    if (log.segments.length === 0) log.segments.push({ base: 0, path: join(dir, name(0)), startByte: 0, written: 0, durable: 0, writtenEnd: 0, index: [] });
    log.durableEnd = log.nextOffset;
    return { log, truncatedBytes };
  }

  /** The first offset still held. */
  get startOffset(): number {
    return this.segments[0]!.base;
  }

  /** Bytes from the partition's start to the end of what is on disk. */
  get durableEndByte(): number {
    const last = this.segments[this.segments.length - 1]!;
    return last.startByte + last.durable;
  }

  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.written, 0);
  }

  /** Assigns offsets now and queues the frames; `sync` writes, syncs and makes them visible. */
  append(records: AppendInput[]): { first: number; last: number } {
    if (this.writeError) throw this.writeError;
    const first = this.nextOffset;
    const frames = records.map((r, i) => encodeFrame({ offset: first + i, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers }));
    this.nextOffset += records.length;
    this.queued.push({ first, end: this.nextOffset, buf: frames.length === 1 ? frames[0]! : Buffer.concat(frames) });
    return { first, last: this.nextOffset - 1 };
  }

  private roll(base: number): Segment {
    const prev = this.segments[this.segments.length - 1]!;
    const seg: Segment = { base, path: join(this.dir, name(base)), startByte: prev.startByte + prev.written, written: 0, durable: 0, writtenEnd: base, index: [] };
    this.segments.push(seg);
    return seg;
  }

  /**
   * Writes what was appended since the last sync (one write per segment touched: appends that
   * come together cost one system call, not one each), syncs it and makes it visible. Called by
   * one sync round at a time.
   */
  async sync(): Promise<void> {
    if (this.writeError) throw this.writeError;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    try {
      const touched: Segment[] = [];
      let seg = this.segments[this.segments.length - 1]!;
      let bufs: Buffer[] = [];
      const flush = async () => {
        if (bufs.length === 0) return;
        seg.writer ??= await open(seg.path, 'a');
        await seg.writer.writev(bufs);
        bufs = [];
      };
      let size = seg.written;
      for (const item of batch) {
        if (size > 0 && size + item.buf.length > this.segmentBytes) {
          await flush();
          seg.written = size;
          if (!touched.includes(seg)) touched.push(seg);
          seg = this.roll(item.first);
          size = 0;
        }
        indexAt(seg, item.first, size);
        bufs.push(item.buf);
        size += item.buf.length;
        seg.writtenEnd = item.end;
      }
      await flush();
      seg.written = size;
      if (!touched.includes(seg)) touched.push(seg);
      for (const t of touched) {
        await t.writer?.datasync();
        t.durable = t.written;
        if (t !== this.segments[this.segments.length - 1]) {
          // Its records are durable: a failed close loses nothing (and retention may close it too).
          const writer = t.writer;
          t.writer = undefined;
          await writer?.close().catch(() => undefined);
        }
      }
    } catch (err) {
      // The offsets were handed out: nothing after them may be written, or readers would skip.
      this.writeError = new Error(`local log ${this.dir}: write failed: ${(err as Error).message}`);
      throw this.writeError;
    }
    this.durableEnd = batch[batch.length - 1]!.end;
  }

  /** Whether appends wait for a sync. */
  get dirty(): boolean {
    return this.nextOffset > this.durableEnd;
  }

  private segmentAt(base: number): Segment | undefined {
    return this.segments.find((s) => s.base === base);
  }

  /** A cursor at `offset`, clamped to what the log holds. */
  async seek(offset: number): Promise<Cursor> {
    const first = this.segments[0]!;
    if (offset <= first.base) return { base: first.base, pos: 0, offset: first.base };
    if (offset >= this.durableEnd) {
      const last = this.segments[this.segments.length - 1]!;
      return { base: last.base, pos: last.durable, offset: this.durableEnd };
    }
    let seg = first;
    for (const s of this.segments) if (s.base <= offset) seg = s;
    let cursor: Cursor = { base: seg.base, pos: 0, offset: seg.base };
    for (const [o, pos] of seg.index) {
      if (o > offset) break;
      cursor = { base: seg.base, pos, offset: o };
    }
    while (cursor.offset < offset) {
      const r = await this.read(cursor, offset - cursor.offset, READ_CHUNK);
      if (r.records.length === 0) break;
      cursor = r.next;
    }
    return cursor;
  }

  /** Byte position of a cursor in the partition's byte stream. */
  byteAt(cursor: Cursor): number {
    const seg = this.segmentAt(cursor.base);
    return seg ? seg.startByte + cursor.pos : this.segments[0]!.startByte;
  }

  /** Up to `maxRecords` records (and about `maxBytes`) from `cursor`, only durable ones. */
  async read(cursor: Cursor, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readOnce(cursor, maxRecords, maxBytes);
      } catch (err) {
        // The segment was deleted by retention between finding it and reading it: find the offset again.
        if (attempt < 3 && !this.segmentAt(cursor.base)) continue;
        throw err;
      }
    }
  }

  private async readOnce(cursor: Cursor, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    let c = cursor;
    for (;;) {
      let seg = this.segmentAt(c.base);
      if (!seg) {
        // Deleted under the cursor (retention): go on from the log's start.
        c = await this.seek(c.offset);
        seg = this.segmentAt(c.base)!;
      }
      const limit = seg.durable;
      if (c.pos >= limit) {
        const i = this.segments.indexOf(seg);
        const next = this.segments[i + 1];
        // A rolled segment is complete once synced; the last one grows.
        if (!next || seg.durable < seg.written) return { records: [], next: c };
        c = { base: next.base, pos: 0, offset: next.base };
        continue;
      }
      const fh = await (seg.reader ??= open(seg.path, 'r'));
      let want = Math.min(limit - c.pos, maxBytes);
      for (;;) {
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, c.pos);
        const decoded = decodeFrames(buf.subarray(0, bytesRead), maxRecords);
        if (decoded.records.length === 0 && decoded.stop?.reason === 'partial' && decoded.stop.needs && decoded.stop.needs > want && c.pos + decoded.stop.needs <= limit) {
          want = decoded.stop.needs; // one frame larger than maxBytes: read it alone
          continue;
        }
        if (decoded.records.length === 0 && decoded.stop?.reason === 'corrupt') {
          // Damage inside a segment (the torn tail was cut at open): skip the rest of this segment.
          const i = this.segments.indexOf(seg);
          const next = this.segments[i + 1];
          const detail = `${seg.path} at byte ${c.pos + decoded.stop.at}: ${decoded.stop.detail}`;
          if (!next) return { records: [], next: { base: seg.base, pos: limit, offset: this.durableEnd }, corrupt: detail };
          return { records: [], next: { base: next.base, pos: 0, offset: next.base }, corrupt: detail };
        }
        const records = decoded.records.filter((r) => r.offset >= c.offset && r.offset < this.durableEnd);
        const last = decoded.records[decoded.records.length - 1];
        const next: Cursor = last ? { base: seg.base, pos: c.pos + decoded.end, offset: last.offset + 1 } : c;
        if (records.length === 0 && last) {
          c = next; // only records before the cursor's offset (a seek inside a chunk): go on
          break;
        }
        return { records, next };
      }
    }
  }

  /** Deletes whole segments holding only offsets below `offset` (never the last one). */
  async deleteBefore(offset: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[1]!.base <= offset) {
      const seg = this.segments.shift()!;
      await this.closeSegment(seg);
      await rm(seg.path, { force: true });
      deleted++;
    }
    return deleted;
  }

  /** Deletes the oldest segments until at most `maxBytes` are held (never the last one). */
  async trimTo(maxBytes: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1 && this.sizeBytes > maxBytes) {
      const seg = this.segments.shift()!;
      await this.closeSegment(seg);
      await rm(seg.path, { force: true });
      deleted++;
    }
    return deleted;
  }

  private async closeSegment(seg: Segment): Promise<void> {
    const writer = seg.writer;
    seg.writer = undefined;
    await writer?.close().catch(() => undefined);
    const reader = await seg.reader?.catch(() => undefined);
    await reader?.close().catch(() => undefined);
    seg.reader = undefined;
  }

  async close(): Promise<void> {
    await this.sync().catch(() => undefined);
    for (const seg of this.segments) await this.closeSegment(seg);
  }
}

/** The end of the valid frames of a segment file and the offset after its last record. */
async function scanEnd(path: string, base: number): Promise<{ end: number; next: number; index: [number, number][] }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let pos = 0;
    let next = base;
    let want = READ_CHUNK;
    const seg = { index: [] as [number, number][] } as Segment;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(want, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      const decoded = decodeFrames(buf.subarray(0, bytesRead));
      const last = decoded.records[decoded.records.length - 1];
      if (last) next = last.offset + 1;
      // Positions of frames in this chunk: the first one's is `pos`; index about every INDEX_EVERY bytes.
      if (decoded.records[0]) indexAt(seg, decoded.records[0].offset, pos);
      pos += decoded.end;
      if (decoded.stop) {
        if (decoded.stop.reason === 'partial' && decoded.records.length === 0 && decoded.stop.needs && pos + decoded.stop.needs <= size && decoded.stop.needs > want) {
          want = decoded.stop.needs;
          continue;
        }
        if (decoded.stop.reason === 'corrupt' || decoded.records.length === 0) break;
      }
      want = READ_CHUNK;
      if (bytesRead < FRAME_HEADER_BYTES && decoded.records.length === 0) break;
    }
    return { end: pos, next, index: seg.index };
  } finally {
    await fh.close();
  }
}
