import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '@vigil/platform';
import { planDrops, segmentBytesFor, segmentFileName, segmentIdOf, type SegmentInfo } from './policy.js';
import { decodeFrames, encodeRecord, type SpoolRecord } from './segment.js';

const log = logger('collector.spool');

export interface SpoolOptions {
  dir: string;
  /** Cap on the files' total size; when a write would pass it, the oldest segments are deleted. */
  maxBytes: number;
  /** Default: an eighth of maxBytes (see segmentBytesFor). */
  segmentBytes?: number;
  /** Called for every loss: records (points, log records), frames and bytes dropped. */
  onDrop?: (lost: DropCount) => void;
}

export interface DropCount {
  records: number;
  entries: number;
  bytes: number;
}

export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpoolBatch {
  records: SpoolRecord[];
  /** Where the head goes once these are delivered (pass the batch to `commit`). */
  next: SpoolPosition;
  items: number;
}

interface Segment extends SegmentInfo {
  /** Frames and records before the head (only the head segment has any). */
  consumedEntries: number;
  consumedItems: number;
}

interface PendingAppend {
  frames: Buffer[];
  items: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const HEAD_FILE = 'head.json';
const READ_BYTES = 1024 * 1024;

/**
 * A bounded, append-only on-disk queue of records: segment files of CRC-checked frames (see
 * segment.ts) and a head pointer file saying how far delivery got. Appends are written and
 * fsync'd in groups (everything handed over while the previous write ran), in call order. The
 * spool survives restarts: `open` rescans the segments, cuts a torn last frame and resumes
 * at the head. One process owns a spool directory at a time.
 */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  private head: SpoolPosition = { segment: 1, offset: 0 };
  private writeFd: FileHandle | undefined;
  private pending: PendingAppend[] = [];
  private writer: Promise<void> | undefined;
  private headWrite: Promise<void> = Promise.resolve();
  private readonly segmentBytes: number;
  private readonly unreported: DropCount = { records: 0, entries: 0, bytes: 0 };
  private closed = false;

  private constructor(private readonly opts: SpoolOptions) {
    this.segmentBytes = opts.segmentBytes ?? segmentBytesFor(opts.maxBytes);
  }

  static async open(opts: SpoolOptions): Promise<DiskSpool> {
    const spool = new DiskSpool(opts);
    await spool.load();
    return spool;
  }

