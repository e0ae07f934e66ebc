import { randomUUID } from 'node:crypto';
import { backoffDelay, sleep } from '../backoff.js';
import { logger } from '../log.js';
import type { Bus, BusProducer, BusRecord, ConsumedRecord, Follower } from '../bus/types.js';

/**
 * State kept per partition, as Kafka Streams keeps it: a map of keys to values for each partition
 * of a source topic, backed by a compacted changelog topic with the same partition count. The
 * instance that owns partition N of the source (its consumer group says so) writes N's entries to
 * changelog partition N; an instance that is given N restores N's entries from the changelog.
 *
 * Every instance follows the whole changelog from the start (a standby of every partition, as
 * Streams' standby replicas): taking a partition over is a wait until the follower has read what
 * was written so far, not a replay. The state is what its owners hold in memory anyway (alerts
 * firing, what was notified), so holding every partition's is cheap.
 *
 * Writes are queued in order and sent in rounds (what comes while a round is in flight goes in the
 * next one); `put` resolves when its round is on the topic (Kafka: acks=all, so on
 * `min.insync.replicas` brokers). A round the bus refuses is retried with backoff, in order, until
 * it goes through or the store closes. An entry of `undefined` deletes the key (a tombstone).
 */

export interface ChangelogStoreOptions<V> {
  bus: Bus;
  /** The changelog topic (compacted). */
  topic: string;
  /** The topic whose partitions these are: the changelog gets its partition count. */
  source: string;
  encode(value: V): Buffer;
  decode(bytes: Buffer, key: string): V;
  /** What the store is called in logs. */
  name: string;
}

interface Pending {
  /** Undefined: a marker that `flush` waits for. */
  record: BusRecord | undefined;
  done: () => void;
  fail: (err: Error) => void;
}

/** Header naming the instance that wrote an entry (diagnostics: who held the partition). */
export const WRITER_HEADER = 'vigil.writer';

/**
 * The key of a restore's barrier: a record an instance writes to the partition it restores and
 * waits to read back, so that it has read every entry written there before (Kafka keeps a
 * partition's order). Never an entry (keys are fingerprints); compaction keeps the latest.
 */
export const BARRIER_KEY = '\u0000vigil.barrier';

/** How often a restore that waits for its barrier says so. */
const BARRIER_WARN_MS = 10_000;

export class ChangelogStore<V> {
  /**
   * Every partition's entries as the follower has read them, still encoded: most are overwritten
   * before anyone restores them (an owner rewrites an alert's entry at every change), so they are
   * decoded only when their partition is restored.
   */
  private readonly partitions = new Map<number, Map<string, Buffer>>();
  private follower: Follower | undefined;
  private producer: Promise<BusProducer> | undefined;
  private queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly log;
  /** Who writes: one id per process and store. */
  readonly writer = `${process.pid}-${randomUUID().slice(0, 8)}`;
  /** Entries read from the changelog (restores and standby), for metrics. */
  read = 0;
  /** Barriers written by this instance and not read back yet: token → resolve. */
  private readonly barriers = new Map<string, () => void>();
  private barrierSeq = 0;

  constructor(private readonly opts: ChangelogStoreOptions<V>) {
    this.log = logger(`state.${opts.name}`);
  }

  /** Creates the changelog if needed (co-partitioned with its source, compacted) and starts following it from the start. */
  async open(): Promise<void> {
    await this.opts.bus.ensureTopics([{ name: this.opts.source }, { name: this.opts.topic, copartitionedWith: this.opts.source, compact: true }]);
    this.follower = await this.opts.bus.follow({ topic: this.opts.topic, fromBeginning: true, handler: async (batch) => this.apply(batch.partition, batch.records) });
  }

  private apply(partition: number, records: ConsumedRecord[]): void {
    let entries = this.partitions.get(partition);
    if (!entries) this.partitions.set(partition, (entries = new Map()));
    for (const r of records) {
      if (r.key === null) continue;
      if (r.key === BARRIER_KEY) {
        const token = r.value.toString('utf8');
        this.barriers.get(token)?.();
        this.barriers.delete(token);
        continue;
      }
      this.read++;
      if (r.value.length === 0) entries.delete(r.key);
      // A copy: the record's bytes may be a view of the whole fetch response, kept alive by it.
      else entries.set(r.key, Buffer.from(r.value));
    }
  }

