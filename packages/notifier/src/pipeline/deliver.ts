import { logger } from '@vigil/platform';
import type { NotifierMetrics } from '../metrics.js';
import type { AlertNotification, NotificationChannel, Receiver } from '../model.js';
import type { RateLimiter } from './ratelimit.js';
import { deliveryRow, type DeliveryLedger } from './ledger.js';
import { sendWithRetry, StoppingError, type DeliveryOutcome, type RetryPolicy } from './retry.js';

/**
 * The delivery stages, for one notification and one receiver:
 *
 *   for each channel: resolved wanted? ─► rate limit ─► ledger check ─► send with retry ─► ledger record
 *                                                                          │ gave up (delivery.giveUpAfter)
 *                                                                          └─► the receiver's fallback
 *
 * Notifications of one group go out in order (a resolve never overtakes its firing); different
 * groups and channels go side by side.
 */

export interface DeliverDeps {
  receivers: ReadonlyMap<string, Receiver>;
  /** The configured receiver each channel belongs to (sendResolved, fallback). */
  owners: ReadonlyMap<string, Receiver>;
  ledger: DeliveryLedger;
  rateLimiter: RateLimiter;
  metrics: NotifierMetrics;
  retry: RetryPolicy;
  /** Aborted when the role stops: no new attempt or retry wait starts. */
  signal: AbortSignal;
  /** Aborted a grace period after the stop: cancels attempts still in flight. */
  abortAttempts?: AbortSignal;
  now?: () => number;
}

export type ChannelResult =
  | { channel: string; kind: string; outcome: 'sent'; attempts: number; providerId?: string }
  | { channel: string; kind: string; outcome: 'failed'; attempts: number; error: string; fallback?: string }
  | { channel: string; kind: string; outcome: 'skipped'; reason: 'duplicate' | 'rate_limited' | 'resolved_not_wanted' };

const log = logger('notifier');

/** The key a provider sees for one notification on one channel: the same on every attempt, replay and restart. */
export function idempotencyKey(n: AlertNotification, channel: string): string {
  return `${n.key}/${channel}`;
}

/** A notification handed to a fallback receiver: its own key, so the ledger keeps the two apart. */
export function forFallback(n: AlertNotification, fallback: string): AlertNotification {
  return { ...n, receiver: fallback, key: `${n.key}>${fallback}` };
}

export class Deliverer {
  /** Per group and receiver: the tail of its chain of deliveries. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly deps: DeliverDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Queues a notification behind the earlier ones of its group; resolves when it is delivered (or
   * given up) and its ledger rows are written. `answered` is called as soon as every channel's
   * sending is over, before those rows' insert: what must know the notification went out (the
   * changelog entry a partition's next owner reads) need not wait for ClickHouse.
   */
  submit(n: AlertNotification, answered?: () => void): Promise<ChannelResult[]> {
    const chainKey = `${n.receiver}\u0000${n.groupKey}`;
    const before = this.chains.get(chainKey) ?? Promise.resolve();
    const run = before.then(() => this.deliver(n, new Set([n.receiver]), answered));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(chainKey, tail);
    this.inFlight.add(tail);
    void tail.then(() => {
      this.inFlight.delete(tail);
      if (this.chains.get(chainKey) === tail) this.chains.delete(chainKey);
    });
    return run;
  }

  /** Waits for what is in flight (stop aborts retries first, so this is quick). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /** Every channel of the receiver, side by side. `visited` stops fallback cycles. */
  async deliver(n: AlertNotification, visited: Set<string>, answered?: () => void): Promise<ChannelResult[]> {
    const receiver = this.deps.receivers.get(n.receiver);
    if (!receiver) {
      log.error({ receiver: n.receiver }, 'notification for an unknown receiver dropped (the config changed?)');
      return [];
    }
    return this.deliverChannels(n, receiver.channels, visited, undefined, false, answered);
  }

