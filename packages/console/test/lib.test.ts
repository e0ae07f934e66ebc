import { describe, expect, it } from 'vitest';
import { ago, bytes, duration, levelOf, number, percent, timestamp } from '../web/lib/format.js';
import { formatRoute, parseRoute } from '../web/lib/route.js';
import { align, labelOf, rangeQuery, rate, sumWhere } from '../web/lib/series.js';
import { matcher, matchersFor, silenceBody } from '../web/lib/silence.js';
import { eventsQuery, mergeNewer, tailFrom } from '../web/lib/tail.js';

/** The console's logic, without a browser: formatting, routes, chart data, silences, the live tail. */

const NOW = Date.UTC(2025, 10, 22, 12);

describe('format', () => {
  it('percent, bytes, durations, relative times, numbers', () => {
    expect([percent(0.423), percent(0.4235, 1), percent(null), percent(Number.NaN)]).toEqual(['42 %', '42.4 %', '–', '–']);
    expect([bytes(0), bytes(1023), bytes(1536), bytes(10 * 1024 ** 3), bytes(-2048), bytes(undefined)]).toEqual(['0 B', '1023 B', '1.5 KB', '10 GB', '-2.0 KB', '–']);
    expect([duration(0), duration(40), duration(302), duration(90_061), duration(-1)]).toEqual(['0s', '40s', '5m 2s', '1d 1h', '–']);
    expect([ago(new Date(NOW - 2000).toISOString(), NOW), ago(new Date(NOW - 300_000).toISOString(), NOW), ago(new Date(NOW + 7_200_000).toISOString(), NOW), ago('never', NOW)]).toEqual([
      'just now',
      '5m ago',
      'in 2h',
      '–',
    ]);
    expect(timestamp('2025-11-22T11:58:00.123Z')).toBe('2025-11-22 11:58:00');
    expect(timestamp('2025-11-22T11:58:00Z', 60)).toBe('2025-11-22 12:58:00');
    expect([number(3), number(2.345), number(12_345), number(2_500_000), number(null)]).toEqual(['3', '2.35', '12.3k', '2.5M', '–']);
  });

  it('levels by warning and critical thresholds', () => {
    expect([levelOf(0.5, 0.7, 0.9), levelOf(0.7, 0.7, 0.9), levelOf(0.95, 0.7, 0.9), levelOf(null, 0.7, 0.9)]).toEqual(['ok', 'warning', 'critical', 'unknown']);
  });
});

describe('routes in the hash', () => {
  it.each([
    ['', { page: 'overview', params: {} }],
    ['#/', { page: 'overview', params: {} }],
    ['#/nonsense', { page: 'overview', params: {} }],
    ['#/host/web%2F1?range=24h', { page: 'host', arg: 'web/1', params: { range: '24h' } }],
    ['#/events?q=payment%20failed&severity=error', { page: 'events', params: { q: 'payment failed', severity: 'error' } }],
    ['#/host/%E0%A4%A', { page: 'host', arg: '%E0%A4%A', params: {} }],
  ])('%j', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('round-trips and drops empty parameters', () => {
    const r = { page: 'host' as const, arg: 'pos 01', params: { range: '7d', empty: '' } };
    expect(formatRoute(r)).toBe('#/host/pos%2001?range=7d');
    expect(parseRoute(formatRoute(r))).toEqual({ page: 'host', arg: 'pos 01', params: { range: '7d' } });
    expect(formatRoute({ page: 'overview', params: {} })).toBe('#/');
  });
});

describe('chart data', () => {
  it('aligns lines on one x axis in seconds, null where a line has no point', () => {
    expect(align([{ label: 'a', points: [[2000, 1], [1000, 2]] }, { label: 'b', points: [[3000, 5]] }])).toEqual({
      x: [1, 2, 3],
      lines: [
        { label: 'a', values: [2, 1, null] },
        { label: 'b', values: [null, null, 5] },
      ],
    });
  });

  it('sums the non-idle modes per bucket', () => {
    const s = (mode: string, points: [number, number | null][]) => ({ host: 'h', attributes: { 'cpu.mode': mode }, points });
    expect(sumWhere([s('user', [[0, 0.2], [10, 0.3]]), s('system', [[0, 0.1], [10, null]]), s('idle', [[0, 0.7], [10, 0.7]])], (a) => a['cpu.mode'] !== 'idle')).toEqual([
      [0, 0.30000000000000004],
      [10, 0.3],
    ]);
  });

  it('turns a cumulative counter into per-second rates, skipping resets', () => {
    expect(rate([[0, 100], [10_000, 1100], [20_000, 50], [30_000, 250], [40_000, null]])).toEqual([
      [10_000, 100],
      [30_000, 20],
    ]);
    expect(rate([[0, 1]])).toEqual([]);
  });

  it('labels and ranges', () => {
    expect(labelOf({ 'network.interface.name': 'eth0', 'network.io.direction': 'receive' }, ['network.interface.name', 'network.io.direction'])).toBe('eth0 receive');
    expect(labelOf({}, ['x'])).toBe('value');
    expect(rangeQuery('7d', NOW)).toEqual({ from: NOW - 604_800_000, to: NOW, step: '1h' });
    expect(rangeQuery('24h', NOW).step).toBe('5m');
    expect(rangeQuery('1h', NOW).step).toBe('30s');
  });
});

describe('silences from the page', () => {
  it("matches exactly the alert's label set, escaped as Alertmanager reads it", () => {
    expect(matcher('path', 'C:\\x "y"\nz')).toBe('path="C:\\\\x \\"y\\"\\nz"');
    expect(matchersFor({ 'host.name': 'web-1', alertname: 'cpu_high', empty: '' })).toEqual(['alertname="cpu_high"', 'host.name="web-1"']);
    expect(silenceBody({ alertname: 'x' }, '4h', '')).toEqual({ matchers: ['alertname="x"'], duration: '4h', comment: 'silenced from the console', createdBy: 'console' });
  });
});

describe('live tail', () => {
  const e = (id: string, s: number) => ({ id, timestamp: new Date(NOW + s * 1000).toISOString() });

  it('puts newer records first, without repeats, up to the cap', () => {
    expect(mergeNewer([e('b', 2), e('a', 1)], [e('c', 3), e('b', 2)]).map((x) => x.id)).toEqual(['c', 'b', 'a']);
    expect(mergeNewer([e('a', 1)], [e('b', 2), e('c', 3)], 2).map((x) => x.id)).toEqual(['c', 'b']);
  });

  it('polls from the newest time shown', () => {
    expect(tailFrom([e('a', 1), e('b', 5)], 0)).toBe(NOW + 5000);
    expect(tailFrom([], 42)).toBe(42);
  });

  it('builds the events query from the filters, leaving empty ones out', () => {
    expect(eventsQuery({ q: ' payment ', severity: '', host: 'pos-1', unknown: 'x' }, { limit: '100' })).toBe('q=payment&host=pos-1&limit=100');
  });
});
