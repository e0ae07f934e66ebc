import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INACTIVE, displayState, restoredState, step, type AlertState, type Emission, type Observation, type StepOptions } from '../src/state.js';

const OPTS: StepOptions = { forMs: 0, keepFiringForMs: 0, nodata: 'keep', flapping: undefined };
const v = (value: number, level?: 'info' | 'warning' | 'critical'): Observation => ({ kind: 'value', value, level });

/** Runs the state machine over (time, observation) pairs, collecting what it emits. */
function run(inputs: [number, Observation][], opts: Partial<StepOptions> = {}, start: AlertState = INACTIVE) {
  let state = start;
  const emitted: ({ at: number } & Emission)[] = [];
  const states: string[] = [];
  for (const [now, obs] of inputs) {
    const r = step(state, obs, { ...OPTS, ...opts }, now);
    state = r.state;
    states.push(displayState(state));
    if (r.emit) emitted.push({ at: now, ...r.emit });
  }
  return { emitted, states, state };
}

describe('step', () => {
  it('waits "for" in pending, fires with startsAt at the firing time, escalates at once, resolves', () => {
    const r = run([[0, v(1, 'warning')], [30, v(1, 'warning')], [60, v(2, 'warning')], [70, v(3, 'critical')], [80, v(0)]], { forMs: 60 });
    expect(r.states).toEqual(['pending', 'pending', 'firing', 'firing', 'inactive']);
    expect(r.emitted).toEqual([
      { at: 60, status: 'firing', severity: 'warning', value: 2, startsAtMs: 60 },
      { at: 70, status: 'firing', severity: 'critical', value: 3, startsAtMs: 60 },
      { at: 80, status: 'resolved', severity: 'critical', value: 0, startsAtMs: 60, endsAtMs: 80 },
    ]);
  });

  it('a pending alert whose condition stops goes back to inactive silently, and "for" starts over', () => {
    const r = run([[0, v(1, 'warning')], [30, { kind: 'none' }], [40, v(1, 'warning')], [100, v(1, 'warning')]], { forMs: 60 });
    expect(r.states).toEqual(['pending', 'inactive', 'pending', 'firing']);
    expect(r.emitted.map((e) => e.at)).toEqual([100]);
  });

  it('keepFiringFor holds a firing alert after its condition stops, counted from the last time it held', () => {
    const r = run([[0, v(1, 'warning')], [10, v(0)], [50, v(0)], [60, v(0)]], { keepFiringForMs: 60 });
    expect(r.states).toEqual(['firing', 'firing', 'firing', 'inactive']);
    expect(r.emitted.map((e) => [e.at, e.status])).toEqual([[0, 'firing'], [60, 'resolved']]);
  });

  it('hold changes nothing', () => {
    const firing = run([[0, v(1, 'critical')]]).state;
    expect(step(firing, { kind: 'hold' }, OPTS, 100)).toEqual({ state: firing });
  });

  it('nodata: keep marks the alert and keeps it; alerting fires; resolve resolves', () => {
    const firing = run([[0, v(5, 'critical')]]).state;
    const keep = step(firing, { kind: 'nodata' }, OPTS, 10);
    expect(keep.emit).toBeUndefined();
    expect(displayState(keep.state)).toBe('nodata');
    expect(keep.state.phase).toBe('firing');
    expect(step(INACTIVE, { kind: 'nodata' }, { ...OPTS, nodata: 'alerting' }, 10).emit).toEqual({ status: 'firing', severity: 'warning', value: 0, startsAtMs: 10, nodata: true });
    expect(step(firing, { kind: 'nodata' }, { ...OPTS, nodata: 'resolve' }, 10).emit).toEqual({ status: 'resolved', severity: 'critical', value: 5, startsAtMs: 0, endsAtMs: 10, nodata: true });
    // Data back: the nodata mark goes.
    expect(displayState(step(keep.state, v(5, 'critical'), OPTS, 20).state)).toBe('firing');
  });

  it('flapping: more than N changes in the window hold the alert firing, marked, until it settles', () => {
    const opts = { flapping: { changes: 4, windowMs: 1_000 } };
    // fire, resolve, fire, resolve: 4 changes; the 5th (a firing) makes it flapping.
    const seq: [number, Observation][] = [[0, v(1, 'warning')], [10, v(0)], [20, v(1, 'warning')], [30, v(0)], [40, v(1, 'warning')], [50, v(0)], [60, v(0)]];
    const r = run(seq, opts);
    expect(r.emitted.map((e) => [e.at, e.status, e.flapping])).toEqual([[0, 'firing', undefined], [10, 'resolved', undefined], [20, 'firing', undefined], [30, 'resolved', undefined], [40, 'firing', 5]]);
    expect(r.states.slice(-2)).toEqual(['flapping', 'flapping']);
    // Once the changes leave the window, it resolves, saying it was flapping.
    const settled = step(r.state, v(0), { ...OPTS, ...opts }, 1_030);
    expect(settled.emit).toMatchObject({ status: 'resolved', startsAtMs: 40 });
    expect(settled.emit!.flapping).toBeLessThanOrEqual(4);
  });

  it('continues an alert restored as firing without announcing it again', () => {
    const r = run([[100, v(3, 'critical')], [200, v(0)]], {}, restoredState('critical', 5, 2, 100));
    expect(r.emitted).toEqual([{ at: 200, status: 'resolved', severity: 'critical', value: 0, startsAtMs: 5, endsAtMs: 200 }]);
  });
});

