import type { Severity } from '../levels.js';
import { parseMatchers } from '../matchers.js';
import type { StateRule, StateValue } from '../schema.js';
import { compileEventSelector, eventAttribute, matchersText } from '../selector.js';
import type { KindRuntime } from './kind.js';

export interface StateData {
  ts: number;
  value: string;
  numeric: number;
}

const asList = (v: StateValue | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/**
 * `kind: state`: the latest value of a metric (vigil.probe.up, vigil.probe.state) or of an event
 * attribute (vigil.probe.state of probe.state_changed) is the state; a value listed under
 * critical, warning or info fires at that level at once, with no window. Evaluated on every
 * change, not only at the evaluation steps.
 */
export function stateKind(rule: StateRule): KindRuntime<StateData> {
  const matchers = parseMatchers(rule.where);
  const selector = rule.events ? compileEventSelector({ ...rule.events, where: { ...rule.events.where, ...rule.where } }) : undefined;
  const levels: [Severity, Set<string>][] = (['critical', 'warning', 'info'] as const).map((l) => [l, new Set(asList(rule[l]))]);
  const attribute = rule.attribute ?? '';
  return {
    rule,
    metricInputs: rule.metric ? [{ metric: rule.metric, matchers, side: 0 }] : [],
    eventInputs: selector ? [{ selector, side: 0 }] : [],
    groupBy: rule.groupBy,
    windowMs: 0,
    expr: rule.metric ? `${rule.metric}${matchersText(matchers)}` : `${selector!.expr}.${attribute}`,
    unit: rule.unit,
    eager: true,
    absenceAware: false,
    newData: () => ({ ts: -Infinity, value: '', numeric: 0 }),
    addPoint(d, _side, ts, _series, value) {
      if (ts < d.ts) return;
      d.ts = ts;
      d.numeric = value;
      d.value = String(value);
    },
    addEvent(d, _side, ts, e) {
      if (ts < d.ts) return;
      d.ts = ts;
      d.value = eventAttribute(e, attribute);
      const n = Number(d.value);
      d.numeric = d.value !== '' && Number.isFinite(n) ? n : 0;
    },
    read(d, t) {
      if (d.ts === -Infinity || d.ts >= t + 1) return { value: undefined, level: undefined };
      for (const [level, values] of levels) {
        if (values.has(d.value)) return { value: d.numeric, level, text: d.value, ...(rule.metric ? { threshold: d.numeric } : {}) };
      }
      return { value: d.numeric, level: undefined, text: d.value };
    },
    // The state is the last value, however old; the source's silence (nodata) covers a state that stops being reported.
    evict: () => false,
  };
}
