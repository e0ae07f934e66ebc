import { describe, expect, it } from 'vitest';
import { WindowStore, aggregateSamples, combineValues, groupSamples, windowValue, type Aggregate } from '../src/window.js';

const G = { 'host.name': 'a' };

describe('WindowStore', () => {
  it('refuses samples at or before now - window, accepts newer ones', () => {
    const w = new WindowStore(60_000);
    expect(w.add('a', G, 's', 40_000, 1, 100_000)).toBe(false);
    expect(w.add('a', G, 's', 40_001, 1, 100_000)).toBe(true);
    expect(w.size).toBe(1);
  });

  it('evicts samples that left the window and forgets groups left empty', () => {
    const w = new WindowStore(60_000);
    w.add('a', G, 's', 10_000, 1, 10_000);
    w.add('a', G, 's', 50_000, 2, 50_000);
    w.add('b', { 'host.name': 'b' }, 's', 20_000, 3, 20_000);
    w.evict(80_000);
    expect([...w.get('a')!.samples.keys()]).toEqual([50_000]);
    expect(w.get('b')).toBeUndefined();
    w.evict(110_000);
    expect(w.size).toBe(0);
  });

  it('a point delivered twice overwrites itself instead of counting twice', () => {
    const w = new WindowStore(60_000);
    for (let i = 0; i < 2; i++) {
      w.add('a', G, 'user', 1_000, 0.3, 1_000);
      w.add('a', G, 'system', 1_000, 0.2, 1_000);
    }
    expect(windowValue(w.get('a')!, 'sum', 'sum')).toBeCloseTo(0.5, 12);
    expect(windowValue(w.get('a')!, undefined, 'count')).toBe(2);
  });
});

describe('combine, then aggregate', () => {
  const w = new WindowStore(60_000);
  // Two collections of CPU utilization per mode.
  w.add('a', G, 'user', 10_000, 0.3, 10_000);
  w.add('a', G, 'system', 10_000, 0.2, 10_000);
  w.add('a', G, 'user', 20_000, 0.5, 20_000);
  w.add('a', G, 'system', 20_000, 0.3, 20_000);
  const group = w.get('a')!;

  it('combine merges the series of one instant; the aggregate runs over instants', () => {
    expect(groupSamples(group, 'sum').map((s) => [s.timestampMs, s.value])).toEqual([
      [10_000, 0.3 + 0.2],
      [20_000, 0.5 + 0.3],
    ]);
    expect(windowValue(group, 'sum', 'avg')).toBeCloseTo((0.5 + 0.8) / 2, 12);
    expect(windowValue(group, 'sum', 'count')).toBe(2);
    expect(windowValue(group, 'max', 'avg')).toBeCloseTo((0.3 + 0.5) / 2, 12);
    expect(windowValue(group, 'min', 'max')).toBeCloseTo(0.3, 12);
    expect(windowValue(group, 'avg', 'last')).toBeCloseTo((0.5 + 0.3) / 2, 12);
  });

  it('without combine every series sample counts on its own', () => {
    expect(groupSamples(group, undefined)).toHaveLength(4);
    expect(windowValue(group, undefined, 'count')).toBe(4);
    expect(windowValue(group, undefined, 'avg')).toBeCloseTo((0.3 + 0.2 + 0.5 + 0.3) / 4, 12);
    expect(windowValue(group, undefined, 'max')).toBe(0.5);
  });
});

describe('combineValues', () => {
  it.each([
    ['sum', 6],
    ['avg', 2],
    ['max', 3],
    ['min', 1],
  ] as const)('%s of 1, 2, 3 is %d', (how, expected) => {
    expect(combineValues([1, 2, 3], how)).toBe(expected);
  });
});

describe('aggregateSamples', () => {
  const samples = [
    { timestampMs: 1, value: 4 },
    { timestampMs: 2, value: -2 },
    { timestampMs: 3, value: 1 },
  ];
  it.each<[Aggregate, number]>([
    ['avg', 1],
    ['min', -2],
    ['max', 4],
    ['sum', 3],
    ['count', 3],
    ['last', 1],
  ])('%s', (how, expected) => {
    expect(aggregateSamples(samples, how)).toBe(expected);
  });

  it('is undefined over no samples, for every aggregate', () => {
    for (const how of ['avg', 'min', 'max', 'sum', 'count', 'last'] as const) expect(aggregateSamples([], how)).toBeUndefined();
  });

  it('"last" is the newest sample even when samples arrived out of order', () => {
    const w = new WindowStore(60_000);
    w.add('a', G, 's', 30_000, 3, 30_000);
    w.add('a', G, 's', 10_000, 1, 30_000);
    expect(windowValue(w.get('a')!, undefined, 'last')).toBe(3);
  });
});
