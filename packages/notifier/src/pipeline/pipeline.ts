import { logger, sleep, type Batch, type BatchHandler, type BusRecord } from '@vigil/platform';
import type { NotifierMetrics } from '../metrics.js';
import type { Dispatcher } from '../routing/dispatcher.js';
import { toNotification } from '../routing/notification.js';
import type { AlertNotification } from '../model.js';
import type { DeliveryLedger } from './ledger.js';
import type { RateLimiter } from './ratelimit.js';
import { deadLetter, decodeRecord, type Arrival } from './decode.js';
import { StoppingError } from './retry.js';
import type { Deliverer } from './deliver.js';
import type { Inbox } from './inbox.js';
import type { NotifierSnapshot, SnapshotStore } from './state.js';
import type { AlertPartitions } from './partitions.js';

/**
 * The notification pipeline, composed here and only here:
 *
 *   vigil.alerts ─► decode ─► dispatcher.receive ─► changelog (Kafka) + inbox (ClickHouse) ─► commit offsets
 *                     └─ undecodable: dead-letter topic
 *
 *   timer at dispatcher.nextFlushAt() ─► dispatcher.flush ─► outbox ─► (changelog writes in flight) ─► per notification: Deliverer
 *                                                             │         (rate limit, ledger, retry, fallback)
 *                                                             └─► snapshot (ClickHouse), written behind, coalesced
 *
 * Offsets are committed once the transitions are in the changelog and the inbox, so the Kafka side
 * never waits for a slow provider. Nothing waits for ClickHouse between a receive and a send: a
 * send waits only for the changelog write of the transitions it carries (a Kafka produce), and the
 * snapshot (the dispatcher and rate limiter after the flush, plus the outbox: notifications
 * flushed and not yet delivered) is written behind the sends. A restart rebuilds from the last
 * snapshot, the inbox and the ledger's notifications since that snapshot (so groups know what
 * they notified after it, and owe those resolves), then adopts its partitions' changelog entries,
 * and resends the snapshot's outbox; the ledger keeps any notification from being sent twice.
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
  /** The delivery ledger: at restore, what was notified after the snapshot. */
  ledger?: Pick<DeliveryLedger, 'notifiedSince'>;
  /** The alerts' state per partition (changelog): written with each batch and after each delivery. */
  partitions?: AlertPartitions;
  /** Least time between two snapshot writes (they are coalesced); default 1s. */
  snapshotGapMs?: number;
  /** Longest a send waits for the changelog writes in flight at its flush (a slow bus must not hold pages); default 5s. */
  changelogWaitMs?: number;
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
  /** Partitions changing hands: no flush until the next assignment (the alerts may be another instance's). */
  private paused = false;
  private readonly now: () => number;
  /** Notifications flushed and not yet delivered (or given up): saved with the snapshot, resent by a restart. */
  private readonly outbox = new Set<AlertNotification>();
  /** The outbox of the snapshot restored, sent when the pipeline starts (with alert partitions: at the first assignment). */
  private recovered: AlertNotification[] = [];
  private dirty = false;
  private saving: Promise<void> | undefined;
  private lastSaveAt = Number.NEGATIVE_INFINITY;
  /** Cuts the wait between two snapshot writes short (persist at stop). */
  private hurry = new AbortController();
  private closing = false;
  /** Notifications handed to the Deliverer and not settled. */
  private readonly delivering = new Set<Promise<void>>();
  /** Changelog writes of received transitions in flight; a notification goes out after those begun before its flush. */
  private readonly writing = new Set<Promise<void>>();
  /** Sends wait here, in flush order: the changelog writes in flight at their flush. */
  private gate: Promise<void> = Promise.resolve();
  /**
   * Notifications the ledger holds whose group could not be rebuilt at restore: none of their
   * alerts was known yet (sends do not wait for the inbox, so a crash can leave a sent
   * notification's transitions only in Kafka). Each is told to the dispatcher, in the ledger's
   * order, at the moment the dispatcher holds a transition it carried: as Kafka delivers that
   * transition again (uncommitted), or as an assignment adopts it from the changelog. Told later,
   * after a newer transition, it would undo what that one did.
   */
  private unacknowledged: { groupKey: string; alerts: string[]; time: number }[] = [];

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
    for (const a of arrived) {
      this.deps.dispatcher.receive(a.alert, now);
      this.deps.partitions?.note(a.alert.fingerprint, a.record.partition);
      if (this.unacknowledged.length > 0) this.acknowledgeHeld(now);
    }
    const t2 = performance.now();
    m.stage('receive', (t2 - t1) / 1000);
    this.wokenAt ??= t2;
    // A flush these wake does not wait for the inbox insert (its sends wait for the changelog write
    // below); the offsets are committed after both.
    const rows = arrived.map((a) => ({ alert: a.alert, publishedAt: a.record.timestamp > 0 ? a.record.timestamp : now }));
    const recorded = this.deps.inbox.record(rows);
    // Not left unhandled while the flush runs; the finish below awaits it and the bus retries it.
    recorded.catch(() => undefined);
    // The changelog too before the offsets: the partition's next owner (or this instance's restart)
    // must know these transitions. Written before the flush this batch wakes, whose sends wait for it.
    const written = this.deps.partitions?.write();
    if (written) {
      const settled = written.then(
        () => undefined,
        () => undefined,
      );
      this.writing.add(settled);
      void settled.then(() => this.writing.delete(settled));
    }
    this.wake();
    // Made durable behind: the bus hands over the next batch meanwhile and commits once this
    // resolves. Again after a failure: the insert again, and the changelog's pending entries.
    let again = false;
    return async () => {
      if (again) await Promise.all([this.deps.inbox.record(rows), this.deps.partitions?.write()]);
      else {
        again = true;
        await Promise.all([recorded, written]);
      }
      m.stage('inbox', (performance.now() - t2) / 1000);
      m.received(arrived.length);
    };
  };

  /**
   * Rebuilds the dispatcher and the rate limiter: the last snapshot, every transition of the
   * inbox it may lack, then what the ledger says was notified since the snapshot was taken.
   * The snapshot's outbox is sent by start().
   */
  async restore(): Promise<{ alerts: number; snapshot: boolean; notified: number; outbox: number }> {
    const now = this.now();
    const window = this.deps.resolvedWindowMs ?? 86_400_000;
    const snapshot = await this.deps.snapshots.load();
    let usable = false;
    if (snapshot) {
      try {
        this.deps.dispatcher.restore(snapshot.dispatcher, now);
        this.deps.rateLimiter.restore(snapshot.rateLimiter);
        this.recovered = snapshot.outbox ?? [];
        this.deps.partitions?.seed(snapshot.partitions);
        usable = true;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'the saved notifier state cannot be used; starting from the inbox and the ledger');
      }
    }
    const entries = await this.deps.inbox.latest(now - window);
    // receive() takes only what is newer than what the snapshot knows.
    for (const e of entries) this.deps.dispatcher.receive(e.alert, now);
    // Snapshots of older versions were taken before their flush and carry no savedAt: the whole window then.
    const since = usable && snapshot?.savedAt !== undefined ? snapshot.savedAt : now - window;
    const notified = this.deps.ledger ? await this.deps.ledger.notifiedSince(since) : [];
    this.unacknowledged = notified.filter((n) => !this.deps.dispatcher.acknowledge(n.groupKey, n.alerts, n.time, now));
    return { alerts: entries.length, snapshot: usable, notified: notified.length, outbox: this.recovered.length };
  }

  start(): void {
    this.stopped = false;
    this.closing = false;
    // The first write a gap after the start too: a storm's first second goes to the inbox and the ledger.
    this.lastSaveAt = this.now();
    // With alert partitions, the first assignment says which recovered notifications are still this instance's (resume).
    if (!this.deps.partitions) this.sendRecovered();
    this.wake();
  }

  /**
   * The snapshot's outbox: notifications flushed and not settled when the last run ended. Sent
   * before any new flush, so a group's recovered notification keeps its place in the group's
   * order (a flush of the same notification again goes out under the same key, and the ledger
   * drops it). With alert partitions, at the first assignment, and not those the changelog says
   * are another's (`AlertPartitions.stillOwed`): an alert of a partition another instance owns,
   * or a page that the partition's other owner sent meanwhile. Sent at start whatever the
   * changelog said, a page went out three times (the fleet test: a notifier SIGKILLed with a page
   * in flight, the survivor that took its partition, the first one restarted and given it back).
   */
  private sendRecovered(): void {
    const recovered = this.recovered;
    this.recovered = [];
    const p = this.deps.partitions;
    const mine = p ? recovered.filter((n) => p.stillOwed(n)) : recovered;
    if (mine.length < recovered.length) log.info({ left: recovered.length - mine.length }, "notifications in flight at the last stop that the changelog says are another instance's, or were sent by it: not sent again");
    for (const n of mine) this.send(n);
  }

  /** Partitions are changing hands: flushing waits for resume() (the next assignment). */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Resolves when the notifications handed out so far are delivered or given up, or after `maxMs`. */
  async settled(maxMs: number): Promise<boolean> {
    if (this.delivering.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((done) => (timer = setTimeout(() => done(false), maxMs)));
    try {
      return await Promise.race([Promise.all([...this.delivering]).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  resume(): void {
    this.paused = false;
    this.acknowledgeHeld(this.now());
    if (!this.stopped) this.sendRecovered();
    this.wake();
  }

  /** Tells the dispatcher the waiting notifications that carried a transition it holds now (beyond the window, they are dropped). */
  private acknowledgeHeld(now: number): void {
    const window = this.deps.resolvedWindowMs ?? 86_400_000;
    const d = this.deps.dispatcher;
    this.unacknowledged = this.unacknowledged.filter((n) => {
      if (n.time <= now - window) return false;
      if (!n.alerts.some((t) => d.currentKey(t.slice(0, t.indexOf(':'))) === t)) return true;
      return !d.acknowledge(n.groupKey, n.alerts, n.time, now);
    });
  }

  /** Stops the flush loop; deliveries in flight are the Deliverer's to drain, then persist() saves the outbox they left. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Writes the latest state now if it changed (at stop, after the deliveries drained); one attempt after a failure. */
  async persist(): Promise<void> {
    this.closing = true;
    this.hurry.abort();
    if (this.dirty && !this.saving) this.persistSoon();
    await this.saving;
  }

  /**
   * Hands a notification to the Deliverer, keeping it in the outbox until it is delivered or given
   * up. It goes out once the changelog holds the transitions it carries (the writes in flight are
   * awaited: usually the one of the batch that woke this flush, a Kafka produce of a few ms; not
   * the inbox's ClickHouse insert). A restart, or the partition's next owner, adopts them from the
   * changelog before it takes any record, and flushes this notification again under the same key
   * (the ledger or the provider's idempotency drops it) before a resolve redelivered with them can
   * arrive: so it owes their resolves. Kafka alone would not do: a transition and its resolve
   * delivered again in one batch look like an alert resolved before its group ever flushed. A
   * changelog that does not answer within `changelogWaitMs` holds no page longer than that.
   */
  private send(n: AlertNotification, flushId?: number): void {
    this.outbox.add(n);
    if (this.writing.size > 0) {
      // Bounded: past it the page goes out anyway (the write is still awaited before the offsets).
      // The bound's timer goes once the writes are in (not a 5 s timer left behind by every send).
      const bound = new AbortController();
      const written = Promise.all([this.gate, ...this.writing]).then(() => undefined).finally(() => bound.abort());
      this.gate = Promise.race([written, sleep(this.deps.changelogWaitMs ?? 5_000, bound.signal)]).then(() => undefined);
    }
    // Its alerts' changelog entries say "notified" as soon as the receivers answered, not after the
    // ledger's insert: until they do, the partition's next owner (this one SIGKILLed) sends it again.
    const told = () => {
      if (flushId === undefined || !this.deps.partitions?.delivered(flushId)) return;
      this.deps.partitions.write().catch((err: Error) => log.warn({ group: n.groupKey, err: err.message }, 'cannot write the notifier state after a delivery; retried with the next change'));
    };
    const submitted = this.gate.then(() => this.deps.deliverer.submit(n, told));
    const done = () => {
      this.outbox.delete(n);
      this.persistSoon();
      told();
    };
    const settled = submitted.then(done, (err: unknown) => {
      // Stopping: it stays in the outbox, for the next start.
      if (err instanceof StoppingError || (err as Error).name === 'StoppingError') return;
      log.error({ receiver: n.receiver, group: n.groupKey, err: (err as Error).message }, 'delivery of a notification failed');
      done();
    });
    this.delivering.add(settled);
    void settled.then(() => this.delivering.delete(settled));
  }

  /** The state changed: save it behind the sends, at most one write in flight and one per snapshotGapMs. */
  private persistSoon(): void {
    this.dirty = true;
    if (this.saving) return;
    this.saving = this.saveLoop().finally(() => {
      this.saving = undefined;
      if (this.dirty && !this.closing) this.persistSoon();
    });
  }

  private takeSnapshot(): NotifierSnapshot {
    const partitions = this.deps.partitions?.known();
    return { dispatcher: this.deps.dispatcher.state(), rateLimiter: this.deps.rateLimiter.state(), outbox: [...this.outbox], savedAt: this.now(), ...(partitions ? { partitions } : {}) };
  }

  private async saveLoop(): Promise<void> {
    for (let failures = 0; this.dirty; ) {
      const wait = this.lastSaveAt + (this.deps.snapshotGapMs ?? 1_000) - this.now();
      if (wait > 0 && !this.closing) {
        if (this.hurry.signal.aborted) this.hurry = new AbortController();
        await sleep(wait, this.hurry.signal).catch(() => undefined);
      }
      this.dirty = false;
      const snapshot = this.takeSnapshot();
      const t0 = performance.now();
      try {
        await this.deps.snapshots.save(snapshot, snapshot.savedAt!);
        this.lastSaveAt = snapshot.savedAt!;
        this.deps.metrics.stage('snapshot', (performance.now() - t0) / 1000);
        failures = 0;
      } catch (err) {
        // Nothing waits for it: a restart meanwhile rebuilds from the older snapshot, the inbox and the ledger.
        this.dirty = true;
        log.warn({ err: (err as Error).message }, 'cannot save the notifier state; retrying');
        if (this.closing) return;
        await sleep(Math.min(10_000, 500 * 2 ** failures++), this.hurry.signal).catch(() => undefined);
      }
    }
  }

  /** Something changed: flush now if a group is due, else sleep until one is. */
  wake(): void {
    if (this.stopped || this.paused) return;
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
    while (!this.stopped && !this.paused) {
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
      const flushedAt = this.now();
      const groups = this.deps.dispatcher.flush(flushedAt);
      this.deps.metrics.stage('flush', (performance.now() - f0) / 1000);
      if (groups.length === 0) continue;
      this.deps.metrics.flushed(groups.length);
      // Sent at once; the state after this flush, with these in the outbox, is saved behind them.
      const extra = this.deps.externalUrl ? { externalUrl: this.deps.externalUrl } : {};
      for (const g of groups) this.send(toNotification(g, flushedAt, extra), this.deps.partitions?.flushed(g.groupKey, g.before));
      this.persistSoon();
      // The flushed alerts' entries (with their group's state from before, until delivered) and
      // what the flush dropped.
      this.deps.partitions?.write().catch((err: Error) => log.warn({ err: err.message }, 'cannot write the notifier state after a flush; retried with the next change'));
    }
  }
}
