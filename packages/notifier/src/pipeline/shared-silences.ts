import { logger, type Bus, type BusProducer, type ConsumedRecord, type Follower } from '@vigil/platform';
import type { Silence, SilenceSet } from '../routing/silences.js';
import type { SilenceStore } from './state.js';

const log = logger('notifier.silences');

/** Where a silence made or expired through the API goes: every instance's set, and the history. */
export interface SilenceSaver {
  save(silence: Silence): Promise<void>;
}

/** A silence replaces the one with its id when it is as new or newer (last writer wins by updatedAt, as Alertmanager merges them). */
export function newerSilence(incoming: Pick<Silence, 'updatedAt'>, held: Pick<Silence, 'updatedAt'> | undefined): boolean {
  return !held || Date.parse(incoming.updatedAt) >= Date.parse(held.updatedAt);
}

/**
 * Silences shared by every notifier instance of a group, as Alertmanager's peers gossip them: a
 * compacted topic (`<groupId>.silences`, one partition, keyed by silence id) that each instance
 * follows whole. A silence made or expired through any instance's API is written there first and
 * applied by every instance, its own included, without a restart; a new instance reads the topic
 * before it takes alerts. The ClickHouse table stays the history (and what an upgrade from a
 * version without the topic brings into it, once).
 */
export class SharedSilences implements SilenceSaver {
  private follower: Follower | undefined;
  private producer: Promise<BusProducer> | undefined;
  /** Silences applied from the topic (for the start log and tests). */
  applied = 0;

  constructor(
    private readonly opts: { bus: Bus; topic: string; silences: SilenceSet; history: Pick<SilenceStore, 'all' | 'save'>; now: () => number },
  ) {}

  /** Follows the topic and applies what it holds; then brings in stored silences the topic does not have (or has older). */
  async open(): Promise<{ fromTopic: number; fromHistory: number }> {
    await this.opts.bus.ensureTopics([{ name: this.opts.topic, partitions: 1, compact: true }]);
    this.follower = await this.opts.bus.follow({ topic: this.opts.topic, fromBeginning: true, handler: async (batch) => this.apply(batch.records) });
    await this.follower.caughtUp();
    const fromTopic = this.applied;
    let fromHistory = 0;
    const latest = new Map<string, Silence>();
    for (const s of await this.opts.history.all()) if (newerSilence(s, latest.get(s.id))) latest.set(s.id, s);
    for (const s of latest.values()) {
      const held = this.opts.silences.get(s.id, this.opts.now());
      if (held && held.updatedAt === s.updatedAt) continue;
      if (!newerSilence(s, held)) continue;
      await this.publish(s);
      this.take(s);
      fromHistory++;
    }
    return { fromTopic, fromHistory };
  }

  private apply(records: readonly ConsumedRecord[]): void {
    for (const r of records) {
      if (r.key === null || r.value.length === 0) continue;
      let s: Silence;
      try {
        s = JSON.parse(r.value.toString('utf8')) as Silence;
        if (typeof s?.id !== 'string' || s.id !== r.key || typeof s.updatedAt !== 'string' || !Array.isArray(s.matchers)) throw new Error('not a silence');
      } catch (err) {
        log.warn({ topic: this.opts.topic, offset: r.offset, err: (err as Error).message }, 'a shared silence does not decode; skipped');
        continue;
      }
      this.take(s);
    }
  }

  /** Applies a silence unless the set holds a newer copy of it. */
  private take(s: Silence): void {
    const now = this.opts.now();
    if (!newerSilence(s, this.opts.silences.get(s.id, now))) return;
    try {
      this.opts.silences.add(s, now);
      this.applied++;
    } catch (err) {
      log.warn({ silence: s.id, err: (err as Error).message }, 'a shared silence does not apply (the matcher syntax changed?); ignored');
    }
  }

  private async publish(s: Silence): Promise<void> {
    this.producer ??= this.opts.bus.producer();
    try {
      await (await this.producer).send(this.opts.topic, [{ key: s.id, value: Buffer.from(JSON.stringify(s)) }]);
    } catch (err) {
      this.producer = undefined;
      throw new Error(`cannot share the silence with the other notifier instances on ${this.opts.topic}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** On the topic first (every instance applies it), then in the history. */
  async save(s: Silence): Promise<void> {
    await this.publish(s);
    await this.opts.history.save(s);
  }

  async close(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }
}
