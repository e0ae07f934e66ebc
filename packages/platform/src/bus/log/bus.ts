import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Batch, Bus, BusProducer, BusRecord, ConsumedRecord, FollowOptions, Follower, SubscribeOptions, Subscription, SubscriptionProgress, TopicPartition, TopicSpec } from '../types.js';
import { partitionFor } from '../memory.js';
import { backoffDelay, sleep } from '../../backoff.js';
import { runFollower } from '../follower.js';
import { logger } from '../../log.js';
import { PartitionLog, type Cursor } from './partition.js';
import { untilDrained } from '../drain.js';
import { runBatch } from '../batch.js';

export interface LogBusOptions {
  /** Where the log lives (`<dataDir>/bus`). */
  dir: string;
  /** Partitions of topics created here (an existing topic keeps its own). */
  partitions: number;
  /** A segment file is rolled past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Records per batch handed to a consumer. Default 5,000. */
  maxBatch?: number;
  /** About this many bytes per batch handed to a consumer. Default 8 MiB. */
  maxBatchBytes?: number;
  /** What a topic no consumer group reads keeps (the dead-letter topic, in the all-in-one). Default 256 MiB. */
  unreadBytes?: number;
  /** Committed offsets are written at most this often (and at stop). Default 200 ms. */
  commitIntervalMs?: number;
}

interface GroupState {
  /** Committed offsets, `topic:partition` → next offset to read. */
  offsets: Record<string, number>;
  active: boolean;
  dirty: boolean;
  /** Cursors after the last committed batch of the running subscription, for lag in bytes. */
  cursors: Map<string, Cursor>;
  progress: { lastCommitAt: number; failing?: { since: number; error: string; attempts: number } };
}

const log = logger('bus.local');
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,200}$/;
/** Marks a topic directory as compacted (a changelog). */
const COMPACT_MARKER = 'compact';
/** Segments of compacted topics are small, so what compaction supersedes can be deleted soon. */
const COMPACT_SEGMENT_BYTES = 256 * 1024;
/** A compacted partition is compacted once it holds this many records and more than twice its live keys. */
const COMPACT_MIN_RECORDS = 1_000;

/** Per partition of a compacted topic: where each key's latest record is. */
interface CompactState {
  latest: Map<string, { offset: number; live: boolean }>;
  live: number;
  compacting: boolean;
}

interface FollowerState {
  topic: string;
  /** Next offset per partition. */
  next: number[];
}

/**
 * The all-in-one process's bus: Kafka's semantics on a durable local log under the data
 * directory. Topics have partitions (records keyed as Kafka's clients key them stay in one);
 * each partition is a run of checksummed segment files (`partition.ts`); a send resolves once its
 * records are synced to disk (fsync batched: every send waiting at a moment shares one), so what
 * the intake acknowledged survives SIGKILL. Consumer groups commit offsets after their handler
 * resolved; offsets are written to `groups/<group>.json` (atomically, at most every
 * `commitIntervalMs`, and at stop), so a restart continues where it stopped and never from 0: a
 * crash replays at most the last moments, which the handlers take idempotently. Segments that
 * every group reading a topic has passed are deleted.
 */
export class LogBus implements Bus {
  readonly kind = 'local' as const;
  private readonly partitions = new Map<string, PartitionLog[]>();
  private readonly opening = new Map<string, Promise<PartitionLog[]>>();
  private readonly groups = new Map<string, GroupState>();
  /** Groups that ever read a topic (from their offset files): their offsets hold its segments. */
  private readonly readers = new Map<string, Set<string>>();
  /** Compacted topics: per partition, each key's latest record (compaction copies those forward). */
  private readonly compacted = new Map<string, CompactState[]>();
  private readonly followers = new Set<FollowerState>();
  private waiters: (() => void)[] = [];
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private closed = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private rr = 0;