  /**
   * Delivers to these channels (the API's notify and test routes pick them); `policy` replaces the
   * retry policy; `lookup` checks the ledger in ClickHouse, not only memory; `answered` as in `submit`.
   */
  async deliverChannels(n: AlertNotification, channels: readonly NotificationChannel[], visited = new Set([n.receiver]), policy?: RetryPolicy, lookup = false, answered?: () => void): Promise<ChannelResult[]> {
    // Flushed notifications are checked against memory (the ledger preloaded at start); keys a
    // caller chose (the API's Idempotency-Key) may be older, so those are looked up.
    if (lookup) await this.deps.ledger.load([n.key], channels.map((c) => c.name));
    else await this.deps.ledger.flushPending().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'delivery rows still not recorded; retried with the next delivery'));
    const recording: Promise<void>[] = [];
    const results = await Promise.allSettled(channels.map((c) => this.deliverTo(n, c, visited, policy, recording)));
    const stopped = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!stopped) answered?.();
    await Promise.all(recording);
    const out: ChannelResult[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') out.push(r.value);
      else if (!(r.reason instanceof StoppingError)) throw r.reason;
    }
    if (stopped) throw stopped.reason;
    return out;
  }

  /** Sends to one channel; the ledger row's insert goes into `recording`, not awaited here. */
  private async deliverTo(n: AlertNotification, channel: NotificationChannel, visited: Set<string>, policy = this.deps.retry, recording: Promise<void>[] = []): Promise<ChannelResult> {
    const owner = this.deps.owners.get(channel.name);
    const base = { channel: channel.name, kind: channel.kind };
    if (n.status === 'resolved' && owner && !owner.sendResolved) return { ...base, outcome: 'skipped', reason: 'resolved_not_wanted' };
    if (this.deps.ledger.isSent(n.key, channel.name)) {
      this.deps.metrics.skipped(channel.name);
      return { ...base, outcome: 'skipped', reason: 'duplicate' };
    }
    const firing = n.alerts.filter((a) => a.status === 'firing').length;
    const decision = this.deps.rateLimiter.take(channel, this.now(), { firing, resolved: n.alerts.length - firing });
    if (!decision.allowed) {
      this.deps.metrics.rateLimited(channel.name);
      return { ...base, outcome: 'skipped', reason: 'rate_limited' };
    }
    const message: AlertNotification = decision.heldBack ? { ...n, heldBack: decision.heldBack } : n;
    const started = this.now();
    const sending = performance.now();
    const outcome: DeliveryOutcome = await sendWithRetry(
      channel.name,
      (signal) => channel.send(message, { idempotencyKey: idempotencyKey(n, channel.name), signal }),
      { policy, deadline: started + policy.budgetMs, signal: this.deps.signal, ...(this.deps.abortAttempts ? { abortAttempts: this.deps.abortAttempts } : {}), now: this.now },
    );
    this.deps.metrics.delivered(channel.name, outcome.status, (this.now() - started) / 1000);
    const recordedFrom = performance.now();
    this.deps.metrics.stage('send', (recordedFrom - sending) / 1000);
    // `sent` counts in memory at once (ledger.record); the insert is awaited by the caller after `answered`.
    recording.push(this.recordWithRetry(n, channel, outcome).then(() => this.deps.metrics.stage('ledger', (performance.now() - recordedFrom) / 1000)));
    if (outcome.status === 'sent') return { ...base, outcome: 'sent', attempts: outcome.attempts, ...(outcome.providerId ? { providerId: outcome.providerId } : {}) };

    const fallback = owner?.fallback;
    log.warn(
      { channel: channel.name, receiver: n.receiver, group: n.groupKey, alerts: n.alerts.length, attempts: outcome.attempts, err: outcome.error, fallback },
      fallback ? 'gave up delivering a notification; handing it to the fallback receiver' : 'gave up delivering a notification (no fallback receiver configured)',
    );
    if (fallback && !visited.has(fallback)) {
      this.deps.metrics.fallback(channel.name, fallback);
      const next = new Set(visited).add(fallback);
      // Not awaited by the failed channel's result: the fallback has its own retries and time.
      const handed = this.deliver(forFallback(n, fallback), next).catch((err: unknown) => {
        if (!(err instanceof StoppingError)) log.error({ fallback, err: (err as Error).message }, 'fallback delivery failed');
      });
      this.inFlight.add(handed);
      void handed.then(() => this.inFlight.delete(handed));
    }
    return { ...base, outcome: 'failed', attempts: outcome.attempts, error: outcome.error, ...(fallback ? { fallback } : {}) };
  }

  /** A delivery done is recorded even when ClickHouse hiccups: a few tries, then the ledger keeps the row for its next write. */
  private async recordWithRetry(n: AlertNotification, channel: NotificationChannel, outcome: DeliveryOutcome): Promise<void> {
    const row = deliveryRow(n, channel, outcome, this.now());
    try {
      await this.deps.ledger.record(row);
    } catch (err) {
      log.warn({ channel: channel.name, err: (err as Error).message }, 'delivery done but not yet recorded; the row is written with the next one');
    }
  }
}
