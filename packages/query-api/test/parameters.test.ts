import { describe, expect, it } from 'vitest';
import { newestFirstSlices } from '../src/routes/events.js';
import {
  MAX_POINTS,
  NICE_STEPS_MS,
  ParameterError,
  niceStepAtLeast,
  parsePositiveDuration,
  parseTime,
  planRange,
  pointCount,
  severityName,
  sinceStart,
  checkLimit,
} from '../src/parameters.js';

const NOW = Date.UTC(2025, 10, 22, 12, 0, 0); // 2025-11-22T12:00:00Z

function error(fn: () => unknown): ParameterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ParameterError) return err;
    throw err;
  }
  throw new Error('expected a ParameterError');
}

describe('parseTime', () => {
  it.each([
    ['1763780000123', 1763780000123],
    ['0', 0],
    [' 1763780000000 ', 1763780000000],
    ['2025-11-22T02:53:20Z', Date.UTC(2025, 10, 22, 2, 53, 20)],
    ['2025-11-22t02:53:20z', Date.UTC(2025, 10, 22, 2, 53, 20)],
    ['2025-11-22 02:53:20Z', Date.UTC(2025, 10, 22, 2, 53, 20)],
    ['2025-11-22T02:53:20.123Z', Date.UTC(2025, 10, 22, 2, 53, 20, 123)],
    ['2025-11-22T02:53:20.123456789Z', Date.UTC(2025, 10, 22, 2, 53, 20, 123)],
    ['2025-11-22T02:53:20.5Z', Date.UTC(2025, 10, 22, 2, 53, 20, 500)],
    ['2025-11-22T08:23:20+05:30', Date.UTC(2025, 10, 22, 2, 53, 20)],
    ['2025-11-21T21:53:20-05:00', Date.UTC(2025, 10, 22, 2, 53, 20)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2025-12-31T23:59:59Z', Date.UTC(2025, 11, 31, 23, 59, 59)],
  ])('reads %j', (text, ms) => {
    expect(parseTime('from', text)).toBe(ms);
  });

  it.each([
    'yesterday',
    '',
    '-5',
    '1.5',
    '17637800001230000', // 17 digits: not milliseconds of any plausible time
    '2025-11-22',
    '2025-11-22T02:53:20', // no offset: ambiguous
    '2025-11-22T02:53Z',
    '2025-02-29T00:00:00Z', // not a leap year
    '2025-02-30T00:00:00Z',
    '2025-04-31T00:00:00Z',
    '2025-13-01T00:00:00Z',
    '2025-00-10T00:00:00Z',
    '2025-11-00T00:00:00Z',
    '2025-11-22T24:00:00Z',
    '2025-11-22T23:60:00Z',
    '2025-11-22T23:59:60Z',
    '2025-11-22T02:53:20+24:00',
    '2025-11-22T02:53:20+05:60',
    '22/11/2025',
  ])('rejects %j naming the parameter and the accepted forms', (text) => {
    const e = error(() => parseTime('from', text));
    expect(e.parameter).toBe('from');
    expect(e.message).toBe(
      `from: ${JSON.stringify(text)} is not a time (use Unix milliseconds or RFC 3339, e.g. 1763780000000 or 2025-11-22T02:53:20Z)`,
    );
  });
});

describe('parseTime: only what ClickHouse can store', () => {
  it.each([
    ['9999999999999999', 'after'],
    ['9223372036855', 'after'],
    ['2262-04-12T00:00:00Z', 'after'],
    ['9999-12-31T23:59:59Z', 'after'],
    ['1969-12-31T23:59:59Z', 'before'],
    ['1970-01-01T01:00:00+02:00', 'before'],
    ['0000-01-01T00:00:00Z', 'before'],
  ])('refuses %j (%s the stored range), naming the range', (text, side) => {
    expect(error(() => parseTime('from', text)).message).toBe(
      `from: ${JSON.stringify(text)} is ${side} any time stored (give a time between 1970-01-01T00:00:00.000Z and 2262-04-11T23:47:16.854Z)`,
    );
  });

  it('takes both ends of the range', () => {
    expect(parseTime('to', '9223372036854')).toBe(9_223_372_036_854);
    expect(parseTime('to', '1970-01-01T00:00:00Z')).toBe(0);
    expect(parseTime('to', '2262-04-11T23:47:16.854Z')).toBe(9_223_372_036_854);
  });
});

describe('parsePositiveDuration and sinceStart', () => {
  it('refuses a since reaching before 1970, or longer than any time stored', () => {
    expect(error(() => sinceStart('100000d', 1, NOW)).message).toBe(
      'since: "100000d" reaches back before 1970-01-01T00:00:00.000Z, where nothing is stored (use at most 20414d12h)',
    );
    expect(error(() => sinceStart(`${'9'.repeat(400)}d`, 1, NOW)).message).toMatch(/^since: "9+d" is longer than any time stored/);
    expect(error(() => sinceStart('999999999999999w', 1, NOW)).parameter).toBe('since');
    expect(sinceStart(undefined, NOW + 1, NOW)).toBe(0);
  });

  it('reads durations into milliseconds', () => {
    expect(parsePositiveDuration('since', '5m')).toBe(300_000);
    expect(parsePositiveDuration('since', '1h30m')).toBe(5_400_000);
    expect(parsePositiveDuration('since', '250ms')).toBe(250);
  });

  it('rejects what is not a duration, and zero', () => {
    expect(error(() => parsePositiveDuration('since', '5 minutes')).message).toBe(
      'since: "5 minutes" is not a duration (use a duration such as 10s, 5m, 1h)',
    );
    expect(error(() => parsePositiveDuration('since', '0s')).message).toBe(
      'since: "0s" must be longer than zero (use a duration such as 10s, 5m, 1h)',
    );
    expect(error(() => parsePositiveDuration('since', '-5m')).parameter).toBe('since');
  });

  it('counts back from now, with the default when absent', () => {
    expect(sinceStart(undefined, 86_400_000, NOW)).toBe(NOW - 86_400_000);
    expect(sinceStart('15m', 86_400_000, NOW)).toBe(NOW - 900_000);
    expect(error(() => sinceStart('soon', 1, NOW)).parameter).toBe('since');
  });
});

describe('checkLimit', () => {
  it('passes 1 to 1000 and names anything else', () => {
    expect(checkLimit(1)).toBe(1);
    expect(checkLimit(1000)).toBe(1000);
    for (const n of [0, 1001, 1.5, Infinity, -Infinity, Number.NaN]) expect(error(() => checkLimit(n)).parameter).toBe('limit');
    expect(error(() => checkLimit(Infinity)).message).toBe('limit: "Infinity" is not a whole number from 1 to 1000');
  });
});

describe('niceStepAtLeast', () => {
  it.each([
    [0, 1_000],
    [1, 1_000],
    [1_000, 1_000],
    [1_001, 2_000],
    [3_000, 5_000],
    [12_000, 15_000],
    [16_000, 30_000],
    [31_000, 60_000],
    [61_000, 120_000],
    [290_000, 300_000],
    [301_000, 600_000],
    [1_800_001, 3_600_000],
    [7_200_001, 10_800_000],
    [43_200_001, 86_400_000],
    [86_400_001, 172_800_000],
    [172_800_001, 604_800_000],
    [604_800_001, 8 * 86_400_000],
    [30.5 * 86_400_000, 31 * 86_400_000],
  ])('%d ms → %d ms', (ms, step) => {
    expect(niceStepAtLeast(ms)).toBe(step);
  });

  it('is ascending, starts at 1s, and every entry maps to itself', () => {
    expect(NICE_STEPS_MS[0]).toBe(1_000);
    for (let i = 1; i < NICE_STEPS_MS.length; i++) expect(NICE_STEPS_MS[i]!).toBeGreaterThan(NICE_STEPS_MS[i - 1]!);
    for (const s of NICE_STEPS_MS) expect(niceStepAtLeast(s)).toBe(s);
  });
});

describe('planRange', () => {
  it('defaults to the last hour ending now, at 15s (240 points)', () => {
    expect(planRange({}, NOW)).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW, stepMs: 15_000 });
  });

  it('defaults from to one hour before an explicit to, and to to now with an explicit from', () => {
    expect(planRange({ to: '1763780000000' }, NOW)).toEqual({ fromMs: 1763780000000 - 3_600_000, toMs: 1763780000000, stepMs: 15_000 });
    expect(planRange({ from: String(NOW - 600_000) }, NOW)).toEqual({ fromMs: NOW - 600_000, toMs: NOW, stepMs: 2_000 });
  });

  it.each([
    [60_000, 1_000], // 1 minute: 60 points at the 1s floor
    [300_000, 1_000], // 5 minutes: exactly 300 points
    [300_001, 2_000],
    [6 * 3_600_000, 120_000], // 6h / 300 = 72s → 2m
    [86_400_000, 300_000], // 24h / 300 = 288s → 5m
    [7 * 86_400_000, 3_600_000], // 7d / 300 = 2016s → 1h
    [30 * 86_400_000, 10_800_000], // 30d / 300 = 2.4h → 3h
    [365 * 86_400_000, 172_800_000], // 1y / 300 = 29.2h → 2d
  ])('a %d ms range gets a default step of %d ms, at most ~300 points', (span, step) => {
    const r = planRange({ from: String(NOW - span), to: String(NOW) }, NOW);
    expect(r.stepMs).toBe(step);
    expect(pointCount(r.fromMs, r.toMs, r.stepMs)).toBeLessThanOrEqual(300);
  });

  it('takes an explicit step', () => {
    expect(planRange({ step: '10s' }, NOW).stepMs).toBe(10_000);
    expect(planRange({ step: '1m' }, NOW).stepMs).toBe(60_000);
    expect(planRange({ step: '1500ms' }, NOW).stepMs).toBe(1_500);
  });

  it('accepts exactly the maximum number of points and refuses one more', () => {
    const from = String(NOW - MAX_POINTS * 1_000);
    expect(planRange({ from, to: String(NOW), step: '1s' }, NOW).stepMs).toBe(1_000);
    const e = error(() => planRange({ from: String(NOW - MAX_POINTS * 1_000 - 1), to: String(NOW), step: '1s' }, NOW));
    expect(e.parameter).toBe('step');
    expect(e.message).toBe('step: "1s" over 3h3m20s1ms gives 11001 points, more than the 11000 allowed (use a step of at least 2s, or omit step)');
  });

  it('suggests the smallest nice step that fits', () => {
    const e = error(() => planRange({ from: String(NOW - 2 * 86_400_000), to: String(NOW), step: '1s' }, NOW));
    expect(e.message).toBe('step: "1s" over 2d gives 172800 points, more than the 11000 allowed (use a step of at least 30s, or omit step)');
  });

  it('refuses a step that is not a duration or under 1s', () => {
    expect(error(() => planRange({ step: 'fast' }, NOW)).message).toBe('step: "fast" is not a duration (use 10s, 1m, 1h)');
    expect(error(() => planRange({ step: '500ms' }, NOW)).message).toBe('step: "500ms" is below the minimum of 1s');
    expect(error(() => planRange({ step: '0s' }, NOW)).message).toBe('step: "0s" is below the minimum of 1s');
  });

  it('refuses a step longer than ten years, before it reaches SQL', () => {
    expect(error(() => planRange({ step: '5000w' }, NOW)).message).toBe('step: "5000w" is above the maximum of 3650d (omit step for one that fits from and to)');
    expect(error(() => planRange({ step: `${'9'.repeat(400)}s` }, NOW)).parameter).toBe('step');
    expect(planRange({ step: '3650d' }, NOW).stepMs).toBe(3650 * 86_400_000);
  });

  it('refuses from and to outside the stored range, and keeps a default from at 1970', () => {
    expect(error(() => planRange({ from: '9999999999999999' }, NOW)).parameter).toBe('from');
    expect(error(() => planRange({ to: '9999999999999999' }, NOW)).parameter).toBe('to');
    expect(planRange({ to: '1000' }, NOW)).toMatchObject({ fromMs: 0, toMs: 1000 });
  });

  it('names from or to when one is not a time', () => {
    expect(error(() => planRange({ from: 'yesterday' }, NOW)).message).toBe(
      'from: "yesterday" is not a time (use Unix milliseconds or RFC 3339, e.g. 1763780000000 or 2025-11-22T02:53:20Z)',
    );
    expect(error(() => planRange({ from: '1', to: 'tomorrow' }, NOW)).parameter).toBe('to');
  });

  it('requires from before to', () => {
    expect(error(() => planRange({ from: String(NOW), to: String(NOW) }, NOW)).message).toBe(
      'from: 2025-11-22T12:00:00.000Z is not before to (2025-11-22T12:00:00.000Z); give a from earlier than to',
    );
    expect(error(() => planRange({ from: '2025-11-23T00:00:00Z' }, NOW)).parameter).toBe('from');
  });
});

