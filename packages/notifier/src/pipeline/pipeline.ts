import { logger, sleep, type Batch, type BatchHandler, type BusRecord } from '@vigil/platform';
import type { NotifierMetrics } from '../metrics.js';
import type { Dispatcher } from '../routing/dispatcher.js';
import { toNotification } from '../routing/notification.js';
import type { RateLimiter } from '../routing/ratelimit.js';
import { deadLetter, decodeRecord, type Arrival } from './decode.js';
import type { Deliverer } from './deliver.js';
import type { Inbox } from './inbox.js';
import type { SnapshotStore } from './state.js';

/**
 * The notification pipeline, composed here and only here:
 *
 *   vigil.alerts ─► decode ─► inbox (ClickHouse) ─► dispatcher.receive ─► commit offsets
 *                     └─ undecodable: dead-letter topic
 *
 *   timer at dispatcher.nextFlushAt() ─► snapshot (ClickHouse) ─► dispatcher.flush
 *                                         ─► per notification: Deliverer (rate limit, ledger, retry, fallback)
 *
 * Offsets are committed once the transitions are in the inbox, so the Kafka side never waits for
 * a slow provider; what the dispatcher holds in memory is rebuilt at start from the last snapshot
 * and the inbox, and the ledger keeps a notification from being sent twice.
 */

export interface PipelineDeps {
  dispatcher: Dispatcher;
  rateLimiter: RateLimiter;
  deliverer: Deliverer;
  inbox: Inbox;
  snapshots: SnapshotStore;
  /** Puts records on the dead-letter topic. */
  deadLetters: (records: BusRecord[]) => Promise<void>;
  metrics: NotifierMetrics;
  externalUrl?: string;
  /** How far back resolved alerts are taken from the inbox at start (the dispatcher's resolved retention). */
  resolvedWindowMs?: number;
  now?: () => number;
}

type Arrived = Extract<Arrival, { ok: true }>;

const log = logger('notifier');
/** Longest sleep of the flush loop: a clock jump or a missed wake-up costs at most this. */
const MAX_SLEEP_MS = 30_000;
const MIN_GAP_MS = 5;

export class NotificationPipeline {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private lastRound = 0;
  /** When a receive first woke the flush loop since its last round (the `flush_wait` stage). */
  private wokenAt: number | undefined;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The consumer's batch handler: resolves once the batch's transitions are in the inbox and the dispatcher. */
  readonly intake: BatchHandler = async (batch: Batch) => {
    const m = this.deps.metrics;
    const t0 = performance.now();
    const started = this.now();
    for (const r of batch.records) if (r.timestamp > 0) m.stage('kafka', Math.max(0, started - r.timestamp) / 1000);
    const arrivals = batch.records.map(decodeRecord);
    const t1 = performance.now();
    m.stage('decode', (t1 - t0) / 1000);
    const rejected = arrivals.filter((a): a is Extract<Arrival, { ok: false }> => !a.ok);
    if (rejected.length > 0) {
      for (const r of rejected) log.warn({ topic: r.record.topic, partition: r.record.partition, offset: r.record.offset, err: r.error }, 'undecodable record; it is on the dead-letter topic');
      await this.deps.deadLetters(rejected.map((r) => deadLetter(r.record, r.error)));
      this.deps.metrics.deadLettered('undecodable', rejected.length);
    }
    const arrived = arrivals.filter((a): a is Arrived => a.ok);
    if (arrived.length === 0) return;
    const now = this.now();
    // Into the dispatcher at once, so a notification need not wait for the insert; the offsets
    // are committed only after the insert. A crash in between: the records come again from Kafka,
    // the dispatcher starts from the snapshot saved before its last flush, the ledger skips what went out.
    for (const a of arrived) this.deps.dispatcher.receive(a.alert, now);
    const t2 = performance.now();
    m.stage('receive', (t2 - t1) / 1000);
    this.wokenAt ??= t2;
    this.wake();
    await this.deps.inbox.record(arrived.map((a) => ({ alert: a.alert, publishedAt: a.record.timestamp > 0 ? a.record.timestamp : now })));
    m.stage('inbox', (performance.now() - t2) / 1000);
    m.received(arrived.length);
  };

