import { describe, expect, it } from 'vitest';
import { checkSection } from '@vigil/platform';
import { RateLimitConfig, RateLimiter } from './ratelimit.js';

const H = 3_600_000;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const sms = { name: 'oncall/sms[0]', kind: 'sms' as const };
const sms2 = { name: 'ops/sms[0]', kind: 'sms' as const };
const slack = { name: 'oncall/slack[0]', kind: 'slack' as const };

describe('rate limits', () => {
  it('reads notifier.rateLimits entries, a kind or a channel name; an empty budget is refused naming the key', () => {
    const limit = checkSection(RateLimitConfig, { channel: 'sms', max: 2 }, 'f: notifier.rateLimits[0]');
    expect(limit).toEqual({ channel: 'sms', max: 2, per: H });
    expect(new RateLimiter([limit]).limitFor({ name: 'oncall/sms[0]', kind: 'sms' })).toEqual({ max: 2, per: H });
    expect(() => checkSection(RateLimitConfig, { channel: 'sms', max: 0 }, 'f: notifier.rateLimits[0]')).toThrow(/f: notifier\.rateLimits\[0\]\.max/);
  });

  it('allows max per sliding window and holds the rest, summarised in the next message allowed', () => {
    const rl = new RateLimiter([{ channel: 'sms', max: 3, per: H }]);
    const decisions = [0, 1, 2, 3, 4, 5].map((i) => rl.take(sms, T0 + i * 60_000, { firing: 2, resolved: i === 5 ? 1 : 0 }));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false, false]);
    expect(decisions[3]).toEqual({ allowed: false, retryAt: T0 + H });
    expect(rl.heldBack(sms.name)).toEqual({ count: 3, firing: 6, resolved: 1, since: new Date(T0 + 3 * 60_000).toISOString() });
    // Sliding: the first slot frees at T0+1h exactly.
    expect(rl.take(sms, T0 + H - 1).allowed).toBe(false);
    const next = rl.take(sms, T0 + H, { firing: 1, resolved: 0 });
    expect(next).toEqual({ allowed: true, heldBack: { count: 4, firing: 6, resolved: 1, since: new Date(T0 + 3 * 60_000).toISOString() } });
    expect(rl.heldBack(sms.name)).toBeUndefined();
    // Channels without a limit are never held.
    for (let i = 0; i < 100; i++) expect(rl.take(slack, T0).allowed).toBe(true);
  });

  it('a kind limit is one budget for every channel of the kind; a name limit wins', () => {
    const rl = new RateLimiter([
      { channel: 'sms', max: 2, per: H },
      { channel: 'ops/sms[0]', max: 5, per: H },
    ]);
    const third = { name: 'x/sms[0]', kind: 'sms' as const };
    expect([rl.take(sms, T0).allowed, rl.take(third, T0).allowed, rl.take(sms, T0).allowed]).toEqual([true, true, false]);
    expect(rl.limitFor(sms2)).toEqual({ max: 5, per: H });
    expect([1, 2, 3, 4, 5, 6].map(() => rl.take(sms2, T0).allowed)).toEqual([true, true, true, true, true, false]);
  });

  it('a storm cannot run through the budget, and the summary goes out once there is room', () => {
    const rl = new RateLimiter([{ channel: 'sms', max: 10, per: H }]);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (rl.take(sms, T0 + i * 1000, { firing: 1, resolved: 0 }).allowed) allowed++;
    expect(allowed).toBe(10);
    expect(rl.nextSummaryAt()).toBe(T0 + H);
    expect(rl.summariesDue(T0 + H - 1)).toEqual([]);
    const due = rl.summariesDue(T0 + H);
    expect(due).toEqual([{ channel: sms, heldBack: { count: 990, firing: 990, resolved: 0, since: new Date(T0 + 10_000).toISOString() } }]);
    expect(rl.nextSummaryAt()).toBeUndefined();
    // The summary spent a slot: 9 left in the window that started at T0+1h... plus those freed since.
    let more = 0;
    for (let i = 0; i < 20; i++) if (rl.take(sms, T0 + H, { firing: 1, resolved: 0 }).allowed) more++;
    expect(more).toBe(0); // slots 1..9 of the first burst (T0+1s..T0+9s) are still in the window
    expect(rl.take(sms, T0 + H + 9_000).allowed).toBe(true);
  });

  it('state round-trips', () => {
    const rl = new RateLimiter([{ channel: 'sms', max: 1, per: H }]);
    rl.take(sms, T0);
    rl.take(sms, T0 + 1, { firing: 1, resolved: 0 });
    const copy = new RateLimiter([{ channel: 'sms', max: 1, per: H }]);
    copy.restore(JSON.parse(JSON.stringify(rl.state())));
    expect(copy.take(sms, T0 + 2).allowed).toBe(false);
    expect(copy.take(sms, T0 + H)).toMatchObject({ allowed: true, heldBack: { count: 2, firing: 1 } });
  });
});