  constructor(private readonly opts: LogBusOptions) {
    mkdirSync(join(opts.dir, 'topics'), { recursive: true });
    mkdirSync(join(opts.dir, 'groups'), { recursive: true });
    for (const file of readdirSync(join(opts.dir, 'groups'))) {
      if (!file.endsWith('.json')) continue;
      const group = decodeURIComponent(file.slice(0, -'.json'.length));
      const offsets = this.readOffsets(group);
      this.groups.set(group, newGroup(offsets));
      for (const tp of Object.keys(offsets)) this.addReader(tp.slice(0, tp.lastIndexOf(':')), group);
    }
  }

  private readOffsets(group: string): Record<string, number> {
    const path = this.groupFile(group);
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { offsets?: Record<string, number> };
      return parsed.offsets ?? {};
    } catch (err) {
      // Written by rename, so never half written; unreadable means damaged: start over from the log's start.
      log.error({ group, file: path, err: (err as Error).message }, 'cannot read committed offsets; this group reads its topics again from the start');
      return {};
    }
  }

  private groupFile(group: string): string {
    return join(this.opts.dir, 'groups', `${encodeURIComponent(group)}.json`);
  }

  private addReader(topic: string, group: string): void {
    let set = this.readers.get(topic);
    if (!set) this.readers.set(topic, (set = new Set()));
    set.add(group);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const t of topics) {
      const partitions = t.copartitionedWith !== undefined ? (await this.topic(t.copartitionedWith)).length : t.partitions;
      await this.topic(t.name, partitions, t.compact === true);
    }
  }

  /** The partitions of a topic, opened (and recovered) once; `compact` marks a new topic as compacted. */
  private topic(name: string, partitions = this.opts.partitions, compact = false): Promise<PartitionLog[]> {
    const open = this.partitions.get(name);
    if (open) return Promise.resolve(open);
    let opening = this.opening.get(name);
    if (!opening) {
      if (!TOPIC_NAME.test(name)) return Promise.reject(new Error(`local log: "${name}" is not a topic name (letters, digits, . _ -)`));
      opening = (async () => {
        const dir = join(this.opts.dir, 'topics', name);
        const existing = existsSync(dir) ? readdirSync(dir).filter((d) => /^\d+$/.test(d)).length : 0;
        const count = existing > 0 ? existing : partitions;
        if (existing === 0 && compact) {
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, COMPACT_MARKER), '');
        }
        const compacted = existsSync(join(dir, COMPACT_MARKER));
        const logs: PartitionLog[] = [];
        for (let p = 0; p < count; p++) {
          const { log: partition, truncatedBytes } = await PartitionLog.open(join(dir, String(p)), compacted ? COMPACT_SEGMENT_BYTES : (this.opts.segmentBytes ?? 64 * 1024 * 1024));
          if (truncatedBytes > 0) log.warn({ topic: name, partition: p, bytes: truncatedBytes }, 'cut a torn tail off the local log (records whose send never resolved)');
          logs.push(partition);
        }
        if (compacted) this.compacted.set(name, await Promise.all(logs.map((part) => keyIndex(part))));
        this.partitions.set(name, logs);
        return logs;
      })();
      this.opening.set(name, opening);
    }
    return opening;
  }

  async producer(): Promise<BusProducer> {
    return {
      send: async (topic: string, records: BusRecord[]) => {
        if (this.closed) throw new Error('the local bus is closed');
        if (records.length === 0) return;
        const parts = await this.topic(topic);
        const now = Date.now();
        const byPartition = new Map<number, BusRecord[]>();
        for (const r of records) {
          if (r.partition !== undefined && !(Number.isInteger(r.partition) && r.partition >= 0 && r.partition < parts.length)) {
            throw new Error(`local log: topic ${topic} has no partition ${r.partition} (it has ${parts.length})`);
          }
          const p = r.partition ?? partitionFor(r.key, parts.length, this.rr++);
          const list = byPartition.get(p);
          if (list) list.push(r);
          else byPartition.set(p, [r]);
        }
        const compact = this.compacted.get(topic);
        for (const [p, list] of byPartition) {
          const { first } = parts[p]!.append(list.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: now })));
          if (compact) list.forEach((r, i) => noteKey(compact[p]!, r.key, first + i, r.value.length > 0));
        }
        await this.sync();
        // Compaction runs with retention, on the commit timer.
        if (compact) this.scheduleCommit();
      },
    };
  }

  /** Group commit: one fsync round for every send waiting now; a send that comes during a round waits for the next. */
  private sync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
      if (this.syncing) this.syncAgain = true;
      else this.syncing = this.syncRounds();
    });
  }

  private async syncRounds(): Promise<void> {
    do {
      this.syncAgain = false;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      try {
        const dirty: PartitionLog[] = [];
        for (const parts of this.partitions.values()) for (const p of parts) if (p.dirty) dirty.push(p);
        await Promise.all(dirty.map((p) => p.sync()));
        this.lastError = undefined;
        for (const w of waiters) w.resolve();
        this.wake();
      } catch (err) {
        this.lastError = (err as Error).message;
        log.error({ err: this.lastError }, 'local log: could not write to disk');
        for (const w of waiters) w.reject(err as Error);
      }
    } while (this.syncAgain || this.syncWaiters.length > 0);
    this.syncing = undefined;
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    let group = this.groups.get(opts.groupId);
    if (group?.active) throw new Error(`local bus: group "${opts.groupId}" already has a consumer`);
    group ??= newGroup({});
    group.active = true;
    group.cursors.clear();
    this.groups.set(opts.groupId, group);
    const g = group;
    for (const t of opts.topics) {
      const parts = await this.topic(t);
      this.addReader(t, opts.groupId);
      parts.forEach((part, p) => {
        const key = `${t}:${p}`;
        const committed = g.offsets[key];
        if (committed === undefined) {
          // Like Kafka's "latest": pin the start now, else a new group would chase the end forever.
          g.offsets[key] = opts.fromBeginning === false ? part.durableEnd : part.startOffset;
          g.dirty = true;
        } else if (committed > part.nextOffset) {
          // The log holds less than this group read (its files were lost or replaced): read what is there.
          log.warn({ group: opts.groupId, topic: t, partition: p, committed, end: part.nextOffset }, 'committed offset is past the end of the local log; reading from its end');
          g.offsets[key] = part.nextOffset;
          g.dirty = true;
        }
      });
    }
    this.scheduleCommit();
    // One consumer per group: it owns every partition.
    const all: TopicPartition[] = [];
    for (const t of opts.topics) (await this.topic(t)).forEach((_, partition) => all.push({ topic: t, partition }));
    await opts.partitions?.assigned(all);
    const abort = new AbortController();
    const loop = this.consume(opts, g, abort.signal);
    return {
      stop: async () => {
        abort.abort();
        this.wake();
        await loop;
        await opts.partitions?.revoked(all);
        g.active = false;
        await this.writeOffsets(opts.groupId, g);
      },
      progress: () => ({ ...this.progressOf(opts, g), assigned: all }),
    };
  }

  async follow(opts: FollowOptions): Promise<Follower> {
    const parts = await this.topic(opts.topic);
    const state: FollowerState = { topic: opts.topic, next: parts.map((part) => (opts.fromBeginning ? part.startOffset : part.durableEnd)) };
    this.followers.add(state);
    const cursors = new Map<number, Cursor>();
    const follower = runFollower({
      topic: opts.topic,
      // Shared with `state`, which compaction reads: it never deletes what a follower has not read.
      next: state.next,
      read: async (p, from) => {
        const part = parts[p]!;
        let cursor = cursors.get(p);
        if (!cursor || cursor.offset !== from) cursor = await part.seek(Math.max(from, part.startOffset));
        const read = await part.read(cursor, this.opts.maxBatch ?? 5_000, this.opts.maxBatchBytes ?? 8 * 1024 * 1024);
        cursors.set(p, read.next);
        const records: ConsumedRecord[] = read.records.map((r) => ({ topic: opts.topic, partition: p, offset: String(r.offset), timestamp: r.timestamp, key: r.key, value: r.value, ...(r.headers ? { headers: r.headers } : {}) }));
        return { records, next: read.next.offset };
      },
      ends: () => parts.map((part) => part.durableEnd),
      idle: () => new Promise<void>((resolve) => this.waiters.push(resolve)),
      wake: () => this.wake(),
      handler: opts.handler,
    });
    return {
      caughtUp: () => follower.caughtUp(),
      stop: async () => {
        await follower.stop();
        this.followers.delete(state);
      },
    };
  }

  private progressOf(opts: SubscribeOptions, g: GroupState): SubscriptionProgress {
    let lag = 0;
    let lagBytes = 0;
    for (const t of opts.topics) {
      const parts = this.partitions.get(t) ?? [];
      parts.forEach((part, p) => {
        const key = `${t}:${p}`;
        lag += Math.max(0, part.durableEnd - (g.offsets[key] ?? part.startOffset));
        const cursor = g.cursors.get(key);
        if (cursor) lagBytes += Math.max(0, part.durableEndByte - part.byteAt(cursor));
      });
    }
    return { lag, lagBytes, lastCommitAt: g.progress.lastCommitAt, ...(g.progress.failing ? { failing: { ...g.progress.failing } } : {}) };
  }

  private async consume(opts: SubscribeOptions, g: GroupState, signal: AbortSignal): Promise<void> {
    const maxBatch = this.opts.maxBatch ?? 5_000;
    const maxBytes = this.opts.maxBatchBytes ?? 8 * 1024 * 1024;
    const topics = await Promise.all(opts.topics.map(async (t) => ({ topic: t, parts: await this.topic(t) })));
    let failures = 0;
    while (!signal.aborted) {
      let progressed = false;
      for (const { topic, parts } of topics) {
        for (let p = 0; p < parts.length && !signal.aborted; p++) {
          const part = parts[p]!;
          const key = `${topic}:${p}`;
          const committed = g.offsets[key] ?? part.startOffset;
          if (committed >= part.durableEnd) continue;
          let cursor = g.cursors.get(key);
          let read: Awaited<ReturnType<PartitionLog['read']>>;
          try {
            if (!cursor || cursor.offset !== committed) cursor = await part.seek(committed);
            read = await part.read(cursor, maxBatch, maxBytes);
          } catch (err) {
            log.error({ topic, partition: p, group: opts.groupId, err: (err as Error).message }, 'local log: cannot read; retrying');
            g.cursors.delete(key);
            await sleep(backoffDelay(failures++), signal);
            progressed = true;
            continue;
          }
          if (read.corrupt) log.error({ topic, partition: p, where: read.corrupt }, 'local log: skipped damaged records');
          if (read.records.length === 0) {
            // Keep the position even when nothing was read, so the next read does not seek again.
            g.cursors.set(key, read.next);
            if (read.next.offset !== cursor.offset) {
              g.offsets[key] = read.next.offset;
              g.dirty = true;
              progressed = true;
            }
            continue;
          }
          const records: ConsumedRecord[] = read.records.map((r) => ({
            topic,
            partition: p,
            offset: String(r.offset),
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            ...(r.headers ? { headers: r.headers } : {}),
          }));
          const batch: Batch = { topic, partition: p, records };
          try {
            await runBatch(opts.handler, batch);
            g.offsets[key] = read.next.offset;
            g.cursors.set(key, read.next);
            g.dirty = true;
            g.progress = { lastCommitAt: Date.now() };
            failures = 0;
            progressed = true;
            this.scheduleCommit();
          } catch (err) {
            const delay = backoffDelay(failures++);
            const error = (err as Error).message;
            g.progress.failing = { since: g.progress.failing?.since ?? Date.now(), error, attempts: (g.progress.failing?.attempts ?? 0) + 1 };
            log.warn({ err: error, topic, partition: p, group: opts.groupId, retryInMs: delay }, 'batch handler failed; retrying the same batch');
            g.cursors.set(key, cursor);
            await sleep(delay, signal);
            progressed = true; // retry now, without waiting for new records
          }
        }
      }
      if (!progressed && !signal.aborted) await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private scheduleCommit(): void {
    if (this.commitTimer || this.closed) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.commitAll();
    }, this.opts.commitIntervalMs ?? 200);
    this.commitTimer.unref();
  }

  private async commitAll(): Promise<void> {
    for (const [id, g] of this.groups) if (g.dirty) await this.writeOffsets(id, g);
    await this.retain();
  }

  private async writeOffsets(id: string, g: GroupState): Promise<void> {
    if (!g.dirty) return;
    g.dirty = false;
    const path = this.groupFile(id);
    const tmp = `${path}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      await fh.writeFile(JSON.stringify({ group: id, offsets: g.offsets, time: new Date().toISOString() }));
      await fh.sync();
      await fh.close();
      await rename(tmp, path);
    } catch (err) {
      g.dirty = true;
      log.warn({ group: id, err: (err as Error).message }, 'could not write committed offsets; retrying');
      this.scheduleCommit();
    }
  }

  /** Deletes segments every reader of their topic has passed; trims topics nobody reads; compacts changelogs. */
  private async retain(): Promise<void> {
    for (const [topic, parts] of this.partitions) {
      const readers = this.readers.get(topic);
      const compact = this.compacted.get(topic);
      for (let p = 0; p < parts.length; p++) {
        const part = parts[p]!;
        if (compact) {
          await this.compact(topic, p, part, compact[p]!);
          continue;
        }
        if (!readers || readers.size === 0) {
          await part.trimTo(this.opts.unreadBytes ?? 256 * 1024 * 1024);
          continue;
        }
        let min = Number.POSITIVE_INFINITY;
        for (const id of readers) min = Math.min(min, this.groups.get(id)?.offsets[`${topic}:${p}`] ?? part.startOffset);
        if (Number.isFinite(min)) await part.deleteBefore(min);
      }
    }
  }

  /**
   * Compaction by copying forward: once a partition holds many more records than live keys, the
   * latest record of each live key is appended again and every segment of what was read is
   * deleted (never past a follower or a group that has not read it yet). Tombstones and what they
   * deleted go with the old segments. Offsets keep growing, as Kafka's do.
   */
  private async compact(topic: string, p: number, part: PartitionLog, state: CompactState): Promise<void> {
    const held = part.nextOffset - part.startOffset;
    if (state.compacting || held < COMPACT_MIN_RECORDS || held <= 2 * state.live + COMPACT_MIN_RECORDS / 2) return;
    state.compacting = true;
    try {
      const end = part.durableEnd;
      const keep: ConsumedRecord[] = [];
      let cursor = await part.seek(part.startOffset);
      while (cursor.offset < end) {
        const read = await part.read(cursor, 5_000, 8 * 1024 * 1024);
        if (read.records.length === 0 && read.next.offset === cursor.offset) break;
        for (const r of read.records) {
          if (r.offset >= end || r.key === null) continue;
          const at = state.latest.get(r.key);
          if (at?.live && at.offset === r.offset) keep.push({ topic, partition: p, offset: String(r.offset), timestamp: r.timestamp, key: r.key, value: r.value, ...(r.headers ? { headers: r.headers } : {}) });
        }
        cursor = read.next;
      }
      // Keys written while reading keep their newer record: only what is still the latest is copied.
      const still = keep.filter((r) => state.latest.get(r.key!)?.offset === Number(r.offset));
      const copyStart = part.nextOffset;
      if (still.length > 0) {
        const { first } = part.append(still.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })));
        still.forEach((r, i) => state.latest.set(r.key!, { offset: first + i, live: true }));
        await this.sync();
      }
      // Only what was read goes: records appended after `end` (a producer's, while this read)
      // may be the latest of their keys and were not copied. That also keeps every segment a sync
      // round in flight is still writing (its records are all at or after `end`).
      let floor = Math.min(copyStart, end);
      for (const f of this.followers) if (f.topic === topic) floor = Math.min(floor, f.next[p] ?? floor);
      for (const id of this.readers.get(topic) ?? []) floor = Math.min(floor, this.groups.get(id)?.offsets[`${topic}:${p}`] ?? part.startOffset);
      const deleted = await part.deleteBefore(floor);
      for (const [key, at] of state.latest) if (!at.live && at.offset < part.startOffset) state.latest.delete(key);
      log.debug({ topic, partition: p, copied: still.length, deletedSegments: deleted, from: part.startOffset }, 'compacted');
    } catch (err) {
      log.warn({ topic, partition: p, err: (err as Error).message }, 'local log: compaction failed; retrying later');
    } finally {
      state.compacting = false;
    }
  }

  /**
   * How far a group is behind on every topic it reads, in records and bytes (bytes where its
   * position is known: since it started in this process). Undefined for a group never seen.
   */
  lagOf(groupId: string): { records: number; bytes: number } | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    let records = 0;
    let bytes = 0;
    for (const [key, offset] of Object.entries(g.offsets)) {
      const i = key.lastIndexOf(':');
      const part = this.partitions.get(key.slice(0, i))?.[Number(key.slice(i + 1))];
      if (!part) continue;
      records += Math.max(0, part.durableEnd - offset);
      const cursor = g.cursors.get(key);
      if (cursor) bytes += Math.max(0, part.durableEndByte - part.byteAt(cursor));
    }
    return { records, bytes };
  }

  /** Records that active consumer groups have not processed yet. */
  pending(): number {
    let n = 0;
    for (const g of this.groups.values()) {
      if (!g.active) continue;
      for (const [key, offset] of Object.entries(g.offsets)) {
        const i = key.lastIndexOf(':');
        const part = this.partitions.get(key.slice(0, i))?.[Number(key.slice(i + 1))];
        if (part) n += Math.max(0, part.durableEnd - offset);
      }
    }
    return n;
  }

  /** Resolves true once active groups have processed everything on the bus, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    return untilDrained(() => this.pending(), timeoutMs);
  }

  status() {
    if (this.lastError) return { status: 'down' as const, detail: `local log at ${this.opts.dir}: ${this.lastError}` };
    return { status: 'up' as const, detail: `local log at ${this.opts.dir}` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    await this.syncing;
    for (const [id, g] of this.groups) await this.writeOffsets(id, g);
    for (const parts of this.partitions.values()) for (const p of parts) await p.close();
  }
}

/** Where each key's latest record is in a partition of a compacted topic (read at open). */
async function keyIndex(part: PartitionLog): Promise<CompactState> {
  const state: CompactState = { latest: new Map(), live: 0, compacting: false };
  let cursor = await part.seek(part.startOffset);
  while (cursor.offset < part.durableEnd) {
    const read = await part.read(cursor, 5_000, 8 * 1024 * 1024);
    if (read.records.length === 0 && read.next.offset === cursor.offset) break;
    for (const r of read.records) noteKey(state, r.key, r.offset, r.value.length > 0);
    cursor = read.next;
  }
  return state;
}

function noteKey(state: CompactState, key: string | null, offset: number, live: boolean): void {
  if (key === null) return;
  const prev = state.latest.get(key);
  if (prev?.live) state.live--;
  if (live) state.live++;
  state.latest.set(key, { offset, live });
}

function newGroup(offsets: Record<string, number>): GroupState {
  return { offsets, active: false, dirty: false, cursors: new Map(), progress: { lastCommitAt: 0 } };
}
