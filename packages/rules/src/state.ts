import type { Severity } from './levels.js';

/**
 * The life of one alert (a rule and one group): inactive → pending (the condition holds,
 * waiting `for`) → firing → resolved (back to inactive), as in Prometheus, plus what Prometheus
 * lacks: `keepFiringFor`, flap damping, and a `nodata` state for a group whose source is silent.
 * Pure: the caller passes what the evaluation observed and the (event) time.
 *
 * Once firing, a change of level is published at once as a new `firing` transition with the same
 * startsAt, so escalations are not delayed by `for`.
 */

/** What one evaluation of a group found. */
export type Observation =
  /** A value and the level it is at (undefined: no threshold crossed). */
  | { kind: 'value'; value: number; level: Severity | undefined }
  /** The group had no value (no samples in the window, a zero denominator) while its source sends: the condition does not hold. */
  | { kind: 'none' }
  /** The source stalls (late, not yet silent): nothing is decided. */
  | { kind: 'hold' }
  /** The source is silent: the rule's `nodata` policy decides. */
  | { kind: 'nodata' };

export type NodataPolicy = 'keep' | 'alerting' | 'resolve';

export interface StepOptions {
  forMs: number;
  keepFiringForMs: number;
  nodata: NodataPolicy;
  /** More changes than `changes` within `windowMs` make the alert flapping. */
  flapping?: { changes: number; windowMs: number } | undefined;
}

export interface AlertState {
  phase: 'inactive' | 'pending' | 'firing';
  /** Pending or firing: the level. */
  severity: Severity;
  /** When the condition started holding (pending and firing). */
  activeSinceMs: number;
  /** When this episode started firing. */
  startsAtMs: number;
  /** The last value seen. */
  value: number;
  /** The last time the condition held (keepFiringFor counts from here). */
  lastTrueMs: number;
  /** The source is silent; the state is what it was (or what `nodata` made it). */
  nodata: boolean;
  /** Held firing by flap damping. */
  flapping: boolean;
  /** Times of recent state changes (firing and resolved), for flap damping. */
  changes: number[];
}

export interface Emission {
  status: 'firing' | 'resolved';
  severity: Severity;
  value: number;
  startsAtMs: number;
  /** Only on `resolved`. */
  endsAtMs?: number;
  /** Firing because the source is silent (nodata: alerting), or resolved because of it (nodata: resolve). */
  nodata?: boolean;
  /** State changes counted in the flapping window when the alert was or is flapping. */
  flapping?: number;
}

export interface StepResult {
  state: AlertState;
  emit?: Emission;
}

export const INACTIVE: AlertState = Object.freeze({
  phase: 'inactive',
  severity: 'warning',
  activeSinceMs: 0,
  startsAtMs: 0,
  value: 0,
  lastTrueMs: 0,
  nodata: false,
  flapping: false,
  changes: [],
}) as AlertState;

function recent(changes: number[], now: number, opts: StepOptions): number[] {
  if (!opts.flapping) return changes.length === 0 ? changes : [];
  const since = now - opts.flapping.windowMs;
  let i = 0;
  while (i < changes.length && changes[i]! <= since) i++;
  return i === 0 ? changes : changes.slice(i);
}

/** One evaluation at `now`. `state` is never mutated. */
export function step(state: AlertState, obs: Observation, opts: StepOptions, now: number): StepResult {
  if (obs.kind === 'hold') return { state };
  if (obs.kind === 'nodata') {
    if (opts.nodata === 'keep') return { state: state.nodata ? state : { ...state, nodata: true } };
    if (opts.nodata === 'alerting') {
      const severity = state.phase === 'firing' ? state.severity : 'warning';
      return condition({ ...state, nodata: true }, severity, state.value, opts, now, true);
    }
    return falsy({ ...state, nodata: true }, state.value, opts, now, true);
  }
  const back = state.nodata ? { ...state, nodata: false } : state;
  if (obs.kind === 'none' || obs.level === undefined) return falsy(back, obs.kind === 'value' ? obs.value : state.value, opts, now, false);
  return condition(back, obs.level, obs.value, opts, now, false);
}

function condition(state: AlertState, severity: Severity, value: number, opts: StepOptions, now: number, nodata: boolean): StepResult {
  if (state.phase === 'firing') {
    const changes = recent(state.changes, now, opts);
    const flapping = state.flapping && opts.flapping !== undefined && changes.length > opts.flapping.changes;
    const next: AlertState = { ...state, severity, value, lastTrueMs: now, changes, flapping };
    if (severity === state.severity) return { state: next };
    return { state: next, emit: emission('firing', severity, value, state.startsAtMs, undefined, nodata, flapping ? changes.length : undefined) };
  }
  const activeSinceMs = state.phase === 'pending' ? state.activeSinceMs : now;
  if (now - activeSinceMs < opts.forMs) {
    return { state: { ...state, phase: 'pending', severity, activeSinceMs, value, lastTrueMs: now } };
  }
  const changes = [...recent(state.changes, now, opts), now];
  const flapping = opts.flapping !== undefined && changes.length > opts.flapping.changes;
  return {
    state: { ...state, phase: 'firing', severity, activeSinceMs, startsAtMs: now, value, lastTrueMs: now, changes, flapping },
    emit: emission('firing', severity, value, now, undefined, nodata, flapping ? changes.length : undefined),
  };
}

function falsy(state: AlertState, value: number, opts: StepOptions, now: number, nodata: boolean): StepResult {
  if (state.phase === 'pending') return { state: { ...INACTIVE, changes: state.changes } };
  if (state.phase !== 'firing') return { state };
  const changes = recent(state.changes, now, opts);
  if (!nodata && now - state.lastTrueMs < opts.keepFiringForMs) return { state: { ...state, value, changes } };
  // Flapping: held firing while more than `changes` state changes stay in the window.
  if (state.flapping && opts.flapping && changes.length > opts.flapping.changes) return { state: { ...state, value, changes } };
  const after = [...changes, now];
  return {
    state: { ...INACTIVE, changes: after, nodata: state.nodata },
    emit: emission('resolved', state.severity, value, state.startsAtMs, now, nodata, state.flapping ? changes.length : undefined),
  };
}

function emission(status: Emission['status'], severity: Severity, value: number, startsAtMs: number, endsAtMs: number | undefined, nodata: boolean, flapping: number | undefined): Emission {
  return {
    status,
    severity,
    value,
    startsAtMs,
    ...(endsAtMs !== undefined ? { endsAtMs } : {}),
    ...(nodata ? { nodata: true } : {}),
    ...(flapping !== undefined ? { flapping } : {}),
  };
}

/** A firing alert taken over from the alert history. */
export function restoredState(severity: Severity, startsAtMs: number, value: number, now: number): AlertState {
  return { ...INACTIVE, phase: 'firing', severity, activeSinceMs: startsAtMs, startsAtMs, value, lastTrueMs: now, changes: [] };
}

/** What GET /api/v1/rules shows for a group. */
export function displayState(s: AlertState): 'inactive' | 'pending' | 'firing' | 'nodata' | 'flapping' {
  if (s.nodata) return 'nodata';
  if (s.phase === 'firing' && s.flapping) return 'flapping';
  return s.phase;
}
