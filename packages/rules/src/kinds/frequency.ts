import type { FrequencyRule } from '../schema.js';
import { compileEventSelector } from '../selector.js';
import type { KindRuntime } from './kind.js';
import { CountWindow } from './samples.js';
import { thresholdReading } from './threshold.js';

/** `kind: frequency`: log records matching a selector, counted per group over the window, compared with thresholds. */
export function frequencyKind(rule: FrequencyRule): KindRuntime<CountWindow> {
  const selector = compileEventSelector(rule.events);
  return {
    rule,
    metricInputs: [],
    eventInputs: [{ selector, side: 0 }],
    groupBy: rule.groupBy,
    windowMs: rule.window,
    expr: `count(${selector.expr})`,
    unit: rule.unit ?? '{event}',
    eager: false,
    absenceAware: false,
    newData: () => new CountWindow(),
    addPoint: () => undefined,
    addEvent: (d, _side, ts) => d.add(ts),
    // A group that has been seen counts 0 when its window is empty: "no errors" is a value.
    read: (d, t, current) => thresholdReading(d.count(t - rule.window, t), rule, current),
    evict(d, t) {
      d.evictBefore(t - rule.window);
      return d.size === 0;
    },
  };
}
