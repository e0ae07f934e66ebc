import { describe, expect, it } from 'vitest';
import { alertFilter, apiMatcher, checkPostable, gettableAlert, matcherText, PostedAlerts, severityOfLabel, transitionOfPosted } from './alertmanager-model.js';

const T = Date.parse('2026-11-30T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('alerts posted by Prometheus', () => {
  it('reads the level from the severity label by the names rules use', () => {
    expect(['critical', 'page', 'High', 'error'].map(severityOfLabel)).toEqual(['critical', 'critical', 'critical', 'critical']);
    expect(['info', 'none', 'low'].map(severityOfLabel)).toEqual(['info', 'info', 'info']);
    expect([undefined, 'warning', 'minor'].map(severityOfLabel)).toEqual(['warning', 'warning', 'warning']);
  });

  it('is firing until its endsAt, resolved once endsAt has passed; the fingerprint is its labels only', () => {
    const labels = { alertname: 'DiskFull', instance: 'db-1:9100', severity: 'critical' };
    const firing = transitionOfPosted({ labels, startsAt: iso(T - 60_000), endsAt: iso(T + 240_000), generatorURL: 'http://prom:9090/graph?g0.expr=up' }, T);
    expect(firing.transition).toMatchObject({ status: 'firing', severity: 'critical', rule: 'prometheus', startsAt: iso(T - 60_000), labels, generatorURL: 'http://prom:9090/graph?g0.expr=up' });
    expect(firing.transition.endsAt).toBeUndefined();
    expect(firing.expiresAt).toBe(T + 240_000);
    const resolved = transitionOfPosted({ labels, startsAt: iso(T - 60_000), endsAt: iso(T - 1_000), annotations: { summary: 'x' } }, T);
    expect(resolved.transition).toMatchObject({ status: 'resolved', endsAt: iso(T - 1_000) });
    expect(resolved.transition.fingerprint).toBe(firing.transition.fingerprint);
    expect(resolved.expiresAt).toBeUndefined();
  });

  it('times out without endsAt after resolveTimeout; Go\'s zero time is unset', () => {
    const t = transitionOfPosted({ labels: { alertname: 'a' }, startsAt: '0001-01-01T00:00:00Z', endsAt: '0001-01-01T00:00:00Z' }, T, 300_000);
    expect(t.transition.status).toBe('firing');
    expect(t.transition.startsAt).toBe(iso(T));
    expect(t.expiresAt).toBe(T + 300_000);
  });

  it('names the field of an alert it cannot use', () => {
    expect(() => checkPostable({ labels: {} }, 3)).toThrow(/^\[3\]\.labels: at least one label/);
    expect(() => checkPostable({ labels: { a: 'b' }, endsAt: 'soon' }, 0)).toThrow(/^\[0\]\.endsAt: "soon" is not an RFC 3339 time/);
    expect(() => checkPostable({ labels: { a: 'b' }, startsAt: iso(T), endsAt: iso(T - 1) }, 1)).toThrow(/^\[1\]\.endsAt: .* is before startsAt/);
  });

  it('resolves an alert not sent again before it times out, at its timeout; a resend moves the timeout', () => {
    const p = new PostedAlerts(300_000);
    const [first] = p.take([{ labels: { alertname: 'a' }, startsAt: iso(T), endsAt: iso(T + 60_000) }], T);
    expect(p.expire(T + 59_999)).toEqual([]);
    // Sent again with a later start (a client that does not keep it): the episode keeps its first start.
    p.take([{ labels: { alertname: 'a' }, startsAt: iso(T + 30_000), endsAt: iso(T + 120_000) }], T + 30_000);
    expect(p.expire(T + 60_000)).toEqual([]);
    const [resolve] = p.expire(T + 120_000);
    expect(resolve).toMatchObject({ fingerprint: first!.fingerprint, status: 'resolved', startsAt: iso(T), endsAt: iso(T + 120_000) });
    expect(p.size).toBe(0);
    // One the bus refused comes back next round.
    p.putBack([resolve!]);
    expect(p.expire(T + 120_001)).toMatchObject([{ status: 'resolved', endsAt: iso(T + 120_000) }]);
  });

  it('times out restored posted alerts from the start, and only those', () => {
    const p = new PostedAlerts(300_000);
    const posted = transitionOfPosted({ labels: { alertname: 'a' } }, T).transition;
    const ruleAlert = { ...posted, fingerprint: 'ffff', rule: 'cpu_high' };
    p.seed([posted, ruleAlert], T + 1_000);
    expect(p.expire(T + 301_000).map((r) => r.fingerprint)).toEqual([posted.fingerprint]);
  });
});

