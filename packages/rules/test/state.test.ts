import { describe, expect, it } from 'vitest';
import { compare, severityOf, step, type AlertState, type Thresholds } from '../src/state.js';

const T: Thresholds = { op: '>=', warning: 0.7, critical: 0.9 };

describe('severityOf', () => {
  it('checks critical before warning', () => {
    expect(severityOf(0.95, T)).toBe('critical');
    expect(severityOf(0.9, T)).toBe('critical');
    expect(severityOf(0.8, T)).toBe('warning');
    expect(severityOf(0.7, T)).toBe('warning');
    expect(severityOf(0.69, T)).toBeUndefined();
    expect(severityOf(Number.NaN, T)).toBeUndefined();
  });

  it('works with only one threshold', () => {
    expect(severityOf(5, { op: '>', critical: 4 })).toBe('critical');
    expect(severityOf(5, { op: '>', warning: 4 })).toBe('warning');
    expect(severityOf(4, { op: '>', warning: 4 })).toBeUndefined();
  });

  it('with "<" the critical threshold is the lower one', () => {
    const low: Thresholds = { op: '<', warning: 0.3, critical: 0.1 };
    expect(severityOf(0.05, low)).toBe('critical');
    expect(severityOf(0.2, low)).toBe('warning');
    expect(severityOf(0.3, low)).toBeUndefined();
    expect(severityOf(0.3, { ...low, op: '<=' })).toBe('warning');
  });

  it('compare implements each op', () => {
    expect([compare(1, '>', 1), compare(1, '>=', 1), compare(1, '<', 1), compare(1, '<=', 1)]).toEqual([false, true, false, true]);
    expect([compare(2, '>', 1), compare(0, '<', 1)]).toEqual([true, true]);
  });
});

/** Runs the state machine over (time, value) pairs, collecting what it emits. */
function run(inputs: [number, number | undefined][], forMs: number, t: Thresholds = T, start?: AlertState) {
  let state = start;
  const emitted = [];
  const states = [];
  for (const [now, value] of inputs) {
    const r = step(state, value, t, forMs, now);
    state = r.state;
    states.push(state?.phase ?? 'inactive');
    if (r.emit) emitted.push({ at: now, ...r.emit });
  }
  return { emitted, states, state };
}

describe('step', () => {
  it('stays inactive below the thresholds', () => {
    expect(run([[0, 0.1], [10, 0.5]], 0)).toEqual({ emitted: [], states: ['inactive', 'inactive'], state: undefined });
  });

  it('with for 0s fires on the first evaluation', () => {
    const r = run([[1_000, 0.8]], 0);
    expect(r.states).toEqual(['firing']);
    expect(r.emitted).toEqual([{ at: 1_000, status: 'firing', severity: 'warning', value: 0.8, startsAtMs: 1_000 }]);
  });

  it('waits "for" in pending, then fires with startsAt at the firing time', () => {
    const r = run([[0, 0.95], [30_000, 0.95], [59_999, 0.95], [60_000, 0.96]], 60_000);
    expect(r.states).toEqual(['pending', 'pending', 'pending', 'firing']);
    expect(r.emitted).toEqual([{ at: 60_000, status: 'firing', severity: 'critical', value: 0.96, startsAtMs: 60_000 }]);
  });

  it('a pending alert whose condition stops holding goes back to inactive silently, and "for" starts over', () => {
    const r = run([[0, 0.8], [30_000, 0.5], [40_000, 0.8], [90_000, 0.8], [100_000, 0.8]], 60_000);
    expect(r.states).toEqual(['pending', 'inactive', 'pending', 'pending', 'firing']);
    expect(r.emitted).toEqual([{ at: 100_000, status: 'firing', severity: 'warning', value: 0.8, startsAtMs: 100_000 }]);
  });

  it('a severity change while pending emits nothing and fires at the current severity', () => {
    const r = run([[0, 0.8], [10_000, 0.95], [20_000, 0.75]], 20_000);
    expect(r.emitted).toEqual([{ at: 20_000, status: 'firing', severity: 'warning', value: 0.75, startsAtMs: 20_000 }]);
  });

  it('resolves when the condition stops holding, with endsAt, the episode startsAt and severity', () => {
    const r = run([[0, 0.95], [10_000, 0.92], [20_000, 0.4]], 0);
    expect(r.states).toEqual(['firing', 'firing', 'inactive']);
    expect(r.emitted).toEqual([
      { at: 0, status: 'firing', severity: 'critical', value: 0.95, startsAtMs: 0 },
      { at: 20_000, status: 'resolved', severity: 'critical', value: 0.4, startsAtMs: 0, endsAtMs: 20_000 },
    ]);
  });

  it('escalation and de-escalation while firing emit firing again with the same startsAt; same severity emits nothing', () => {
    const r = run([[0, 0.75], [10_000, 0.8], [20_000, 0.95], [30_000, 0.99], [40_000, 0.72], [50_000, 0.1]], 0);
    expect(r.emitted).toEqual([
      { at: 0, status: 'firing', severity: 'warning', value: 0.75, startsAtMs: 0 },
      { at: 20_000, status: 'firing', severity: 'critical', value: 0.95, startsAtMs: 0 },
      { at: 40_000, status: 'firing', severity: 'warning', value: 0.72, startsAtMs: 0 },
      { at: 50_000, status: 'resolved', severity: 'warning', value: 0.1, startsAtMs: 0, endsAtMs: 50_000 },
    ]);
  });

  it('escalation is not delayed by "for"', () => {
    const r = run([[0, 0.8], [60_000, 0.8], [70_000, 0.95]], 60_000);
    expect(r.emitted.map((e) => [e.at, e.severity, e.startsAtMs])).toEqual([
      [60_000, 'warning', 60_000],
      [70_000, 'critical', 60_000],
    ]);
  });

  it('no data resolves a firing alert with its last value, and drops a pending one', () => {
    const firing = run([[0, 0.93], [10_000, undefined]], 0);
    expect(firing.emitted[1]).toEqual({ at: 10_000, status: 'resolved', severity: 'critical', value: 0.93, startsAtMs: 0, endsAtMs: 10_000 });
    const pending = run([[0, 0.93], [10_000, undefined]], 60_000);
    expect(pending).toEqual({ emitted: [], states: ['pending', 'inactive'], state: undefined });
  });

  it('no data on an inactive alert stays inactive', () => {
    expect(run([[0, undefined]], 0)).toEqual({ emitted: [], states: ['inactive'], state: undefined });
  });

  it('continues an alert restored as firing without announcing it again', () => {
    const restored: AlertState = { phase: 'firing', severity: 'critical', activeSinceMs: 5, startsAtMs: 5, value: 0.95 };
    const r = run([[100, 0.97], [200, 0.2]], 60_000, T, restored);
    expect(r.emitted).toEqual([{ at: 200, status: 'resolved', severity: 'critical', value: 0.2, startsAtMs: 5, endsAtMs: 200 }]);
  });
});
