import { levelOf, thresholdOf, type Thresholds } from '../levels.js';
import { parseMatchers } from '../matchers.js';
import type { ThresholdRule } from '../schema.js';
import { matchersText } from '../selector.js';
import type { KindRuntime, Reading } from './kind.js';
import { SampleWindow } from './samples.js';

/** `kind: threshold`: a metric's samples combined per instant, aggregated over the window, compared with thresholds. */
export function thresholdKind(rule: ThresholdRule): KindRuntime<SampleWindow> {
  const matchers = parseMatchers(rule.where);
  return {
    rule,
    metricInputs: [{ metric: rule.metric, matchers, side: 0 }],
    eventInputs: [],
    groupBy: rule.groupBy,
    windowMs: rule.window,
    expr: `${rule.aggregate}(${rule.combine ? `${rule.combine} of ` : ''}${rule.metric}${matchersText(matchers)})`,
    unit: rule.unit,
    eager: false,
    absenceAware: false,
    newData: () => new SampleWindow(),
    addPoint: (d, _side, ts, series, value, _startMs, _delta, fresh) => d.add(ts, series, value, fresh),
    addEvent: () => undefined,
    read: (d, t, current) => thresholdReading(d.aggregate(t - rule.window, t, rule.combine, rule.aggregate), rule, current),
    evict(d, t) {
      d.evictBefore(t - rule.window);
      return d.size === 0;
    },
  };
}

/** A value compared with a rule's thresholds, the crossed one named. */
export function thresholdReading(value: number | undefined, t: Thresholds, current: Reading['level']): Reading {
  if (value === undefined) return { value, level: undefined };
  const level = levelOf(value, t, current);
  return { value, level, threshold: level ? thresholdOf(t, level) : undefined };
}