describe('Alertmanager API views', () => {
  it('writes structured matchers as matcher text and back', () => {
    const cases = [
      { name: 'host.name', value: 'pos-17', isRegex: false, isEqual: true },
      { name: 'queue', value: 'ord.*', isRegex: true, isEqual: true },
      { name: 'env', value: 'dev "x"', isRegex: false, isEqual: false },
      { name: 'team', value: 'a|b', isRegex: true, isEqual: false },
    ];
    expect(cases.map(matcherText)).toEqual(['host.name="pos-17"', 'queue=~"ord.*"', 'env!="dev \\"x\\""', 'team!~"a|b"']);
    expect(cases.map(matcherText).map(apiMatcher)).toEqual(cases);
    // isEqual left out means equal, as in Alertmanager's API before it had the field.
    expect(matcherText({ name: 'a', value: 'b', isRegex: false })).toBe('a="b"');
  });

  const view = (over: Partial<Parameters<typeof gettableAlert>[0]> = {}) => ({
    alert: { ...transitionOfPosted({ labels: { alertname: 'PosOffline', 'host.name': 'pos-17' } }, T).transition, severity: 'critical' as const },
    updatedAt: T,
    receivers: ['oncall'],
    silencedBy: [],
    inhibitedBy: [],
    ...over,
  });

  it('shows labels with Prometheus-safe names and severity, suppressed when silenced or inhibited', () => {
    const a = gettableAlert(view(), { resolveTimeoutMs: 300_000 });
    expect(a.labels).toEqual({ alertname: 'PosOffline', host_name: 'pos-17', severity: 'critical' });
    expect(a.status).toEqual({ state: 'active', silencedBy: [], inhibitedBy: [], mutedBy: [] });
    expect(a.endsAt).toBe(iso(T + 300_000));
    expect(gettableAlert(view({ silencedBy: ['s1'] }), {}).status.state).toBe('suppressed');
    expect(gettableAlert(view({ inhibitedBy: ['f1'] }), { expiresAt: T + 5 }).endsAt).toBe(iso(T + 5));
  });

  it('filters as Alertmanager: by state, matchers on the shown labels and a receiver regex', () => {
    const active = gettableAlert(view(), {});
    const silenced = gettableAlert(view({ silencedBy: ['s1'] }), {});
    const all = { active: true, silenced: true, inhibited: true, filter: [] };
    expect([active, silenced].filter(alertFilter(all))).toHaveLength(2);
    expect([active, silenced].filter(alertFilter({ ...all, silenced: false }))).toEqual([active]);
    expect([active, silenced].filter(alertFilter({ ...all, active: false }))).toEqual([silenced]);
    expect([active].filter(alertFilter({ ...all, filter: ['host_name="pos-17"', 'severity=~"crit.*"'] }))).toHaveLength(1);
    expect([active].filter(alertFilter({ ...all, filter: ['host_name="pos-18"'] }))).toHaveLength(0);
    expect([active].filter(alertFilter({ ...all, receiver: 'on.*' }))).toHaveLength(1);
    expect([active].filter(alertFilter({ ...all, receiver: 'on' }))).toHaveLength(0);
    expect(() => alertFilter({ ...all, filter: ['nonsense'] })).toThrow(/not a matcher/);
    expect(() => alertFilter({ ...all, receiver: '(' })).toThrow(/^receiver: /);
  });
});
