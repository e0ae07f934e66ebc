import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '@vigil/platform';
import { commonLabelsOf, notificationOf, notificationRule, notificationView } from './view.js';

const a: AlertTransition = {
  fingerprint: '1111',
  status: 'resolved',
  severity: 'critical',
  labels: { alertname: 'cpu_high', 'host.name': 'web-1', 'vigil.category': 'host' },
  annotations: { summary: 's1', runbook: 'r' },
  startsAt: '2024-05-01T12:00:00Z',
  endsAt: '2024-05-01T12:10:00Z',
  value: 0.5,
  rule: 'cpu_high',
  window: 60_000,
};
const { endsAt: _ended, ...stillFiring } = a;
const b: AlertTransition = { ...stillFiring, fingerprint: '2222', status: 'firing', severity: 'warning', labels: { ...a.labels, 'host.name': 'web-2' }, annotations: { runbook: 'r' } };

describe('notificationOf', () => {
  it('puts firing alerts first; status firing when any fires; severity the highest firing one', () => {
    const n = notificationOf([a, b], { receiver: 'ops', createdAt: '2024-05-01T12:11:00Z' });
    expect(n.alerts.map((x) => x.fingerprint)).toEqual(['2222', '1111']);
    expect(n.status).toBe('firing');
    expect(n.severity).toBe('warning');
    expect(n.commonLabels).toEqual({ alertname: 'cpu_high', 'vigil.category': 'host' });
    expect(n.commonAnnotations).toEqual({ runbook: 'r' });
    expect(n.groupLabels).toEqual({ alertname: 'cpu_high' });
  });

  it('all resolved: resolved, severity the highest among all', () => {
    const n = notificationOf([a, { ...a, fingerprint: '3', severity: 'info' }]);
    expect([n.status, n.severity]).toEqual(['resolved', 'critical']);
  });
});

describe('notificationView', () => {
  it('derives counts, shared name, target, category and rule, and each alert’s fields', () => {
    const v = notificationView(notificationOf([a, b]), 'slack');
    expect(v).toMatchObject({ count: 2, firingCount: 1, resolvedCount: 1, multiple: true, firing: true, name: 'cpu_high', target: '', category: 'host', rule: 'cpu_high', channel: 'slack' });
    expect(v.alerts[0]).toMatchObject({ name: 'cpu_high', target: 'web-2', firing: true, category: 'host' });
    expect(v.alert).toBe(v.alerts[0]);
    const one = notificationView(notificationOf([a]), 'email');
    expect([one.target, one.multiple, one.resolved]).toEqual(['web-1', false, true]);
  });

  it('different rules: no shared rule, the name counts the alerts', () => {
    const n = notificationOf([a, { ...b, rule: 'mem_high', labels: { alertname: 'mem_high' } }]);
    expect(notificationRule(n)).toBe('');
    expect(notificationView(n, 'sms').name).toBe('2 alerts');
  });
});

describe('commonLabelsOf', () => {
  it('keeps what every map has with the same value', () => {
    expect(commonLabelsOf([{ a: '1', b: '2' }, { a: '1', b: '3' }])).toEqual({ a: '1' });
    expect(commonLabelsOf([])).toEqual({});
  });
});
