import { Type, type StaticDecode } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';
import { CHANNEL_KINDS } from '../channels/registry.js';
import type { HeldBack } from '../model.js';

/**
 * Stage "rate limit" of delivery: message budgets per channel (SMS at most N per hour, say), as
 * sliding windows over the times messages were sent. A message over budget is held back, never
 * queued: a storm costs at most `max` messages per window, and what was held is summarised
 * (HeldBack) in the next message the channel sends, or in a summary of its own once the budget
 * allows (`summariesDue`).
 *
 * A limit on a channel kind is one budget shared by every channel of that kind (a provider
 * account); a limit on a channel name is that channel's own, and wins over its kind's.
 */

/** One entry of `notifier.rateLimits`. */
export const RateLimitConfig = Type.Object(
  {
    channel: Type.String({ minLength: 1, description: 'A channel kind (sms, email, slack, ...) or a channel name (`<receiver>/<kind>[<index>]`, `<kind>:<name>`); a name wins over a kind.' }),
    max: Type.Integer({ minimum: 1, description: 'At most this many messages...' }),
    per: Duration({ default: '1h', description: '...per this duration (a sliding window); what is held back is summarised in the next message sent.' }),
  },
  { additionalProperties: false },
);
export type RateLimitConfig = StaticDecode<typeof RateLimitConfig>;

export interface ChannelRef {
  name: string;
  kind: string;
}

export type RateDecision =
  | { allowed: true; heldBack?: HeldBack }
  /** retryAt: when the budget has room again. */
  | { allowed: false; retryAt: number };

export interface RateLimiterState {
  version: 1;
  /** budget key → send times (epoch ms), oldest first. */
  sent: Record<string, number[]>;
  /** channel name → what was held back, with the channel's kind for summaries. */
  held: Record<string, { kind: string; count: number; firing: number; resolved: number; since: number }>;
}

interface Limit {
  key: string;
  max: number;
  per: number;
}

export class RateLimiter {
  private readonly byName = new Map<string, Limit>();
  private readonly byKind = new Map<string, Limit>();
  private sent = new Map<string, number[]>();
  private held = new Map<string, { kind: string; count: number; firing: number; resolved: number; since: number }>();

  constructor(limits: readonly RateLimitConfig[] = [], kinds: Iterable<string> = CHANNEL_KINDS) {
    const known = new Set(kinds);
    for (const l of limits) {
      const limit = { key: l.channel, max: l.max, per: l.per };
      (known.has(l.channel) ? this.byKind : this.byName).set(l.channel, limit);
    }
  }

  limitFor(channel: ChannelRef): { max: number; per: number } | undefined {
    const l = this.byName.get(channel.name) ?? this.byKind.get(channel.kind);
    return l && { max: l.max, per: l.per };
  }

  /**
   * Asks to send one message with `content` alerts on `channel` at `now`. Allowed: the budget is
   * spent and whatever was held back before is handed over (to put in the message's heldBack)
   * and cleared. Held: counted for the next summary.
   */
  take(channel: ChannelRef, now: number, content: { firing: number; resolved: number } = { firing: 0, resolved: 0 }): RateDecision {
    const limit = this.byName.get(channel.name) ?? this.byKind.get(channel.kind);
    if (limit) {
      const times = this.window(limit, now);
      if (times.length >= limit.max) {
        let h = this.held.get(channel.name);
        if (!h) this.held.set(channel.name, (h = { kind: channel.kind, count: 0, firing: 0, resolved: 0, since: now }));
        h.count++;
        h.firing += content.firing;
        h.resolved += content.resolved;
        return { allowed: false, retryAt: times[0]! + limit.per };
      }
      times.push(now);
    }
    const heldBack = this.release(channel.name);
    return heldBack ? { allowed: true, heldBack } : { allowed: true };
  }

  /** What is held back on a channel now, without clearing it. */
  heldBack(channelName: string): HeldBack | undefined {
    const h = this.held.get(channelName);
    return h && { count: h.count, firing: h.firing, resolved: h.resolved, since: new Date(h.since).toISOString() };
  }

  /** Earliest time a channel with messages held back has budget for a summary; undefined when nothing is held. */
  nextSummaryAt(): number | undefined {
    let min: number | undefined;
    for (const [name, h] of this.held) {
      const limit = this.byName.get(name) ?? this.byKind.get(h.kind);
      const times = limit ? this.sent.get(limit.key) ?? [] : [];
      const at = limit && times.length >= limit.max ? times[times.length - limit.max]! + limit.per : h.since;
      if (min === undefined || at < min) min = at;
    }
    return min;
  }

  /**
   * Channels with messages held back and budget again at `now`: each gets one summary message
   * (its budget is spent here) carrying the returned HeldBack, which is cleared.
   */
  summariesDue(now: number): { channel: ChannelRef; heldBack: HeldBack }[] {
    const out: { channel: ChannelRef; heldBack: HeldBack }[] = [];
    for (const [name, h] of [...this.held]) {
      const channel = { name, kind: h.kind };
      const limit = this.byName.get(name) ?? this.byKind.get(h.kind);
      if (limit) {
        const times = this.window(limit, now);
        if (times.length >= limit.max) continue;
        times.push(now);
      }
      out.push({ channel, heldBack: this.release(name)! });
    }
    return out;
  }

  state(): RateLimiterState {
    return { version: 1, sent: Object.fromEntries([...this.sent].map(([k, v]) => [k, [...v]])), held: Object.fromEntries([...this.held].map(([k, v]) => [k, { ...v }])) };
  }

  restore(state: RateLimiterState): void {
    this.sent = new Map(Object.entries(state.sent).map(([k, v]) => [k, [...v]]));
    this.held = new Map(Object.entries(state.held).map(([k, v]) => [k, { ...v }]));
  }

  /** The send times within the window ending at `now`, older ones forgotten. */
  private window(limit: Limit, now: number): number[] {
    let times = this.sent.get(limit.key);
    if (!times) this.sent.set(limit.key, (times = []));
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - limit.per) drop++;
    if (drop > 0) times.splice(0, drop);
    return times;
  }

  private release(name: string): HeldBack | undefined {
    const h = this.heldBack(name);
    this.held.delete(name);
    return h;
  }
}
