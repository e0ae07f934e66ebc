import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import { glob } from 'tinyglobby';
import { backoffDelay, logger, sleep } from '@vigil/platform';
import type { LogRecordInput } from '../../plugin.js';
import { CheckpointStore, pruneCheckpoints, type CheckpointEntry } from './checkpoint.js';
import { changeAt, fingerprintOf, startOffset, type Fingerprint, type Known } from './fingerprint.js';
import { LineSplitter } from './lines.js';
import { MultilineAssembler } from './multiline.js';
import type { LineEncoding } from './text.js';

const log = logger('collector.file');

/** Bytes read per read(2); large enough that catching up on a big file is cheap in calls. */
const CHUNK_BYTES = 256 * 1024;
/** A batch never holds more line bytes than this: the shipper may put several requests in one Kafka record batch, and the broker takes at most 1 MiB per batch by default. */
const MAX_BATCH_BYTES = 128 * 1024;
/** Batches handed to the shipper and not yet acknowledged; reading pauses beyond this. */
const MAX_IN_FLIGHT = 4;
/** Files that went away are remembered this long (and at most this many), in case they come back. */
const FORGET_AFTER_MS = 24 * 3600_000;
const MAX_REMEMBERED = 1000;

export interface TailerOptions {
  include: string[];
  exclude: string[];
  startAt: 'end' | 'beginning';
  pollInterval: number;
  /** How often the globs are expanded to find new files; known files are checked every poll. */
  refreshInterval: number;
  fingerprintBytes: number;
  maxLineBytes: number;
  encoding: LineEncoding;
  multiline?: { startPattern: RegExp; flushTimeout: number; maxLines: number };
  attributes: Record<string, string>;
  batchSize: number;
  batchWait: number;
  rotateWait: number;
  forceFlushPeriod: number;
  /** Turns a line (with its file's attributes) into a record: the shared parser. Absent: the line is the body, severity unset. */
  parse?: (text: string, attributes: Attributes) => LogRecordInput;
}

export interface TailerSink {
  logs(records: LogRecordInput[]): Promise<void>;
  stateDir(): Promise<string>;
}

/** Running totals, for metrics and health. */
export interface TailerStats {
  linesRead: number;
  recordsShipped: number;
  truncated: number;
  rotations: number;
  sendFailures: number;
  openFiles: number;
  lastError?: string;
}

interface Mark {
  gen: number;
  end: number;
}

interface Batch {
  records: LogRecordInput[];
  bytes: number;
  marks: Map<FileReader, Mark>;
  started: number;
}

/** One open file being read: its descriptor stays open across renames, so a rotated file is read to its end. */
class FileReader {
  readonly splitter: LineSplitter;
  readonly multiline?: MultilineAssembler;
  /** Every byte before this is acknowledged downstream. */
  committed: number;
  /** Bumped when the file is truncated, so acknowledgements for the old content are ignored. */
  gen = 0;
  attrs!: Attributes;
  truncatedAttrs!: Attributes;
  lastSize: number;
  lastGrowth: number;
  /** When its path stopped leading to it (renamed away or deleted); it is drained, then closed. */
  goneSince: number | undefined;
  seen = true;

  constructor(
    public path: string,
    readonly fd: FileHandle,
    readonly dev: number,
    readonly ino: number,
    public fingerprint: Fingerprint,
    offset: number,
    size: number,
    now: number,
    opts: TailerOptions,
  ) {
    this.splitter = new LineSplitter(opts.maxLineBytes, opts.encoding, offset);
    if (opts.multiline) this.multiline = new MultilineAssembler({ ...opts.multiline, maxChars: opts.maxLineBytes });
    this.committed = offset;
    this.lastSize = size;
    this.lastGrowth = now;
    this.setPath(path, opts.attributes);
  }

  /**
   * Attribute objects are shared by every record of the file, not copied per line; frozen, so the
   * OTLP encoder encodes each once (records/logs-encoder.ts).
   */
  setPath(path: string, base: Record<string, string>): void {
    this.path = path;
    this.attrs = Object.freeze(Object.assign({}, base, { 'log.file.path': path, 'log.file.name': basename(path) }));
    this.truncatedAttrs = Object.freeze(Object.assign({}, this.attrs, { 'log.truncated': true }));
  }

