import { parseMatchers } from '../matchers.js';
import type { RateRule } from '../schema.js';
import { matchersText } from '../selector.js';
import type { KindRuntime } from './kind.js';
import { CounterWindow } from './samples.js';
import { thresholdReading } from './threshold.js';

/**
 * `kind: rate`: a counter's increase over the window (function: increase), or that per second
 * (function: rate), summed over the group's series; counter resets count as in Prometheus.
 */
export function rateKind(rule: RateRule): KindRuntime<CounterWindow> {
  const matchers = parseMatchers(rule.where);
  const perSecond = rule.function === 'rate';
  return {
    rule,
    metricInputs: [{ metric: rule.metric, matchers, side: 0 }],
    eventInputs: [],
    groupBy: rule.groupBy,
    windowMs: rule.window,
    expr: `${rule.function}(${rule.metric}${matchersText(matchers)})`,
    unit: rule.unit ?? (perSecond ? '/s' : undefined),
    eager: false,
    absenceAware: false,
    newData: () => new CounterWindow(),
    addPoint: (d, _side, ts, series, value, startMs, delta) => d.add(series, ts, value, startMs, delta),
    addEvent: () => undefined,
    read(d, t, current) {
      const inc = d.increase(t - rule.window, t);
      return thresholdReading(inc === undefined ? undefined : perSecond ? inc / (rule.window / 1000) : inc, rule, current);
    },
    evict(d, t) {
      d.evictBefore(t - rule.window);
      return d.size === 0;
    },
  };
}
