import { describe, expect, it } from 'vitest';
import { consumerState } from '../src/consumer-health.js';

describe('consumerState', () => {
  const t = { degradedAfterMs: 30_000, downAfterMs: 300_000 };
  it('is up when caught up, however long ago it last committed', () => {
    expect(consumerState({ lag: 0, lastCommitAt: 0 }, 10_000_000, 0, t)).toEqual({ status: 'up', detail: 'caught up' });
  });

  it('goes degraded, then down, while it has lag and does not advance; names the lag and the last error', () => {
    const p = { lag: 12, lagBytes: 3400, lastCommitAt: 1_000, failing: { since: 1_000, error: 'Code: 241. Memory limit exceeded', attempts: 9 } };
    expect(consumerState(p, 20_000, 0, t).status).toBe('up');
    const degraded = consumerState(p, 40_000, 0, t);
    expect(degraded.status).toBe('degraded');
    expect(degraded.detail).toBe('12 records behind (3400 bytes), no progress for 39s; failing for 39s (9 attempts): Code: 241. Memory limit exceeded');
    expect(consumerState(p, 302_000, 0, t).status).toBe('down');
  });

  it('counts from the start when it never committed, and a fresh commit makes it up again', () => {
    expect(consumerState({ lag: 5, lastCommitAt: 0 }, 100_000, 90_000, t).status).toBe('up');
    expect(consumerState({ lag: 5, lastCommitAt: 0 }, 130_000, 90_000, t).status).toBe('degraded');
    expect(consumerState({ lag: 5, lastCommitAt: 129_000 }, 130_000, 90_000, t).status).toBe('up');
  });
});
