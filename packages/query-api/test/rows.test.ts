import { describe, expect, it } from 'vitest';
import { describeSchemaError } from '../src/errors.js';
import { alertFromRow, orderActive } from '../src/routes/alerts.js';
import { eventFromRow } from '../src/routes/events.js';
import { seriesFromRows } from '../src/routes/series.js';
import { decodeCursor } from '../src/parameters.js';

/**
 * Row shaping without a server. A ClickHouse server quotes 64-bit integers in JSON
 * (output_format_json_quote_64bit_integers) where chDB does not, so both forms are fed here.
 */

describe('seriesFromRows', () => {
  it('sorts series and points, merges equal attribute sets, reads quoted numbers and null', () => {
    const series = seriesFromRows([
      { host: 'b', attributes: {}, points: [['2000', 3]] },
      { host: 'a', attributes: { state: 'user', cpu: '1' }, points: [[1000, '0.5']] },
      { host: 'a', attributes: { cpu: '0' }, points: [['2000', 2], [1000, 1]] },
      { host: 'a', attributes: { cpu: '1', state: 'user' }, points: [[2000, null]] },
    ]);
    expect(series).toEqual([
      { host: 'a', attributes: { cpu: '0' }, points: [[1000, 1], [2000, 2]] },
      { host: 'a', attributes: { cpu: '1', state: 'user' }, points: [[1000, 0.5], [2000, null]] },
      { host: 'b', attributes: {}, points: [[2000, 3]] },
    ]);
  });

  it('gives no series for no rows', () => {
    expect(seriesFromRows([])).toEqual([]);
  });
});

describe('alertFromRow', () => {
  const row = {
    fingerprint: 'f1',
    status: 'firing' as const,
    severity: 'warning' as const,
    rule: 'cpu_high',
    labels: { alertname: 'cpu_high' },
    annotations: {},
    value: 91.5,
  };

  it('omits endsAt while firing (stored as the epoch) and reads quoted 64-bit numbers', () => {
    expect(alertFromRow({ ...row, startsAt: '1763780000123', endsAt: '0', window: '300000', at: '1763780000500' })).toEqual({
      ...row,
      startsAt: '2025-11-22T02:53:20.123Z',
      window: 300_000,
      at: '2025-11-22T02:53:20.500Z',
    });
  });

  it('gives endsAt once resolved', () => {
    const a = alertFromRow({ ...row, status: 'resolved', startsAt: 1763780000000, endsAt: 1763780060000, window: 60000, at: 1763780060000 });
    expect(a.endsAt).toBe('2025-11-22T02:54:20.000Z');
  });
});

describe('orderActive', () => {
  const item = (fingerprint: string, severity: 'info' | 'warning' | 'critical', startsAt: string) => ({
    fingerprint,
    status: 'firing' as const,
    severity,
    labels: {},
    annotations: {},
    startsAt,
    value: 0,
    rule: 'r',
    window: 0,
    at: startsAt,
  });

  it('puts the most severe first, then the newest, then by fingerprint', () => {
    const ordered = orderActive([
      item('w-old', 'warning', '2025-11-22T00:00:00Z'),
      item('i', 'info', '2025-11-22T05:00:00Z'),
      item('c', 'critical', '2025-11-21T00:00:00Z'),
      item('w-new-b', 'warning', '2025-11-22T01:00:00Z'),
      item('w-new-a', 'warning', '2025-11-22T01:00:00Z'),
    ]);
    expect(ordered.map((a) => a.fingerprint)).toEqual(['c', 'w-new-a', 'w-new-b', 'w-old', 'i']);
  });
});

describe('eventFromRow', () => {
  const base = { ns: '1763780000123456789', h: '42', eventName: 'app.startup', body: 'b', host: 'h', service: 's', attributes: {}, resource: {}, traceId: '' };

  it('keeps SeverityText when sent', () => {
    expect(eventFromRow({ ...base, severityText: 'Warning', severityNumber: 13 })).toMatchObject({ severity: 'Warning', severityNumber: 13, timestamp: '2025-11-22T02:53:20.123Z' });
  });

  it('carries its cursor as id: time in nanoseconds and content hash, round-tripping', () => {
    const e = eventFromRow({ ...base, severityText: '', severityNumber: 9 });
    expect(decodeCursor(e.id)).toEqual({ ns: 1763780000123456789n, hash: 42n });
    expect(eventFromRow({ ...base, h: '18446744073709551615', severityText: '', severityNumber: 9 }).id).not.toBe(e.id);
  });

  it('names the severity from its number when there is no text', () => {
    expect(eventFromRow({ ...base, severityText: '', severityNumber: '18' })).toMatchObject({ severity: 'error', severityNumber: 18 });
    expect(eventFromRow({ ...base, severityText: '', severityNumber: 0 })).toMatchObject({ severity: '', severityNumber: 0 });
  });
});

describe('describeSchemaError', () => {
  const schema = { properties: { name: { description: 'the metric name' }, limit: {} } };

  it('names a missing parameter with its description', () => {
    expect(describeSchemaError({ instancePath: '', keyword: 'required', params: { missingProperty: 'name' } }, {}, schema)).toBe('name: is required (the metric name)');
    expect(describeSchemaError({ instancePath: '', keyword: 'required', params: { missingProperty: 'limit' } }, {}, schema)).toBe('limit: is required');
  });

  it('lists what an enum allows', () => {
    expect(
      describeSchemaError({ instancePath: '/agg', keyword: 'enum', params: { allowedValues: ['avg', 'max'] } }, { agg: 'p99' }, schema),
    ).toBe('agg: "p99" is not allowed (use avg, max)');
  });

  it('repeats the value and the rule it broke', () => {
    expect(describeSchemaError({ instancePath: '/limit', keyword: 'maximum', params: {}, message: 'must be <= 1000' }, { limit: 5000 }, schema)).toBe(
      'limit: 5000 must be <= 1000',
    );
    expect(describeSchemaError({ instancePath: '/limit', keyword: 'type', params: {} }, {}, schema)).toBe('limit: is invalid');
  });
});