  /** Bytes of records not yet delivered. */
  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n - this.head.offset;
  }

  /** Records (points, log records) not yet delivered. */
  get records(): number {
    let n = 0;
    for (const s of this.segments) n += s.items - s.consumedItems;
    return n;
  }

  /** Frames (export requests) not yet delivered. */
  get entries(): number {
    let n = 0;
    for (const s of this.segments) n += s.entries - s.consumedEntries;
    return n;
  }

  /** Appends handed over and not yet on disk. */
  get appending(): number {
    return this.pending.length + (this.writer ? 1 : 0);
  }

  /** Losses since the last call (for the one warning event once delivery resumes). */
  takeDropped(): DropCount {
    const d = { ...this.unreported };
    this.unreported.records = this.unreported.entries = this.unreported.bytes = 0;
    return d;
  }

  /** Resolves once the records are on disk (or were dropped and counted because they alone exceed the cap). */
  append(records: SpoolRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the spool in ${this.opts.dir} is closed`));
    if (records.length === 0) return Promise.resolve();
    const frames = records.map(encodeRecord);
    let items = 0;
    for (const r of records) items += r.count;
    return new Promise((resolve, reject) => {
      this.pending.push({ frames, items, resolve, reject });
      this.startWriter();
    });
  }

  private startWriter(): void {
    if (this.writer) return;
    this.writer = this.writeLoop().finally(() => {
      this.writer = undefined;
      // An append may have arrived after the loop saw an empty list but before this ran.
      if (this.pending.length > 0) this.startWriter();
    });
  }

  /** Up to `maxEntries` records from the head, in order; undefined when nothing is waiting. */
  async read(maxEntries: number): Promise<SpoolBatch | undefined> {
    await this.collectConsumed();
    const seg = this.segments[0];
    if (!seg || this.head.offset >= seg.bytes) return undefined;
    const from = this.head.offset;
    let want = Math.min(READ_BYTES, seg.bytes - from);
    const fd = await open(join(this.opts.dir, segmentFileName(seg.id)), 'r');
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fd.read(buf, 0, want, from);
        const decoded = decodeFrames(buf.subarray(0, bytesRead), maxEntries);
        if (decoded.frames.length === 0 && decoded.stop?.reason === 'partial' && decoded.stop.need > want && from + decoded.stop.need <= seg.bytes) {
          want = decoded.stop.need;
          continue;
        }
        if (decoded.frames.length === 0) {
          // Written and checked by us, so this is damage on disk: skip the rest of the segment, counted.
          const detail = decoded.stop?.reason === 'corrupt' ? decoded.stop.detail : 'unreadable';
          log.error({ segment: segmentFileName(seg.id), detail }, 'spool segment damaged; its remaining records are dropped');
          this.lose({ records: seg.items - seg.consumedItems, entries: seg.entries - seg.consumedEntries, bytes: seg.bytes - from });
          seg.consumedEntries = seg.entries;
          seg.consumedItems = seg.items;
          this.head = { segment: seg.id, offset: seg.bytes };
          await this.collectConsumed();
          return this.read(maxEntries);
        }
        let items = 0;
        for (const f of decoded.frames) items += f.record.count;
        return { records: decoded.frames.map((f) => f.record), next: { segment: seg.id, offset: from + decoded.validBytes }, items };
      }
    } finally {
      await fd.close();
    }
  }

  /** Moves the head past a delivered batch. A batch whose segment was dropped meanwhile is ignored. */
  async commit(batch: SpoolBatch): Promise<void> {
    const seg = this.segments[0];
    if (!seg || batch.next.segment !== seg.id || batch.next.offset <= this.head.offset) return;
    this.head = { segment: seg.id, offset: batch.next.offset };
    seg.consumedEntries += batch.records.length;
    seg.consumedItems += batch.items;
    await this.collectConsumed();
    await this.saveHead();
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.writer) await this.writer;
    await this.headWrite;
    await this.writeFd?.close();
    this.writeFd = undefined;
  }

  private async load(): Promise<void> {
    const dir = this.opts.dir;
    await mkdir(dir, { recursive: true });
    const ids = (await readdir(dir))
      .map(segmentIdOf)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b);
    const saved = await readFile(join(dir, HEAD_FILE), 'utf8')
      .then((t) => JSON.parse(t) as SpoolPosition)
      .catch(() => undefined);
    const head: SpoolPosition =
      saved && Number.isInteger(saved.segment) && Number.isInteger(saved.offset) && saved.offset >= 0 ? saved : { segment: ids[0] ?? 1, offset: 0 };
    for (const id of ids) {
      const path = join(dir, segmentFileName(id));
      if (id < head.segment) {
        await unlink(path);
        continue;
      }
      const buf = await readFile(path);
      const decoded = decodeFrames(buf);
      if (decoded.validBytes < buf.length) {
        // A torn last frame (a crash mid-write) or damage: keep what is whole, cut the rest.
        log.warn({ segment: segmentFileName(id), keptBytes: decoded.validBytes, cutBytes: buf.length - decoded.validBytes, why: decoded.stop?.reason }, 'spool segment had an incomplete tail; cut it');
        const fd = await open(path, 'r+');
        await fd.truncate(decoded.validBytes);
        await fd.close();
      }
      const seg: Segment = { id, bytes: decoded.validBytes, entries: decoded.frames.length, items: 0, consumedEntries: 0, consumedItems: 0 };
      for (const f of decoded.frames) {
        seg.items += f.record.count;
        if (id === head.segment && f.end <= head.offset) {
          seg.consumedEntries++;
          seg.consumedItems += f.record.count;
        }
      }
      this.segments.push(seg);
    }
    const first = this.segments[0];
    if (first && first.id === head.segment) {
      // The head sits on a frame boundary (never past the good bytes).
      let offset = 0;
      for (const f of decodeFrames(await readFile(join(dir, segmentFileName(first.id)))).frames) if (f.end <= head.offset) offset = f.end;
      this.head = { segment: first.id, offset };
    } else {
      this.head = { segment: first?.id ?? head.segment, offset: 0 };
    }
    if (this.segments.length === 0) this.segments.push({ id: this.head.segment, bytes: 0, entries: 0, items: 0, consumedEntries: 0, consumedItems: 0 });
    this.writeFd = await open(join(dir, segmentFileName(this.segments[this.segments.length - 1]!.id)), 'a');
    await this.collectConsumed();
    if (this.entries > 0) log.info({ dir, records: this.records, bytes: this.bytes }, 'spool has records from before; they are sent first');
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0);
      const frames = group.flatMap((p) => p.frames);
      let bytes = 0;
      let items = 0;
      for (const f of frames) bytes += f.length;
      for (const p of group) items += p.items;
      let current = this.segments[this.segments.length - 1]!;
      try {
        if (current.bytes > 0 && current.bytes + bytes > this.segmentBytes) current = await this.roll();
        const plan = planDrops(this.segments, bytes, this.opts.maxBytes);
        if (plan.segments > 0) await this.dropOldest(plan.segments);
        if (plan.incoming) {
          this.lose({ records: items, entries: frames.length, bytes });
        } else {
          try {
            await this.writeFd!.write(Buffer.concat(frames, bytes));
            await this.writeFd!.datasync();
          } catch (err) {
            // Leave no partial frame behind for the next append to follow.
            await this.writeFd!.truncate(current.bytes).catch(() => undefined);
            throw err;
          }
          current.bytes += bytes;
          current.entries += frames.length;
          current.items += items;
        }
        for (const p of group) p.resolve();
      } catch (err) {
        const e = new Error(`could not write ${frames.length} records to the spool in ${this.opts.dir}: ${(err as Error).message} (check free space and permissions)`);
        for (const p of group) p.reject(e);
      }
    }
  }

  private async roll(): Promise<Segment> {
    const last = this.segments[this.segments.length - 1]!;
    const seg: Segment = { id: last.id + 1, bytes: 0, entries: 0, items: 0, consumedEntries: 0, consumedItems: 0 };
    const fd = await open(join(this.opts.dir, segmentFileName(seg.id)), 'a');
    await this.writeFd?.close();
    this.writeFd = fd;
    this.segments.push(seg);
    await this.collectConsumed();
    return seg;
  }

  private async dropOldest(n: number): Promise<void> {
    const lost: DropCount = { records: 0, entries: 0, bytes: 0 };
    for (let i = 0; i < n && this.segments.length > 1; i++) {
      const seg = this.segments.shift()!;
      lost.records += seg.items - seg.consumedItems;
      lost.entries += seg.entries - seg.consumedEntries;
      lost.bytes += seg.bytes - (seg.id === this.head.segment ? this.head.offset : 0);
      await unlink(join(this.opts.dir, segmentFileName(seg.id))).catch(() => undefined);
    }
    this.head = { segment: this.segments[0]!.id, offset: 0 };
    this.lose(lost);
    await this.saveHead();
  }

  private lose(lost: DropCount): void {
    if (lost.entries === 0 && lost.bytes === 0) return;
    this.unreported.records += lost.records;
    this.unreported.entries += lost.entries;
    this.unreported.bytes += lost.bytes;
    log.warn({ dir: this.opts.dir, ...lost }, 'spool full: dropped the oldest records');
    this.opts.onDrop?.(lost);
  }

  /** Deletes fully delivered segments other than the one being written. */
  private async collectConsumed(): Promise<void> {
    let removed = false;
    while (this.segments.length > 1 && this.segments[0]!.id === this.head.segment && this.head.offset >= this.segments[0]!.bytes) {
      const seg = this.segments.shift()!;
      await unlink(join(this.opts.dir, segmentFileName(seg.id))).catch(() => undefined);
      this.head = { segment: this.segments[0]!.id, offset: 0 };
      removed = true;
    }
    if (removed) await this.saveHead();
  }

  private saveHead(): Promise<void> {
    const tmp = join(this.opts.dir, `${HEAD_FILE}.tmp`);
    // Chained, so two saves never write the temp file at once; each writes the head as it is then.
    this.headWrite = this.headWrite
      .then(async () => {
        await writeFile(tmp, JSON.stringify(this.head));
        await rename(tmp, join(this.opts.dir, HEAD_FILE));
      })
      .catch((err: Error) => log.warn({ err: err.message, dir: this.opts.dir }, 'could not save the spool head (records may be sent twice after a restart)'));
    return this.headWrite;
  }
}

/** Size of a spool directory's segment files (for tests and diagnostics). */
export async function spoolDiskBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) if (segmentIdOf(f) !== undefined) n += (await stat(join(dir, f))).size;
  return n;
}
