import { checkSection, fingerprint, transitionKey, type AlertTransition } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { RouteConfig } from './config.js';
import { Dispatcher, type DispatcherState, type FlushedGroup } from './dispatcher.js';
import { compileRoutes } from './routes.js';

/**
 * Restart from a snapshot older than the last flushes (the snapshot is written behind the sends):
 * the ledger's notifications since the snapshot, acknowledged after the inbox was received, must
 * leave the dispatcher owing the resolves it owed and paging nothing it paged. Each case is also
 * run without the acknowledgement, to show what it changes.
 */

const S = 1000;
const M = 60 * S;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const tree = () => compileRoutes(checkSection(RouteConfig, { receiver: 'team', groupBy: ['alertname'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h' }, 'route'));

function firing(host: string, severity: AlertTransition['severity'] = 'warning'): AlertTransition {
  const labels = { alertname: 'cpu', host };
  return { fingerprint: fingerprint(labels), status: 'firing', severity, labels, annotations: {}, startsAt: iso(T0), value: 1, rule: 'cpu', window: M };
}
const resolved = (a: AlertTransition, at: number): AlertTransition => ({ ...a, status: 'resolved', endsAt: iso(at) });

/** What the ledger keeps of a flushed notification. */
const row = (g: FlushedGroup, time: number) => ({ groupKey: g.groupKey, alerts: g.alerts.map(transitionKey), time });

/** A second instance: the stale snapshot, then the inbox's latest transitions, then (or not) the ledger's rows. */
function restart(stale: DispatcherState, inbox: AlertTransition[], rows: ReturnType<typeof row>[], now: number, acknowledge: boolean): FlushedGroup[] {
  const d = new Dispatcher({ routes: tree(), inhibitRules: [] });
  d.restore(JSON.parse(JSON.stringify(stale)) as DispatcherState, now);
  for (const a of inbox) d.receive(a, now);
  if (acknowledge) for (const r of rows) expect(d.acknowledge(r.groupKey, r.alerts, r.time, now)).toBe(true);
  const out: FlushedGroup[] = [];
  for (let t = now; t <= now + 10 * M; t += S) if ((d.nextFlushAt() ?? Infinity) <= t) out.push(...d.flush(t));
  return out;
}

describe('Dispatcher.acknowledge (restart from a snapshot behind the ledger)', () => {
  it('the resolve of an alert paged after the snapshot is still sent', () => {
    const first = new Dispatcher({ routes: tree(), inhibitRules: [] });
    const stale = first.state();
    const a = firing('a');
    first.receive(a, T0);
    const paged = first.flush(T0);
    expect(paged).toHaveLength(1);
    // a resolves; the process dies before the group's next tick.
    const inbox = [resolved(a, T0 + 20 * S)];
    const after = restart(stale, inbox, [row(paged[0]!, T0 + 5)], T0 + 30 * S, true);
    expect(after.map((g) => [g.status, g.alerts.map((x) => x.status)])).toEqual([['resolved', ['resolved']]]);
    expect(after[0]!.groupKey).toBe(paged[0]!.groupKey);
    // Without the ledger's word, the group never knew it paged a: the resolve would be lost.
    expect(restart(stale, inbox, [], T0 + 30 * S, false)).toEqual([]);
  });

  it('alerts paged after the snapshot are not paged again; a new one in the group is', () => {
    const first = new Dispatcher({ routes: tree(), inhibitRules: [] });
    const stale = first.state();
    const [a, b, c] = [firing('a'), firing('b'), firing('c')];
    first.receive(a, T0);
    first.receive(b, T0);
    const paged = first.flush(T0);
    expect(paged[0]!.alerts).toHaveLength(2);
    const rows = [row(paged[0]!, T0 + 5)];
    expect(restart(stale, [a, b], rows, T0 + 10 * S, true)).toEqual([]);
    expect(restart(stale, [a, b], rows, T0 + 10 * S, false).map((g) => g.alerts.length)).toEqual([2]);
    // c arrived after the page: news at the group's next tick (groupInterval after the page; the
    // test's clock steps by seconds from the restart), with a and b.
    const later = restart(stale, [a, b, c], rows, T0 + 10 * S, true);
    expect(later.map((g) => [g.reason, g.alerts.length, g.flushedAt])).toEqual([['firing', 3, T0 + 61 * S]]);
  });

  it('a resolve sent after the snapshot is not sent again, and a group no route makes is refused', () => {
    const first = new Dispatcher({ routes: tree(), inhibitRules: [] });
    const a = firing('a');
    first.receive(a, T0);
    const paged = first.flush(T0);
    const stale = first.state(); // knows a was paged
    first.receive(resolved(a, T0 + 20 * S), T0 + 20 * S);
    const resolvedSent = first.flush(T0 + M);
    expect(resolvedSent.map((g) => g.status)).toEqual(['resolved']);
    const rows = [row(paged[0]!, T0 + 5), row(resolvedSent[0]!, T0 + M + 5)];
    expect(restart(stale, [resolved(a, T0 + 20 * S)], rows, T0 + 2 * M, true)).toEqual([]);
    expect(restart(stale, [resolved(a, T0 + 20 * S)], rows, T0 + 2 * M, false).map((g) => g.status)).toEqual(['resolved']);
    const d = new Dispatcher({ routes: tree(), inhibitRules: [] });
    expect(d.acknowledge('{}/9{x="y"}:{}', [transitionKey(a)], T0, T0)).toBe(false);
  });
});

describe('an escalated alert grouped by severity (groupBy ["..."])', () => {
  const byAll = (raw: Record<string, unknown> = {}) =>
    compileRoutes(checkSection(RouteConfig, { receiver: 'team', groupBy: ['...'], groupWait: '0s', groupInterval: '1m', repeatInterval: '4h', ...raw }, 'route'));
  const run = (d: Dispatcher) => {
    const w = firing('a', 'warning');
    const c = { ...w, severity: 'critical' as const };
    const out: FlushedGroup[] = [];
    const at = (t: number, a: AlertTransition) => {
      d.receive(a, t);
      for (let x = t; x <= t + 5 * M; x += S) if ((d.nextFlushAt() ?? Infinity) <= x) out.push(...d.flush(x));
    };
    at(T0, w);
    at(T0 + 10 * M, c);
    at(T0 + 20 * M, resolved(c, T0 + 20 * M));
    return out.map((g) => `${g.receiver} ${g.status} ${g.severity}`);
  };

  it('the receiver gets one resolve, from the group it moved to', () => {
    expect(run(new Dispatcher({ routes: byAll(), inhibitRules: [] }))).toEqual(['team firing warning', 'team firing critical', 'team resolved critical']);
  });

  it('receivers by severity each get the resolve of what they were paged (the latest transition: critical)', () => {
    const routes = byAll({ routes: [{ matchers: ['severity="critical"'], receiver: 'pager' }] });
    expect(run(new Dispatcher({ routes, inhibitRules: [] }))).toEqual(['team firing warning', 'pager firing critical', 'pager resolved critical', 'team resolved critical']);
  });
});
