import { parseMatchers } from '../matchers.js';
import type { AbsenceRule } from '../schema.js';
import { compileEventSelector, matchersText } from '../selector.js';
import type { KindRuntime } from './kind.js';

export interface LastSeen {
  ts: number;
}

/**
 * `kind: absence` (heartbeat): a group seen before that sends nothing for `after` fires, and
 * resolves when data returns. Groups come from the data itself, so new clients are picked up;
 * one silent for `forgetAfter` is forgotten (a decommissioned client) and its alert resolves.
 * The value is how long the group has been silent, in seconds.
 */
export function absenceKind(rule: AbsenceRule): KindRuntime<LastSeen> {
  const matchers = parseMatchers(rule.where);
  const selector = rule.events ? compileEventSelector({ ...rule.events, where: { ...rule.events.where, ...rule.where } }) : undefined;
  return {
    rule,
    metricInputs: rule.metric ? [{ metric: rule.metric, matchers, side: 0 }] : [],
    eventInputs: selector ? [{ selector, side: 0 }] : [],
    groupBy: rule.groupBy,
    windowMs: rule.after,
    expr: `absent(${rule.metric ? `${rule.metric}${matchersText(matchers)}` : selector!.expr})`,
    unit: 's',
    eager: false,
    absenceAware: true,
    newData: () => ({ ts: -Infinity }),
    addPoint(d, _side, ts) {
      if (ts > d.ts) d.ts = ts;
    },
    addEvent(d, _side, ts) {
      if (ts > d.ts) d.ts = ts;
    },
    read(d, t) {
      const silentMs = Math.max(0, t - d.ts);
      if (silentMs >= rule.forgetAfter) return { value: silentMs / 1000, level: undefined, forgotten: true };
      const level = silentMs >= rule.after ? rule.severity : undefined;
      return { value: silentMs / 1000, level, threshold: level ? rule.after / 1000 : undefined };
    },
    evict: (d, t) => t - d.ts >= rule.forgetAfter,
  };
}
