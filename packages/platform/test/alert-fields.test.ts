import { describe, expect, it } from 'vitest';
import { decodeAlert, encodeAlert, type AlertTransition } from '../src/alerts.js';

const base: AlertTransition = {
  fingerprint: 'f', status: 'firing', severity: 'critical', labels: { alertname: 'cpu_high' }, annotations: {}, startsAt: '2026-01-01T00:00:00.000Z', value: 0.934, rule: 'cpu_high', window: 60_000,
};

describe('alert transitions carry what was measured', () => {
  it('unit, threshold and expr survive the topic encoding', () => {
    const t = { ...base, unit: '1', threshold: 0.9, expr: 'avg(system.cpu.utilization{cpu.mode!="idle"})' };
    expect(decodeAlert(encodeAlert(t))).toEqual(t);
  });
  it('they are optional, and dropped when not of their type', () => {
    expect(decodeAlert(encodeAlert(base))).toEqual(base);
    expect(decodeAlert(Buffer.from(JSON.stringify({ ...base, unit: 5, threshold: 'x', expr: '' })))).toEqual(base);
  });
  it('a window is whole milliseconds a UInt64 column takes, or 0', () => {
    const window = (w: unknown) => decodeAlert(Buffer.from(JSON.stringify({ ...base, window: w }))).window;
    expect(window(1e21)).toBe(0);
    expect(window(-1)).toBe(0);
    expect(window('60000')).toBe(0);
    expect(window(1500.4)).toBe(1500);
    expect(window(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
