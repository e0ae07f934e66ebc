import type { Batch, Bus, BusProducer, BusRecord, ConsumedRecord, FollowOptions, Follower, SubscribeOptions, Subscription, TopicPartition, TopicSpec } from './types.js';
import { backoffDelay, sleep } from '../backoff.js';
import { runFollower } from './follower.js';
import { logger } from '../log.js';
import { untilDrained } from './drain.js';
import { runBatch } from './batch.js';

interface Partition {
  /** Offset of records[0]. */
  base: number;
  records: ConsumedRecord[];
}

interface Group {
  committed: Map<string, number>;
  active: boolean;
  lastCommitAt: number;
  failing?: { since: number; error: string; attempts: number };
}

/** Stable partitioner for keyed records (FNV-1a), round-robin for unkeyed ones. */
export function partitionFor(key: string | null, partitions: number, counter: number): number {
  if (key === null) return counter % partitions;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/**
 * The in-process bus of the all-in-one process: the Kafka semantics that Vigil relies on
 * (partitions ordered by key, consumer groups, commit after the handler resolved, redelivery
 * after a failure) without a broker. Records that every subscribed group has committed are
 * dropped; a topic nobody reads keeps at most `unreadLimit` records per partition.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Partition[]>();
  private readonly groups = new Map<string, Group>();
  private readonly readers = new Map<string, Set<string>>();
  /** Compacted topics (changelogs) are never trimmed here: tests only, they stay small. */
  private readonly compacted = new Set<string>();
  private waiters: (() => void)[] = [];
  private rr = 0;
  private closed = false;
  private readonly log = logger('bus.memory');

  constructor(private readonly opts: { partitions?: number; maxBatch?: number; unreadLimit?: number } = {}) {}

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const t of topics) {
      if (t.compact) this.compacted.add(t.name);
      this.topic(t.name, t.copartitionedWith !== undefined ? this.topic(t.copartitionedWith).length : t.partitions);
    }
  }

  private topic(name: string, partitions = this.opts.partitions ?? 3): Partition[] {
    let parts = this.topics.get(name);
    if (!parts) {
      parts = Array.from({ length: partitions }, () => ({ base: 0, records: [] }));
      this.topics.set(name, parts);
    }
    return parts;
  }

  async producer(): Promise<BusProducer> {
    return {
      send: async (topic: string, records: BusRecord[]) => {
        if (this.closed) throw new Error('in-process bus is closed');
        const parts = this.topic(topic);
        const now = Date.now();
        for (const r of records) {
          if (r.partition !== undefined && !(r.partition >= 0 && r.partition < parts.length)) throw new Error(`in-process bus: ${topic} has no partition ${r.partition} (it has ${parts.length})`);
          const p = r.partition ?? partitionFor(r.key, parts.length, this.rr++);
          const part = parts[p]!;
          const { partition: _wanted, ...rest } = r;
          part.records.push({ ...rest, topic, partition: p, offset: String(part.base + part.records.length), timestamp: now });
          this.trim(topic, p, part);
        }
        this.wake();
      },
    };
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const existing = this.groups.get(opts.groupId);
    if (existing?.active) throw new Error(`in-process bus: group "${opts.groupId}" already has a consumer`);
    const group: Group = existing ?? { committed: new Map(), active: true, lastCommitAt: 0 };
    group.active = true;
    this.groups.set(opts.groupId, group);
    for (const t of opts.topics) {
      const parts = this.topic(t);
      if (!this.readers.has(t)) this.readers.set(t, new Set());
      this.readers.get(t)!.add(opts.groupId);
      // Like Kafka's "latest": pin the start at subscribe time, else a new group would chase the end forever.
      if (opts.fromBeginning === false) {
        parts.forEach((part, p) => {
          if (!group.committed.has(`${t}:${p}`)) group.committed.set(`${t}:${p}`, part.base + part.records.length);
        });
      }
    }
    // One consumer per group: it owns every partition.
    const all: TopicPartition[] = opts.topics.flatMap((t) => this.topic(t).map((_, partition) => ({ topic: t, partition })));
    await opts.partitions?.assigned(all);
    const abort = new AbortController();
    const loop = this.consume(opts, group, abort.signal);
    return {
      stop: async () => {
        abort.abort();
        this.wake();
        await loop;
        await opts.partitions?.revoked(all);
        group.active = false;
      },
      progress: () => {
        let lag = 0;
        for (const t of opts.topics) {
          this.topic(t).forEach((part, p) => {
            lag += part.base + part.records.length - Math.max(part.base, group.committed.get(`${t}:${p}`) ?? 0);
          });
        }
        return { lag, lastCommitAt: group.lastCommitAt, ...(group.failing ? { failing: { ...group.failing } } : {}), assigned: all };
      },
    };
  }

  async follow(opts: FollowOptions): Promise<Follower> {
    const parts = this.topic(opts.topic);
    const maxBatch = this.opts.maxBatch ?? 5_000;
    return runFollower({
      topic: opts.topic,
      next: parts.map((part) => (opts.fromBeginning ? part.base : part.base + part.records.length)),
      read: async (p, from) => {
        const part = parts[p]!;
        const start = Math.max(from, part.base);
        const records = part.records.slice(start - part.base, start - part.base + maxBatch);
        return { records, next: start + records.length };
      },
      ends: () => parts.map((part) => part.base + part.records.length),
      idle: () => new Promise<void>((resolve) => this.waiters.push(resolve)),
      wake: () => this.wake(),
      handler: opts.handler,
    });
  }

  private async consume(opts: SubscribeOptions, group: Group, signal: AbortSignal): Promise<void> {
    const maxBatch = this.opts.maxBatch ?? 5_000;
    let failures = 0;
    while (!signal.aborted) {
      let progressed = false;
      for (const topic of opts.topics) {
        const parts = this.topic(topic);
        for (let p = 0; p < parts.length && !signal.aborted; p++) {
          const part = parts[p]!;
          const key = `${topic}:${p}`;
          const start = Math.max(group.committed.get(key) ?? (opts.fromBeginning === false ? part.base + part.records.length : 0), part.base);
          const end = part.base + part.records.length;
          if (start >= end) continue;
          const records = part.records.slice(start - part.base, Math.min(end, start + maxBatch) - part.base);
          const batch: Batch = { topic, partition: p, records };
          try {
            await runBatch(opts.handler, batch);
            group.committed.set(key, start + records.length);
            group.lastCommitAt = Date.now();
            group.failing = undefined;
            failures = 0;
            progressed = true;
            this.trim(topic, p, part);
          } catch (err) {
            const delay = backoffDelay(failures++);
            group.failing = { since: group.failing?.since ?? Date.now(), error: (err as Error).message, attempts: (group.failing?.attempts ?? 0) + 1 };
            this.log.warn({ err: (err as Error).message, topic, partition: p, group: opts.groupId, retryInMs: delay }, 'batch handler failed; retrying the same batch');
            await sleep(delay, signal);
          }
        }
      }
      if (!progressed && !signal.aborted) await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private trim(topic: string, p: number, part: Partition): void {
    if (this.compacted.has(topic)) return;
    const readers = this.readers.get(topic);
    let keepFrom: number;
    if (readers && readers.size > 0) {
      keepFrom = Infinity;
      for (const g of readers) keepFrom = Math.min(keepFrom, this.groups.get(g)?.committed.get(`${topic}:${p}`) ?? part.base);
    } else {
      keepFrom = part.base + part.records.length - (this.opts.unreadLimit ?? 10_000);
    }
    const drop = Math.min(part.records.length, keepFrom - part.base);
    if (drop > 0) {
      part.records.splice(0, drop);
      part.base += drop;
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Records that active consumer groups have not processed yet. */
  pending(): number {
    let n = 0;
    for (const [topic, readers] of this.readers) {
      const parts = this.topics.get(topic) ?? [];
      for (const g of readers) {
        const group = this.groups.get(g);
        if (!group?.active) continue;
        parts.forEach((part, p) => {
          n += part.base + part.records.length - Math.max(part.base, group.committed.get(`${topic}:${p}`) ?? 0);
        });
      }
    }
    return n;
  }

  /** Resolves once active groups have processed everything on the bus, or after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    return untilDrained(() => this.pending(), timeoutMs);
  }

  /** Records still held for a topic (tests, /health). */
  depth(topic: string): number {
    return (this.topics.get(topic) ?? []).reduce((n, p) => n + p.records.length, 0);
  }

  /** Everything currently held on a topic, oldest first per partition. */
  peek(topic: string): ConsumedRecord[] {
    return (this.topics.get(topic) ?? []).flatMap((p) => p.records);
  }

  status() {
    return { status: 'up' as const, detail: 'in-process bus' };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
  }
}