describe('pointCount', () => {
  it('counts partial buckets', () => {
    expect(pointCount(0, 60_000, 10_000)).toBe(6);
    expect(pointCount(0, 60_001, 10_000)).toBe(7);
    expect(pointCount(0, 1, 10_000)).toBe(1);
  });
});

describe('severityName', () => {
  it.each([
    [0, ''],
    [1, 'trace'],
    [4, 'trace'],
    [5, 'debug'],
    [9, 'info'],
    [12, 'info'],
    [13, 'warn'],
    [17, 'error'],
    [20, 'error'],
    [21, 'fatal'],
    [24, 'fatal'],
  ])('%d is %j', (n, name) => {
    expect(severityName(n)).toBe(name);
  });
});

describe('newestFirstSlices', () => {
  const H = 3_600_000;
  it('cuts a window into slices from the newest, an hour then four times longer, covering it once', () => {
    expect(newestFirstSlices(0, 24 * H)).toEqual([
      [23 * H, 24 * H],
      [19 * H, 23 * H],
      [0, 19 * H],
    ]);
    expect(newestFirstSlices(0, H)).toEqual([[0, H]]);
    expect(newestFirstSlices(0, 90 * 60_000)).toEqual([[0, 90 * 60_000]]);
    expect(newestFirstSlices(5, 5)).toEqual([]);
    for (let i = 0; i < 500; i++) {
      const from = Math.floor(Math.random() * 1e12);
      const to = from + Math.floor(Math.random() * 400 * H);
      const s = newestFirstSlices(from, to);
      if (to > from) expect(s[0]![1]).toBe(to);
      let end = to;
      for (const [a, b] of s) {
        expect(b).toBe(end);
        expect(a).toBeLessThan(b);
        end = a;
      }
      expect(end).toBe(Math.min(from, to));
      expect(s.length).toBeLessThanOrEqual(6);
    }
  });
});