describe('step, properties', () => {
  const observation = fc.oneof(
    fc.record({ kind: fc.constant('value' as const), value: fc.double({ noNaN: true, min: -10, max: 10 }), level: fc.constantFrom(undefined, 'info' as const, 'warning' as const, 'critical' as const) }),
    fc.constant({ kind: 'none' as const }),
    fc.constant({ kind: 'hold' as const }),
    fc.constant({ kind: 'nodata' as const }),
  );
  const options = fc.record({
    forMs: fc.integer({ min: 0, max: 50 }),
    keepFiringForMs: fc.integer({ min: 0, max: 50 }),
    nodata: fc.constantFrom('keep' as const, 'alerting' as const, 'resolve' as const),
    flapping: fc.option(fc.record({ changes: fc.integer({ min: 2, max: 6 }), windowMs: fc.integer({ min: 10, max: 200 }) }), { nil: undefined }),
  });

  it('never resolves without a firing, fires once per episode, and resolves with the episode\'s startsAt', () => {
    fc.assert(
      fc.property(options, fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), observation), { maxLength: 60 }), (opts, steps) => {
        let state = INACTIVE;
        let now = 0;
        let episode: number | undefined;
        for (const [dt, obs] of steps) {
          now += dt;
          const r = step(state, obs, opts, now);
          if (r.emit?.status === 'resolved') {
            expect(episode).toBe(r.emit.startsAtMs);
            expect(r.emit.endsAtMs).toBe(now);
            episode = undefined;
          } else if (r.emit?.status === 'firing') {
            if (episode === undefined) {
              expect(r.emit.startsAtMs).toBe(now);
              episode = now;
            } else expect(r.emit.startsAtMs).toBe(episode);
          }
          expect(r.state.phase === 'firing').toBe(episode !== undefined);
          state = r.state;
        }
      }),
    );
  });

  it('hold never emits and never changes the state', () => {
    fc.assert(
      fc.property(options, fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), observation), { maxLength: 30 }), (opts, steps) => {
        let state = INACTIVE;
        let now = 0;
        for (const [dt, obs] of steps) {
          now += dt;
          const held = step(state, { kind: 'hold' }, opts, now);
          expect(held).toEqual({ state });
          state = step(state, obs, opts, now).state;
        }
      }),
    );
  });
});
