/**
 * The life of one alert (a rule and one group), as in Prometheus: inactive → pending (the
 * condition holds, waiting `for`) → firing → resolved (back to inactive). Pure: the caller
 * passes the window value and the time.
 *
 * `for` applies to the condition "some threshold is crossed". Once firing, a change of severity
 * (warning ↔ critical) is announced at once as a new `firing` transition with the same startsAt,
 * so escalations are not delayed by `for`.
 */
export type Op = '>' | '>=' | '<' | '<=';
export type ThresholdSeverity = 'warning' | 'critical';

export interface Thresholds {
  op: Op;
  warning?: number;
  critical?: number;
}

export function compare(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

/** Critical is checked before warning; undefined when no threshold is crossed (or the value is NaN). */
export function severityOf(value: number, t: Thresholds): ThresholdSeverity | undefined {
  if (t.critical !== undefined && compare(value, t.op, t.critical)) return 'critical';
  if (t.warning !== undefined && compare(value, t.op, t.warning)) return 'warning';
  return undefined;
}

export type AlertState =
  | { phase: 'pending'; severity: ThresholdSeverity; activeSinceMs: number; value: number }
  | { phase: 'firing'; severity: ThresholdSeverity; activeSinceMs: number; startsAtMs: number; value: number };

export interface Emission {
  status: 'firing' | 'resolved';
  severity: ThresholdSeverity;
  value: number;
  startsAtMs: number;
  /** Only on `resolved`. */
  endsAtMs?: number;
}

export interface StepResult {
  /** undefined means inactive. */
  state: AlertState | undefined;
  emit?: Emission;
}

/**
 * One evaluation. `value` undefined means the group had no data for a whole window: a firing
 * alert resolves (with its last value), a pending one is dropped. Telling late data from absent
 * data is not done here yet; absence simply resolves.
 */
export function step(state: AlertState | undefined, value: number | undefined, t: Thresholds, forMs: number, now: number): StepResult {
  const severity = value === undefined ? undefined : severityOf(value, t);
  if (severity === undefined) {
    if (state?.phase === 'firing') {
      const last = value ?? state.value;
      return { state: undefined, emit: { status: 'resolved', severity: state.severity, value: last, startsAtMs: state.startsAtMs, endsAtMs: now } };
    }
    return { state: undefined };
  }
  const v = value!;
  if (state?.phase === 'firing') {
    const next: AlertState = { ...state, severity, value: v };
    if (severity === state.severity) return { state: next };
    return { state: next, emit: { status: 'firing', severity, value: v, startsAtMs: state.startsAtMs } };
  }
  const activeSinceMs = state?.activeSinceMs ?? now;
  if (now - activeSinceMs >= forMs) {
    return {
      state: { phase: 'firing', severity, activeSinceMs, startsAtMs: now, value: v },
      emit: { status: 'firing', severity, value: v, startsAtMs: now },
    };
  }
  return { state: { phase: 'pending', severity, activeSinceMs, value: v } };
}
