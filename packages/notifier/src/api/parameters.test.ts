import { describe, expect, it } from 'vitest';
import { BadRequest, checkLimit, MAX_SILENCE_MS, silenceTimes, sinceStart } from './parameters.js';

const NOW = Date.UTC(2025, 10, 22, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof BadRequest) return err.message;
    throw err;
  }
  throw new Error('expected a BadRequest');
}

describe('silenceTimes', () => {
  it('starts now by default and ends after duration, or at endsAt', () => {
    expect(silenceTimes({ duration: '2h' }, NOW)).toEqual({ startsAt: iso(NOW), endsAt: iso(NOW + 7_200_000) });
    expect(silenceTimes({ startsAt: '2025-11-23T00:00:00+01:00', duration: '30m' }, NOW)).toEqual({ startsAt: '2025-11-22T23:00:00.000Z', endsAt: '2025-11-22T23:30:00.000Z' });
    expect(silenceTimes({ endsAt: '2025-11-22T13:00:00Z', duration: '5m' }, NOW).endsAt).toBe('2025-11-22T13:00:00.000Z');
  });

  it('takes the longest silence and refuses one millisecond more', () => {
    expect(silenceTimes({ duration: '3650d' }, NOW).endsAt).toBe(iso(NOW + MAX_SILENCE_MS));
    expect(refusal(() => silenceTimes({ endsAt: iso(NOW + MAX_SILENCE_MS + 1) }, NOW))).toMatch(/^endsAt: .* is more than 3650d from now/);
    expect(refusal(() => silenceTimes({ startsAt: iso(NOW + 86_400_000), duration: '3650d' }, NOW))).toMatch(/^duration: "3650d" from startsAt ends more than 3650d from now/);
  });

  it.each([
    [{ startsAt: 'now', duration: '1h' }, 'startsAt'],
    [{ startsAt: '1', duration: '1h' }, 'startsAt'], // Date.parse reads "1" as 2001
    [{ endsAt: '2025-11-22' }, 'endsAt'],
    [{ duration: 'forever' }, 'duration'],
    [{ duration: '1e400d' }, 'duration'],
    [{}, 'endsAt'],
  ])('refuses %j naming %s', (body, field) => {
    expect(refusal(() => silenceTimes(body, NOW)).startsWith(`${field}: `)).toBe(true);
  });
});

describe('sinceStart and checkLimit', () => {
  it('count back from now, never before 1970', () => {
    expect(sinceStart('24h', NOW)).toBe(NOW - 86_400_000);
    expect(sinceStart(`${NOW}ms`, NOW)).toBe(0);
    expect(refusal(() => sinceStart(`${NOW + 1}ms`, NOW))).toMatch(/^since: /);
  });

  it('takes whole limits within bounds', () => {
    expect(checkLimit(5, 10)).toBe(5);
    for (const n of [0, 11, 2.5, Infinity, Number.NaN]) expect(refusal(() => checkLimit(n, 10))).toMatch(/^limit: /);
  });
});
