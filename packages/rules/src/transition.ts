import type { AlertTransition } from '@vigil/platform';
import type { Emission } from './state.js';

/** A transition of `vigil.alerts` as rules make it: with `unit`, `threshold` and `expr`. */
export type RuleTransition = AlertTransition;

export interface TransitionParts {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  emission: Emission;
  rule: string;
  windowMs: number;
  unit?: string | undefined;
  threshold?: number | undefined;
  expr: string;
}

/**
 * One alert transition from what the state machine emitted. `severity` is a label too, as
 * Alertmanager's receivers expect (`alerts[].labels.severity`); the fingerprint is made without
 * it (`p.fingerprint`), so an alert keeps its identity when its level changes.
 */
export function alertTransition(p: TransitionParts): RuleTransition {
  const e = p.emission;
  return {
    fingerprint: p.fingerprint,
    status: e.status,
    severity: e.severity,
    labels: { ...p.labels, severity: e.severity },
    annotations: p.annotations,
    startsAt: new Date(e.startsAtMs).toISOString(),
    ...(e.endsAtMs !== undefined ? { endsAt: new Date(e.endsAtMs).toISOString() } : {}),
    value: e.value,
    rule: p.rule,
    window: p.windowMs,
    ...(p.unit ? { unit: p.unit } : {}),
    ...(e.status === 'firing' && p.threshold !== undefined ? { threshold: p.threshold } : {}),
    expr: p.expr,
  };
}