  /** Writes a barrier to the partition and waits until the follower has read it back (or the store closes). */
  private async barrier(partition: number): Promise<void> {
    const token = `${this.writer}-${++this.barrierSeq}`;
    const seen = new Promise<void>((resolve) => this.barriers.set(token, resolve));
    const started = Date.now();
    // Not awaited on its own: the wait below says so while the write is retried too.
    this.enqueue([[BARRIER_KEY, Buffer.from(token)]], partition).catch(() => undefined);
    // Its timer goes once the barrier is read (or the store closes), not 10 s later.
    const waiting = new AbortController();
    const closing = () => waiting.abort();
    this.abort.signal.addEventListener('abort', closing, { once: true });
    try {
      for (;;) {
        const read = await Promise.race([seen.then(() => true), sleep(BARRIER_WARN_MS, waiting.signal).then(() => false)]);
        if (read || this.closed) break;
        this.log.warn({ topic: this.opts.topic, partition, waitedMs: Date.now() - started }, 'restoring: the changelog has not been read up to this restore yet; waiting');
      }
    } finally {
      waiting.abort();
      this.abort.signal.removeEventListener('abort', closing);
      this.barriers.delete(token);
    }
  }

  /**
   * The entries of a partition as its previous owner left them. What this instance queued is
   * written first; then the follower reads up to the changelog's end offsets as they are now (at
   * once for an empty changelog). When that wait stops short (Kafka: nothing came from a partition
   * behind its end for 10 s, a broker failing over), it writes a barrier to the partition and takes
   * the entries once the follower has read it back: every entry a previous owner got onto the
   * partition is before it. Until 2026-12-01 a restore took what it had read after the 10 s as the
   * whole partition, restored half of one and paged its alerts again. The barrier wait lasts as
   * long as the changelog cannot be written or read, saying so, until the store closes.
   */
  async restore(partition: number): Promise<Map<string, V>> {
    await this.flush();
    if (this.follower && !(await this.follower.caughtUp()) && !this.closed) await this.barrier(partition);
    const out = new Map<string, V>();
    for (const [key, bytes] of this.partitions.get(partition) ?? []) {
      try {
        out.set(key, this.opts.decode(bytes, key));
      } catch (err) {
        this.log.warn({ topic: this.opts.topic, partition, key, err: (err as Error).message }, 'a changelog entry does not decode; skipped');
      }
    }
    return out;
  }

  /** Every partition's entries as read so far (the standby), for diagnostics. */
  size(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.size;
    return n;
  }

  /**
   * Writes entries of one partition (`undefined` deletes the key); resolves once they are on the
   * changelog, rejects only when the store closes first.
   */
  put(partition: number, entries: Iterable<[string, V | undefined]>): Promise<void> {
    const encoded: [string, Buffer][] = [];
    for (const [key, value] of entries) encoded.push([key, value === undefined ? Buffer.alloc(0) : this.opts.encode(value)]);
    return this.enqueue(encoded, partition);
  }

  private enqueue(entries: [string, Buffer][], partition: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.opts.name}: the state store is closed`));
    const waits: Promise<void>[] = [];
    for (const [key, value] of entries) {
      waits.push(
        new Promise<void>((done, fail) => {
          this.queue.push({ record: { key, value, partition, headers: { [WRITER_HEADER]: this.writer } }, done, fail });
        }),
      );
    }
    if (waits.length === 0) return Promise.resolve();
    this.kick();
    return Promise.all(waits).then(() => undefined);
  }

  /** Resolves once everything queued so far is on the changelog (or the store closed). */
  async flush(): Promise<void> {
    if (this.queue.length === 0 && !this.sending) return;
    await new Promise<void>((done) => {
      this.queue.push({ record: undefined, done, fail: () => done() });
      this.kick();
    });
  }

  /** Writes queued before the call that are not on the changelog yet. */
  get pending(): number {
    return this.queue.filter((p) => p.record !== undefined).length;
  }

  private kick(): void {
    if (this.sending || this.closed) return;
    this.sending = this.send().finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0 && !this.closed) this.kick();
    });
  }

  private async send(): Promise<void> {
    for (let failures = 0; this.queue.length > 0 && !this.closed; ) {
      const round = this.queue;
      this.queue = [];
      const records = round.flatMap((p) => (p.record ? [p.record] : []));
      try {
        if (records.length > 0) {
          this.producer ??= this.opts.bus.producer();
          await (await this.producer).send(this.opts.topic, records);
        }
        failures = 0;
        for (const p of round) p.done();
      } catch (err) {
        // In order: the round goes first again, before what came meanwhile.
        this.queue = round.concat(this.queue);
        const delay = backoffDelay(failures++, 200, 10_000);
        this.log.warn({ topic: this.opts.topic, entries: records.length, err: (err as Error).message, retryInMs: delay }, 'cannot write to the changelog; retrying');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Writes what is queued (a last attempt), stops following. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.flush(), sleep(5_000)]);
    this.closed = true;
    this.abort.abort();
    await this.sending;
    if (this.pending > 0) this.log.warn({ topic: this.opts.topic, entries: this.pending }, 'closing with changelog entries not written; the next owner redoes them');
    const closed = new Error(`${this.opts.name}: the state store closed before the entry was written`);
    for (const p of this.queue.splice(0)) p.fail(closed);
    await this.follower?.stop();
  }
}
