import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountWindow, CounterWindow, SampleWindow, seriesIncrease } from '../src/kinds/samples.js';

describe('SampleWindow', () => {
  it('windows are [from, to): a sample at the end belongs to the next window', () => {
    const w = new SampleWindow();
    w.add(10, 's', 1);
    w.add(20, 's', 3);
    expect(w.aggregate(10, 20, undefined, 'sum')).toBe(1);
    expect(w.aggregate(11, 21, undefined, 'sum')).toBe(3);
    expect(w.aggregate(0, 10, undefined, 'sum')).toBeUndefined();
  });

  it('a sample delivered twice overwrites itself; out of order ones are sorted in', () => {
    const w = new SampleWindow();
    w.add(20, 'user', 0.3);
    w.add(10, 'user', 0.1);
    w.add(20, 'system', 0.2);
    w.add(20, 'user', 0.3);
    expect(w.ts).toEqual([10, 20, 20]);
    expect(w.aggregate(0, 30, 'sum', 'last')).toBeCloseTo(0.5, 12);
    expect(w.aggregate(0, 30, 'sum', 'avg')).toBeCloseTo(0.3, 12);
    expect(w.aggregate(0, 30, undefined, 'count')).toBe(3);
    expect(w.aggregate(0, 30, 'max', 'min')).toBeCloseTo(0.1, 12);
  });

  it('evicts before a time, optionally keeping the newest', () => {
    const w = new SampleWindow();
    for (const t of [1, 2, 3]) w.add(t, 's', t);
    w.evictBefore(10, 1);
    expect(w.ts).toEqual([3]);
    w.evictBefore(10);
    expect(w.size).toBe(0);
  });

  it('aggregates match a plain computation (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 100 }), (samples, from) => {
        const w = new SampleWindow();
        const byTs = new Map<number, number>();
        samples.forEach(([ts, v]) => {
          w.add(ts, 'one', v);
          byTs.set(ts, v);
        });
        const inWindow = [...byTs].filter(([ts]) => ts >= from && ts < from + 30).map(([, v]) => v);
        expect(w.aggregate(from, from + 30, undefined, 'sum')).toBe(inWindow.length ? inWindow.reduce((a, b) => a + b, 0) : undefined);
        expect(w.aggregate(from, from + 30, undefined, 'count')).toBe(inWindow.length || undefined);
      }),
    );
  });
});

describe('CountWindow', () => {
  it('counts events in [from, to), several at one instant', () => {
    const c = new CountWindow();
    for (const t of [5, 5, 7, 12, 3]) c.add(t);
    expect(c.count(0, 10)).toBe(4);
    expect(c.count(5, 12)).toBe(3);
    c.evictBefore(6);
    expect(c.count(0, 100)).toBe(2);
  });
});

describe('counter increase (Prometheus resets)', () => {
  const series = (points: [number, number, number?][], delta = false) => ({
    ts: points.map((p) => p[0]),
    values: points.map((p) => p[1]),
    starts: points.map((p) => p[2] ?? 0),
    delta,
  });

  it('counts from the newest point before the window', () => {
    expect(seriesIncrease(series([[0, 10], [10, 12], [20, 15]]), 5, 25)).toBe(5);
  });
  it('a drop is a reset: the new value is all increase', () => {
    expect(seriesIncrease(series([[0, 10], [10, 12], [20, 3], [30, 5]]), 5, 35)).toBe(2 + 3 + 2);
  });
  it('a new start time is a reset even when the value did not drop', () => {
    expect(seriesIncrease(series([[0, 10, 1], [10, 12, 1], [20, 20, 15]]), 5, 25)).toBe(2 + 20);
  });
  it('without a base, only a counter that started in the window counts from zero', () => {
    expect(seriesIncrease(series([[10, 4, 8], [20, 6, 8]]), 5, 25)).toBe(6);
    expect(seriesIncrease(series([[10, 4, 1], [20, 6, 1]]), 5, 25)).toBe(2);
  });
  it('delta points add up; no point in the window is no value', () => {
    expect(seriesIncrease(series([[0, 1], [10, 2], [20, 3]], true), 5, 25)).toBe(5);
    expect(seriesIncrease(series([[0, 1]]), 5, 25)).toBeUndefined();
  });
  it('CounterWindow sums its series and keeps a base across eviction', () => {
    const w = new CounterWindow();
    w.add('a', 0, 10, 0, false);
    w.add('a', 10, 12, 0, false);
    w.add('b', 10, 1, 0, true);
    w.evictBefore(5);
    expect(w.series.get('a')!.ts).toEqual([0, 10]);
    expect(w.increase(5, 15)).toBe(2 + 1);
    // A series with no point since the eviction time has been away a whole window: forgotten.
    w.add('a', 20, 13, 0, false);
    w.evictBefore(11);
    expect([...w.series.keys()]).toEqual(['a']);
    expect(w.series.get('a')!.ts).toEqual([10, 20]);
  });
  it('increase is never negative, whatever the resets (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 30 }), (values) => {
        const s = series(values.map((v, i) => [i * 10, v]));
        expect(seriesIncrease(s, 0, values.length * 10)!).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
