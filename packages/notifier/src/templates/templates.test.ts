import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '@vigil/platform';
import { createChannel, templateRegistryFromConfig } from '../channels/registry.js';
import { duration, isFraction, number, percent, templateView, time, upper } from './templates.js';
import { notificationOf } from './view.js';

const firing: AlertTransition = {
  fingerprint: 'a1b2c3d4e5f60718',
  status: 'firing',
  severity: 'critical',
  labels: { 'host.name': 'web-1', alertname: 'cpu_high', metric: 'system.cpu.utilization' },
  annotations: { summary: 'CPU on web-1 is at 93%', description: 'Average over 5m above the critical threshold 0.9' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.9312,
  rule: 'cpu_high',
  window: 300_000,
};
const resolved: AlertTransition = { ...firing, status: 'resolved', endsAt: '2024-05-01T13:05:30.250Z', value: 0.42 };

/** Title and text of one alert, as the console channel renders it with the default templates. */
const console = createChannel('console', {}, { name: 'console', templates: templateRegistryFromConfig(), source: 'console' });
function renderNotification(a: AlertTransition): { title: string; text: string } {
  const m = console.render(notificationOf([a], { createdAt: '2024-05-01T14:00:00.000Z' }));
  return { title: m.title ?? '', text: m.text ?? '' };
}

describe('helpers', () => {
  it('upper', () => {
    expect(upper('critical')).toBe('CRITICAL');
    expect(upper(undefined)).toBe('');
  });

  it('percent shows a fraction as a percentage with at most one decimal', () => {
    expect(percent(0.9312)).toBe('93.1%');
    expect(percent(0.9)).toBe('90%');
    expect(percent(1)).toBe('100%');
    expect(percent(0)).toBe('0%');
    expect(percent('0.25')).toBe('25%');
    expect(percent('n/a')).toBe('n/a');
  });

  it('number keeps at most three decimals, three significant digits below 1', () => {
    expect(number(1234.56789)).toBe('1234.568');
    expect(number(42)).toBe('42');
    expect(number(0.000123456)).toBe('0.000123');
    expect(number(-0.5)).toBe('-0.5');
    expect(number(0)).toBe('0');
    expect(number(Number.NaN)).toBe('NaN');
  });

  it('time turns RFC 3339 into readable UTC and leaves other text alone', () => {
    expect(time('2024-05-01T12:34:56.789Z')).toBe('2024-05-01 12:34:56 UTC');
    expect(time('2024-05-01T14:34:56+02:00')).toBe('2024-05-01 12:34:56 UTC');
    expect(time(Date.UTC(2024, 0, 2, 3, 4, 5))).toBe('2024-01-02 03:04:05 UTC');
    expect(time('yesterday')).toBe('yesterday');
    expect(time(undefined)).toBe('');
  });

  it('duration of milliseconds or between two instants, rounded to seconds', () => {
    expect(duration(300_000)).toBe('5m');
    expect(duration(0)).toBe('0s');
    expect(duration(250)).toBe('250ms');
    expect(duration(1_499)).toBe('1s');
    expect(duration('2024-05-01T12:00:00Z', '2024-05-01T13:05:30.250Z')).toBe('1h5m30s');
    expect(duration('2024-05-02T00:00:00Z', '2024-05-01T00:00:00Z')).toBe('');
    expect(duration('2024-05-01T00:00:00Z', undefined)).toBe('');
    expect(duration('x', 'y')).toBe('');
  });

  it('isFraction: utilization metrics, unit 1, or a rule named after utilization', () => {
    expect(isFraction({ labels: { metric: 'system.memory.utilization' }, rule: 'mem' })).toBe(true);
    expect(isFraction({ labels: { metric: 'system.filesystem.utilisation' }, rule: 'disk' })).toBe(true);
    expect(isFraction({ labels: { unit: '1' }, rule: 'x' })).toBe(true);
    expect(isFraction({ labels: {}, rule: 'cpu_utilization_high' })).toBe(true);
    expect(isFraction({ labels: { metric: 'system.cpu.load_average.1m' }, rule: 'load' })).toBe(false);
    expect(isFraction({ labels: { metric: 'system.cpu.utilization.max' }, rule: 'x' })).toBe(false);
  });
});

describe('templateView', () => {
  it('adds name, target and status flags and sorts the labels', () => {
    const v = templateView(firing);
    expect(v.name).toBe('cpu_high');
    expect(v.target).toBe('web-1');
    expect(v.firing).toBe(true);
    expect(v.resolved).toBe(false);
    expect(v.fraction).toBe(true);
    expect(Object.keys(v.labels)).toEqual(['alertname', 'host.name', 'metric']);
  });

  it('falls back to the rule name and to later target labels', () => {
    const v = templateView({ ...firing, labels: { 'service.name': 'api' } });
    expect(v.name).toBe('cpu_high');
    expect(v.target).toBe('api');
    expect(templateView({ ...firing, labels: {} }).target).toBe('');
  });
});

describe('default templates of one alert', () => {
  it('render a firing transition', () => {
    const r = renderNotification(firing);
    expect(r.title).toBe('[FIRING:CRITICAL] cpu_high on web-1');
    expect(r.text).toBe(
      [
        'CPU on web-1 is at 93%',
        'Average over 5m above the critical threshold 0.9',
        'Value: 93.1% over 5m',
        'Severity: critical',
        'Labels: alertname=cpu_high host.name=web-1 metric=system.cpu.utilization',
        'Started: 2024-05-01 12:00:00 UTC',
      ].join('\n'),
    );
  });

  it('render a resolved transition with its end and duration', () => {
    const r = renderNotification(resolved);
    expect(r.title).toBe('[RESOLVED] cpu_high on web-1');
    expect(r.text).toContain('Value: 42% over 5m\n');
    expect(r.text.endsWith('Started: 2024-05-01 12:00:00 UTC\nResolved: 2024-05-01 13:05:30 UTC (lasted 1h5m30s)')).toBe(true);
  });

  it('say the threshold crossed and read the unit when the transition carries them', () => {
    expect(renderNotification({ ...firing, unit: '1', threshold: 0.9 }).text).toContain('Value: 93.1% over 5m (critical at 90%)\n');
    expect(renderNotification({ ...firing, labels: { alertname: 'db_slow' }, rule: 'db_slow', value: 1.4, unit: 's', threshold: 1 }).text).toContain('Value: 1.4 over 5m (critical at 1)\n');
    expect(renderNotification({ ...resolved, unit: '1', threshold: 0.9 }).text).toContain('Value: 42% over 5m\n');
  });

  it('leave out missing annotations, the window when 0, and show plain numbers for non-fractions', () => {
    const r = renderNotification({ ...firing, severity: 'warning', annotations: {}, labels: { alertname: 'queue_depth' }, rule: 'queue_depth', value: 1532.5, window: 0 });
    expect(r.title).toBe('[FIRING:WARNING] queue_depth');
    expect(r.text.split('\n')[0]).toBe('Value: 1532.5');
  });

  it('keep the title on one line even when a label has a line break', () => {
    const r = renderNotification({ ...firing, labels: { ...firing.labels, 'host.name': 'web-1\nevil' } });
    expect(r.title).toBe('[FIRING:CRITICAL] cpu_high on web-1 evil');
  });

  it('do not HTML-escape', () => {
    const r = renderNotification({ ...firing, annotations: { summary: 'a < b & "c"' } });
    expect(r.text.split('\n')[0]).toBe('a < b & "c"');
  });
});
