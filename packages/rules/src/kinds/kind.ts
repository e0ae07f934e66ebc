import type { Severity } from '../levels.js';
import type { Matcher } from '../matchers.js';
import type { Rule } from '../schema.js';
import type { CompiledEventSelector, EventView } from '../selector.js';

/**
 * What every rule kind gives the engine: what it reads (metrics by name and matchers, events
 * by selector), the data one group keeps, and what that data says at the end of a window.
 * Each kind is a small pure module; the engine does the grouping, the clock, the state machine
 * and the transitions for all of them alike.
 */

/** What a group's data says at an evaluation. */
export interface Reading {
  /** undefined: no value (nothing in the window, a zero denominator). */
  value: number | undefined;
  /** The level the value is at; undefined when the condition does not hold. */
  level: Severity | undefined;
  /** The threshold of that level, for "critical at 90 %". */
  threshold?: number | undefined;
  /** The value for people when it is not a number (a state such as "unhealthy"). */
  text?: string | undefined;
  /** The group has been away so long it is forgotten (absence: `forgetAfter`). */
  forgotten?: boolean;
}

export interface MetricInput {
  metric: string;
  matchers: Matcher[];
  /** Which side of the rule it feeds (ratio: 0 numerator, 1 denominator). */
  side: number;
}

export interface EventInput {
  selector: CompiledEventSelector;
  side: number;
}

export interface KindRuntime<D = unknown> {
  readonly rule: Rule;
  readonly metricInputs: readonly MetricInput[];
  readonly eventInputs: readonly EventInput[];
  readonly groupBy: readonly string[];
  /** The window values are computed over (0 for kinds without one). */
  readonly windowMs: number;
  /** What is measured, for transitions: `system.cpu.utilization{cpu.mode!="idle"}`, `events{severity>=error}`. */
  readonly expr: string;
  /** Unit of the value, when the kind or rule fixes it (else the metric's). */
  readonly unit: string | undefined;
  /** Evaluated on every change as well as at each step (state: DB unreachable is critical at once). */
  readonly eager: boolean;
  /** Absence is its condition: a silent source does not put its groups in nodata. */
  readonly absenceAware: boolean;
  newData(): D;
  /**
   * `fresh`: the engine knows the series sent this group nothing at or after `ts` (its newest point
   * here is older), so the sample can be appended without looking for a duplicate.
   */
  addPoint(d: D, side: number, ts: number, series: string, value: number, startMs: number, delta: boolean, fresh: boolean): void;
  addEvent(d: D, side: number, ts: number, e: EventView): void;
  /** The reading of the window `[t - windowMs, t)`; `current` is the alert's level now (hysteresis). */
  read(d: D, t: number, current: Severity | undefined): Reading;
  /** Drops what no evaluation at or after `t` needs; true when nothing is left. */
  evict(d: D, t: number): boolean;
}