  /** Offset of the first byte not yet part of an emitted record. */
  get lineStart(): number {
    return this.splitter.offset - this.splitter.pending;
  }

  known(): Known {
    return { fingerprint: this.fingerprint, offset: this.lineStart, dev: this.dev, ino: this.ino };
  }
}

/**
 * Tails the files matching `include` by polling: finds them by glob, follows each by its
 * fingerprint (see fingerprint.ts) through renames and truncation, splits lines, joins multiline
 * records, ships batches, and checkpoints each file's offset once its records are acknowledged.
 */
export class Tailer {
  readonly stats: TailerStats = { linesRead: 0, recordsShipped: 0, truncated: 0, rotations: 0, sendFailures: 0, openFiles: 0 };
  private readonly readers: FileReader[] = [];
  private readonly byInode = new Map<string, FileReader>();
  /** Closed readers and entries of the last run not matched yet: kept in the checkpoint until forgotten. */
  private retired: { reader: FileReader; at: number }[] = [];
  private prior: CheckpointEntry[] = [];
  private store: CheckpointStore | undefined;
  private batch: Batch = Tailer.newBatch();
  private inFlight: Promise<void>[] = [];
  private acked: Promise<void> = Promise.resolve();
  private broken = false;
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private readonly head: Buffer;
  private readonly abort = new AbortController();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private firstScan = true;
  private lastRefresh = 0;

  constructor(
    private readonly opts: TailerOptions,
    private readonly sink: TailerSink,
    private readonly now: () => number = Date.now,
  ) {
    this.head = Buffer.alloc(opts.fingerprintBytes);
  }

  private static newBatch(): Batch {
    return { records: [], bytes: 0, marks: new Map(), started: 0 };
  }

