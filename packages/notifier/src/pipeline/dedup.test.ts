import { describe, expect, it } from 'vitest';
import { dedupDecision, SentDeliveries } from './dedup.js';

describe('dedup', () => {
  it('sends what is not known as sent to that channel, skips what is', () => {
    const sent = new SentDeliveries();
    sent.add('k1', 'console');
    expect(dedupDecision((k, c) => sent.has(k, c), 'k1', 'console')).toBe('skip');
    expect(dedupDecision((k, c) => sent.has(k, c), 'k1', 'webhook:ops')).toBe('send');
    expect(dedupDecision((k, c) => sent.has(k, c), 'k2', 'console')).toBe('send');
  });

  it('keeps channels apart even when names and keys could run together', () => {
    const sent = new SentDeliveries();
    sent.add('b', 'a');
    expect(sent.has('', 'ab')).toBe(false);
    expect(sent.has('ab', '')).toBe(false);
  });

  it('lists the keys to look up: those some channel does not know, once each', () => {
    const sent = new SentDeliveries();
    sent.add('k1', 'console');
    sent.add('k1', 'webhook:ops');
    sent.add('k2', 'console');
    expect(sent.unknown(['k1', 'k2', 'k3', 'k2'], ['console', 'webhook:ops'])).toEqual(['k2', 'k3']);
    expect(sent.unknown(['k1', 'k2'], ['console'])).toEqual([]);
    expect(sent.unknown([], ['console'])).toEqual([]);
  });

  it('forgets the least recently added beyond its capacity', () => {
    const sent = new SentDeliveries(3);
    for (const k of ['a', 'b', 'c']) sent.add(k, 'x');
    sent.add('a', 'x'); // refreshed: now the newest
    sent.add('d', 'x');
    expect(sent.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((k) => sent.has(k, 'x'))).toEqual([true, false, true, true]);
  });
});
