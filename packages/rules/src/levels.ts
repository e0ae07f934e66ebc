import type { AlertSeverity } from '@vigil/platform';

/**
 * Thresholds: which severity a value is at. Pure. Levels are checked from critical down to info;
 * with `recover` (hysteresis) an alert already at a level stays there until the value passes
 * that level's recover threshold, so a value hovering at a threshold does not flap.
 */
export type Op = '>' | '>=' | '<' | '<=' | '==' | '!=';
export type Severity = AlertSeverity;

export const LEVELS: readonly Severity[] = ['critical', 'warning', 'info'];
const RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

export interface Thresholds {
  op: Op;
  info?: number | undefined;
  warning?: number | undefined;
  critical?: number | undefined;
  recover?: { info?: number | undefined; warning?: number | undefined; critical?: number | undefined };
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
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

export function rank(s: Severity | undefined): number {
  return s === undefined ? 0 : RANK[s];
}

/** The level a value is at; undefined when none is crossed (or the value is NaN). `current` is the alert's level now, for hysteresis. */
export function levelOf(value: number, t: Thresholds, current?: Severity): Severity | undefined {
  if (Number.isNaN(value)) return undefined;
  for (const level of LEVELS) {
    const at = t[level];
    if (at === undefined) continue;
    if (compare(value, t.op, at)) return level;
    const recover = t.recover?.[level];
    // Still on the wrong side of the recover threshold: held at this level (or a higher one it came down from).
    if (recover !== undefined && rank(current) >= RANK[level] && compare(value, t.op, recover)) return level;
  }
  return undefined;
}

/** The threshold of a level (for "critical at 90 %"). */
export function thresholdOf(t: Thresholds, level: Severity): number | undefined {
  return t[level];
}

/** What is wrong with a set of thresholds; `at` prefixes each problem. */
export function thresholdProblems(t: Thresholds, at: string): string[] {
  const out: string[] = [];
  const set = LEVELS.filter((l) => t[l] !== undefined);
  if (set.length === 0) out.push(`${at}: needs an info, warning or critical threshold`);
  const above = t.op === '>' || t.op === '>=';
  const below = t.op === '<' || t.op === '<=';
  // Ordered levels: critical must be the most extreme, or it would hide the others.
  for (let i = 0; i + 1 < set.length && (above || below); i++) {
    const hi = set[i]!;
    const lo = set[i + 1]!;
    const a = t[hi]!;
    const b = t[lo]!;
    if (above ? b > a : b < a) {
      out.push(`${at}: with op "${t.op}" the ${lo} threshold (${b}) must not be ${above ? 'above' : 'below'} the ${hi} one (${a}), or ${hi} would hide it`);
    }
  }
  for (const level of LEVELS) {
    const r = t.recover?.[level];
    if (r === undefined) continue;
    const th = t[level];
    if (th === undefined) out.push(`${at}: recover.${level} is set but there is no ${level} threshold`);
    else if (!above && !below) out.push(`${at}: recover.${level}: hysteresis needs op >, >=, < or <= (not ${t.op})`);
    else if (above ? r > th : r < th) out.push(`${at}: recover.${level} (${r}) must be ${above ? 'at or below' : 'at or above'} the ${level} threshold (${th})`);
  }
  return out;
}
