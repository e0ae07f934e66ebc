import { parseMatchers } from '../matchers.js';
import type { RatioRule, RatioSideConfig } from '../schema.js';
import { compileEventSelector, matchersText } from '../selector.js';
import type { EventInput, KindRuntime, MetricInput } from './kind.js';
import { CounterWindow, CountWindow, SampleWindow } from './samples.js';
import { thresholdReading } from './threshold.js';

type SideData = CountWindow | CounterWindow | SampleWindow;

interface Side {
  expr: string;
  newData(): SideData;
  value(d: SideData, from: number, to: number): number | undefined;
}

function side(config: RatioSideConfig, index: number, metricInputs: MetricInput[], eventInputs: EventInput[]): Side {
  if ('events' in config) {
    const selector = compileEventSelector(config.events);
    eventInputs.push({ selector, side: index });
    return { expr: `count(${selector.expr})`, newData: () => new CountWindow(), value: (d, from, to) => (d as CountWindow).count(from, to) };
  }
  const matchers = parseMatchers(config.where);
  metricInputs.push({ metric: config.metric, matchers, side: index });
  const expr = `${config.aggregate}(${config.metric}${matchersText(matchers)})`;
  if (config.aggregate === 'increase' || config.aggregate === 'rate') {
    const perSecond = config.aggregate === 'rate';
    return {
      expr,
      newData: () => new CounterWindow(),
      value(d, from, to) {
        const inc = (d as CounterWindow).increase(from, to);
        return inc === undefined || !perSecond ? inc : inc / ((to - from) / 1000);
      },
    };
  }
  const aggregate = config.aggregate;
  return { expr, newData: () => new SampleWindow(), value: (d, from, to) => (d as SampleWindow).aggregate(from, to, config.combine, aggregate) };
}

/**
 * `kind: ratio`: numerator over denominator per group, each a metric (increase of a counter by
 * default) or an event count. A zero or missing denominator is no value, never a division error.
 */
export function ratioKind(rule: RatioRule): KindRuntime<SideData[]> {
  const metricInputs: MetricInput[] = [];
  const eventInputs: EventInput[] = [];
  const sides = [side(rule.numerator, 0, metricInputs, eventInputs), side(rule.denominator, 1, metricInputs, eventInputs)];
  return {
    rule,
    metricInputs,
    eventInputs,
    groupBy: rule.groupBy,
    windowMs: rule.window,
    expr: `${sides[0]!.expr} / ${sides[1]!.expr}`,
    unit: rule.unit ?? '1',
    eager: false,
    absenceAware: false,
    newData: () => sides.map((s) => s.newData()),
    addPoint(d, i, ts, series, value, startMs, delta, fresh) {
      const data = d[i]!;
      if (data instanceof CounterWindow) data.add(series, ts, value, startMs, delta);
      else if (data instanceof SampleWindow) data.add(ts, series, value, fresh);
    },
    addEvent(d, i, ts) {
      const data = d[i]!;
      if (data instanceof CountWindow) data.add(ts);
    },
    read(d, t, current) {
      const from = t - rule.window;
      const den = sides[1]!.value(d[1]!, from, t);
      if (den === undefined || den === 0 || !Number.isFinite(den)) return { value: undefined, level: undefined };
      const num = sides[0]!.value(d[0]!, from, t) ?? 0;
      return thresholdReading(num / den, rule, current);
    },
    evict(d, t) {
      for (const data of d) data.evictBefore(t - rule.window);
      return d.every((data) => data.size === 0);
    },
  };
}