  async start(signal?: AbortSignal): Promise<void> {
    this.store = new CheckpointStore(await this.sink.stateDir());
    try {
      this.prior = await this.store.load();
    } catch (err) {
      // A damaged checkpoint must not stop collection; files then start per `startAt`.
      log.warn({ err: (err as Error).message }, 'could not read the file checkpoints; starting without them');
    }
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    await this.poll();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await sleep(this.opts.pollInterval, this.abort.signal);
      if (this.abort.signal.aborted) break;
      await this.poll();
    }
  }

  /** One round: find files, read what is new, flush what has waited long enough. */
  async poll(): Promise<void> {
    try {
      if (this.now() - this.lastRefresh >= this.opts.refreshInterval || !(await this.checkKnown())) await this.scan();
      for (const r of this.readers) await this.read(r);
      this.flushIdle();
      await this.closeDrained();
      if (this.batch.records.length > 0 && this.now() - this.batch.started >= this.opts.batchWait) this.dispatch();
    } catch (err) {
      this.stats.lastError = (err as Error).message;
      log.warn({ err: (err as Error).message }, 'file tailing round failed; retrying at the next poll');
    }
    this.stats.openFiles = this.readers.length;
  }

  /**
   * Between glob expansions, known files are checked by their path alone (a stat each, far
   * cheaper than a glob). Returns false when a path leads elsewhere now (a rotation), so the
   * globs are expanded at once and the new file is found without waiting.
   */
  private async checkKnown(): Promise<boolean> {
    let settled = true;
    for (const r of this.readers) {
      // A rotation under way: look for the file that replaces it at every poll.
      if (r.goneSince !== undefined) {
        settled = false;
        continue;
      }
      let st;
      try {
        st = await stat(r.path);
      } catch {
        settled = false;
        continue;
      }
      // Another file at the path, or this one truncated (copy-truncate): a full scan handles it,
      // new files first, so a rotated copy resumes where this reader is.
      if (st.dev !== r.dev || st.ino !== r.ino) {
        settled = false;
        continue;
      }
      const { change, head } = await this.inspect(r, st.size);
      if (change === 'truncated') {
        settled = false;
        continue;
      }
      r.seen = false;
      await this.revisit(r, r.path, st.size, head);
    }
    return settled;
  }

  /** Whether a known file grew or was truncated; reads its first bytes only when its size changed or its fingerprint is short. */
  private async inspect(r: FileReader, size: number): Promise<{ change: 'same' | 'truncated'; head: Buffer | undefined }> {
    if (size === r.lastSize && r.fingerprint.length >= this.opts.fingerprintBytes) return { change: 'same', head: undefined };
    const head = size > 0 ? Buffer.from(await this.readHead(r.fd)) : Buffer.alloc(0);
    const change = changeAt({ dev: r.dev, ino: r.ino, offset: r.splitter.offset, fingerprint: r.fingerprint }, { dev: r.dev, ino: r.ino, size }, head);
    return { change: change === 'truncated' ? 'truncated' : 'same', head };
  }

  private async scan(): Promise<void> {
    this.lastRefresh = this.now();
    const paths = await glob(this.opts.include, { ignore: this.opts.exclude, absolute: true, onlyFiles: true, dot: true, followSymbolicLinks: true });
    const now = this.now();
    for (const r of this.readers) r.seen = false;
    const found: { path: string; size: number; reader: FileReader | undefined }[] = [];
    for (const path of paths) {
      try {
        const st = await stat(path);
        if (st.isFile()) found.push({ path, size: st.size, reader: this.byInode.get(`${st.dev}:${st.ino}`) });
      } catch {
        // gone between the glob and the stat
      }
    }
    // New files first: a copy (copy-truncate's `app.log.1`) then resumes where the original's
    // reader is, before that reader notices the truncation and starts over.
    for (const f of found) if (!f.reader) await this.discover(f.path, now);
    for (const f of found) if (f.reader) await this.revisit(f.reader, f.path, f.size);
    for (const r of this.readers) {
      if (r.seen || r.goneSince !== undefined) continue;
      r.goneSince = now;
      this.stats.rotations++;
      log.debug({ path: r.path }, 'file renamed away or deleted; reading it to its end');
    }
    this.firstScan = false;
  }

  /** A file we already read, found again (maybe under a new name): check for truncation. */
  private async revisit(r: FileReader, path: string, size: number, inspected?: Buffer): Promise<void> {
    if (r.seen) return; // two matching paths (hard links) for one file
    r.seen = true;
    r.goneSince = undefined;
    if (r.path !== path) r.setPath(path, this.opts.attributes);
    const { change, head } = inspected ? { change: 'same' as const, head: inspected } : await this.inspect(r, size);
    if (!head) return;
    if (change === 'truncated') {
      this.stats.rotations++;
      log.debug({ path: r.path }, 'file truncated (copy-truncate); reading it again from the start');
      // Complete lines already read still belong to the old content: ship them; an unfinished one is lost with it.
      this.emitAssembled(r, r.multiline?.flush(this.now(), true));
      r.splitter.reset(0);
      r.gen++;
      r.committed = 0;
      r.fingerprint = fingerprintOf(head, this.opts.fingerprintBytes);
    } else if (head.length > r.fingerprint.length && r.fingerprint.length < this.opts.fingerprintBytes) {
      r.fingerprint = fingerprintOf(head, this.opts.fingerprintBytes);
    }
    r.lastSize = size;
  }

  private async discover(path: string, now: number): Promise<void> {
    let fd: FileHandle;
    try {
      fd = await open(path, 'r');
    } catch (err) {
      this.stats.lastError = `${path}: ${(err as Error).message}`;
      return;
    }
    try {
      const st = await fd.stat();
      const head = await this.readHead(fd);
      // Nothing to know it by yet: look again when it has content (it is then read from its start).
      if (head.length === 0) return void (await fd.close());
      const known: Known[] = [];
      for (const r of this.readers) if (r.fingerprint.length > 0) known.push(r.known());
      for (const e of this.prior) known.push(e);
      for (const { reader } of this.retired) known.push({ fingerprint: reader.fingerprint, offset: reader.committed, dev: reader.dev, ino: reader.ino });
      const { offset, resumed } = startOffset(head, st, known, this.firstScan && this.opts.startAt === 'end');
      if (resumed) {
        this.prior = this.prior.filter((e) => e !== resumed);
        this.retired = this.retired.filter((x) => x.reader.fingerprint !== resumed.fingerprint);
      }
      const r = new FileReader(path, fd, st.dev, st.ino, fingerprintOf(head, this.opts.fingerprintBytes), offset, st.size, now, this.opts);
      this.readers.push(r);
      this.byInode.set(`${st.dev}:${st.ino}`, r);
      log.debug({ path, offset, resumed: resumed !== undefined }, 'tailing file');
    } catch (err) {
      await fd.close().catch(() => undefined);
      throw err;
    }
  }

  private async readHead(fd: FileHandle): Promise<Buffer> {
    const { bytesRead } = await fd.read(this.head, 0, this.head.length, 0);
    return this.head.subarray(0, bytesRead);
  }

  /** Reads from the reader's offset to the end of the file, pausing while too many batches are unacknowledged. */
  private async read(r: FileReader): Promise<void> {
    const sink = (text: string, end: number, truncated: boolean) => this.line(r, text, end, truncated);
    for (;;) {
      if (this.abort.signal.aborted) return;
      const { bytesRead } = await r.fd.read(this.chunk, 0, CHUNK_BYTES, r.splitter.offset);
      if (bytesRead === 0) return;
      r.lastGrowth = this.now();
      r.splitter.push(this.chunk, 0, bytesRead, sink);
      if (r.splitter.offset > r.lastSize) r.lastSize = r.splitter.offset;
      if (bytesRead < CHUNK_BYTES) return;
      while (this.inFlight.length >= MAX_IN_FLIGHT) await this.inFlight[0];
    }
  }

  private line(r: FileReader, text: string, end: number, truncated: boolean): void {
    this.stats.linesRead++;
    if (truncated) this.stats.truncated++;
    if (r.multiline) {
      this.emitAssembled(r, r.multiline.push(text, end, truncated, this.now()));
      return;
    }
    if (text.length === 0) return this.mark(r, end); // blank lines carry nothing
    this.emit(r, text, end, truncated);
  }

  private emitAssembled(r: FileReader, a: { text: string; end: number; truncated: boolean } | undefined): void {
    if (a) this.emit(r, a.text, a.end, a.truncated);
  }

  private emit(r: FileReader, text: string, end: number, truncated: boolean): void {
    const attributes = truncated ? r.truncatedAttrs : r.attrs;
    const record: LogRecordInput = this.opts.parse ? this.opts.parse(text, attributes) : { body: text, attributes };
    const b = this.batch;
    if (b.records.length === 0) b.started = this.now();
    b.records.push(record);
    b.bytes += text.length;
    this.mark(r, end);
    if (b.records.length >= this.opts.batchSize || b.bytes >= MAX_BATCH_BYTES) this.dispatch();
  }

  private mark(r: FileReader, end: number): void {
    const m = this.batch.marks.get(r);
    if (m && m.gen === r.gen) m.end = end;
    else this.batch.marks.set(r, { gen: r.gen, end });
  }

  /** Emits multiline records and unfinished lines that have waited long enough. */
  private flushIdle(): void {
    const now = this.now();
    for (const r of this.readers) {
      if (r.multiline) this.emitAssembled(r, r.multiline.flush(now));
      if (this.opts.forceFlushPeriod > 0 && r.splitter.pending > 0 && now - r.lastGrowth >= this.opts.forceFlushPeriod) {
        r.splitter.flush((text, end, truncated) => this.line(r, text, end, truncated));
        if (r.multiline) this.emitAssembled(r, r.multiline.flush(now, true));
      }
    }
  }

  /**
   * Closes renamed-away or deleted files once quiet for `rotateWait` and read to their end: each is
   * read once more right before, so lines a writer added since the round's read (a writer that
   * paused past rotateWait, or a round that stalled) are not lost with the descriptor.
   */
  private async closeDrained(): Promise<void> {
    const now = this.now();
    for (let i = this.readers.length - 1; i >= 0; i--) {
      const r = this.readers[i]!;
      if (r.goneSince === undefined || now - r.lastGrowth < this.opts.rotateWait || now - r.goneSince < this.opts.rotateWait) continue;
      const before = r.splitter.offset;
      await this.read(r);
      if (r.splitter.offset !== before || this.readers[i] !== r) continue;
      r.splitter.flush((text, end, truncated) => this.line(r, text, end, truncated));
      this.emitAssembled(r, r.multiline?.flush(now, true));
      this.readers.splice(i, 1);
      this.byInode.delete(`${r.dev}:${r.ino}`);
      this.retired.push({ reader: r, at: now });
      void r.fd.close().catch(() => undefined);
      log.debug({ path: r.path }, 'rotated file read to its end; closed');
    }
  }

  /** Hands the current batch to the shipper; its offsets are applied, in order, once it is acknowledged. */
  private dispatch(): void {
    const b = this.batch;
    this.batch = Tailer.newBatch();
    // Offsets marked by blank lines only travel with the next batch that has records.
    if (b.records.length === 0) {
      for (const [r, m] of b.marks) this.batch.marks.set(r, m);
      return;
    }
    const sent = this.send(b.records).then(
      () => undefined,
      (err: Error) => err,
    );
    const done = this.acked
      .then(() => sent)
      .then((failed) => {
        // A batch that never went out: later batches must not move offsets past it.
        if (failed) this.broken = true;
        if (this.broken) return;
        this.stats.recordsShipped += b.records.length;
        for (const [r, m] of b.marks) if (r.gen === m.gen && m.end > r.committed) r.committed = m.end;
        void this.saveCheckpoints();
      });
    this.acked = done;
    this.inFlight.push(done);
    void done.then(() => this.inFlight.splice(this.inFlight.indexOf(done), 1));
  }

  private async send(records: LogRecordInput[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sink.logs(records);
        return;
      } catch (err) {
        this.stats.sendFailures++;
        this.stats.lastError = (err as Error).message;
        if (this.stopping || this.abort.signal.aborted) throw err;
        log.warn({ records: records.length, attempt, err: (err as Error).message }, 'could not hand log lines to the shipper; retrying');
        await sleep(backoffDelay(attempt, 500, 30_000), this.abort.signal);
      }
    }
  }

  private saveCheckpoints(): Promise<void> {
    if (!this.store) return Promise.resolve();
    return this.store
      .save(() => this.checkpoints())
      .catch((err: Error) => {
        this.stats.lastError = err.message;
        log.warn({ err: err.message }, 'could not write the file checkpoints');
      });
  }

  /** What the checkpoint file holds now: every open file, then those remembered. */
  checkpoints(): CheckpointEntry[] {
    const now = this.now();
    const open = this.readers
      .filter((r) => r.fingerprint.length > 0)
      .map((r) => ({ path: r.path, fingerprint: r.fingerprint, offset: r.committed, dev: r.dev, ino: r.ino, seen: now }));
    const remembered = this.retired
      .map(({ reader: r, at }) => ({ path: r.path, fingerprint: r.fingerprint, offset: r.committed, dev: r.dev, ino: r.ino, seen: at }))
      .concat(this.prior);
    const kept = pruneCheckpoints(remembered, now, FORGET_AFTER_MS, MAX_REMEMBERED);
    if (kept.length < remembered.length) {
      const keep = new Set(kept.map((e) => e.fingerprint));
      this.retired = this.retired.filter((x) => keep.has(x.reader.fingerprint));
      this.prior = this.prior.filter((e) => keep.has(e.fingerprint));
    }
    return open.concat(kept);
  }

  /** Stops polling, ships what is read (one attempt), writes the checkpoints and closes the files. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.loop;
    // Records still waiting for more lines are not shipped: their offsets are not committed, so the next start reads them again.
    if (this.batch.records.length > 0) this.dispatch();
    await this.acked;
    await this.saveCheckpoints();
    for (const r of this.readers.splice(0)) await r.fd.close().catch(() => undefined);
    this.byInode.clear();
    this.stats.openFiles = 0;
  }
}