  /** Rebuilds the dispatcher and the rate limiter: the last snapshot, then every transition of the inbox it may lack. */
  async restore(): Promise<{ alerts: number; snapshot: boolean }> {
    const now = this.now();
    const snapshot = await this.deps.snapshots.load();
    if (snapshot) {
      try {
        this.deps.dispatcher.restore(snapshot.dispatcher, now);
        this.deps.rateLimiter.restore(snapshot.rateLimiter);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'the saved notifier state cannot be used; starting from the inbox alone');
      }
    }
    const entries = await this.deps.inbox.latest(now - (this.deps.resolvedWindowMs ?? 86_400_000));
    // receive() takes only what is newer than what the snapshot knows.
    for (const e of entries) this.deps.dispatcher.receive(e.alert, now);
    return { alerts: entries.length, snapshot: snapshot !== undefined };
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Stops the flush loop; deliveries in flight are the Deliverer's to drain. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Something changed: flush now if a group is due, else sleep until one is. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.deps.dispatcher.nextFlushAt();
    if (at === undefined) return;
    // At least MIN_GAP_MS between flush rounds: a groupInterval of 0s must not spin.
    const delay = Math.min(MAX_SLEEP_MS, Math.max(0, at - this.now(), this.lastRound + MIN_GAP_MS - this.now()));
    if (delay === 0) this.flushNow();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushNow();
      }, delay);
      this.timer.unref?.();
    }
  }

  private flushNow(): void {
    this.running = this.flushDue().finally(() => {
      this.running = undefined;
      const again = this.again;
      this.again = false;
      if (again || !this.stopped) this.wake();
    });
  }

  private async flushDue(): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      const now = this.now();
      const at = this.deps.dispatcher.nextFlushAt();
      if (at === undefined || at > now || now < this.lastRound + MIN_GAP_MS) return;
      this.lastRound = now;
      // The state before the flush is what a restart must start from: this flush marks its groups
      // as notified, and a crash before their deliveries are in the ledger must flush them again.
      // Ticks that notify nothing (most of them) need no snapshot.
      const f0 = performance.now();
      if (this.wokenAt !== undefined) this.deps.metrics.stage('flush_wait', (f0 - this.wokenAt) / 1000);
      this.wokenAt = undefined;
      const before = { dispatcher: this.deps.dispatcher.state(), rateLimiter: this.deps.rateLimiter.state() };
      const flushedAt = this.now();
      const groups = this.deps.dispatcher.flush(flushedAt);
      const f1 = performance.now();
      this.deps.metrics.stage('flush', (f1 - f0) / 1000);
      if (groups.length === 0) continue;
      this.deps.metrics.flushed(groups.length);
      for (;;) {
        try {
          await this.deps.snapshots.save(before, flushedAt);
          this.deps.metrics.stage('snapshot', (performance.now() - f1) / 1000);
          break;
        } catch (err) {
          // Nothing of this flush is sent before its snapshot is saved; stopping now leaves it to the next start.
          log.warn({ err: (err as Error).message }, 'cannot save the notifier state; retrying before sending');
          if (this.stopped) return;
          await sleep(Math.min(10_000, 500 * 2 ** failures++));
        }
      }
      failures = 0;
      for (const g of groups) {
        const n = toNotification(g, flushedAt, this.deps.externalUrl ? { externalUrl: this.deps.externalUrl } : {});
        this.deps.deliverer.submit(n).catch((err: unknown) => {
          if ((err as Error).name !== 'StoppingError') log.error({ receiver: n.receiver, group: n.groupKey, err: (err as Error).message }, 'delivery of a notification failed');
        });
      }
    }
  }
}
