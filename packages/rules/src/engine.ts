import { fingerprint, nanosToMillis, type AlertSeverity, type AlertTransition, type MetricPoint } from '@vigil/platform';
import { attributeValue, matchesAll } from './matchers.js';
import { compileRules, type CompiledRule, type Rule } from './rules.js';
import { step, type AlertState, type Emission, type ThresholdSeverity } from './state.js';
import { renderAnnotations } from './template.js';
import { WindowStore, windowValue, type GroupWindow } from './window.js';

/**
 * The rules engine: windows fed with metric points, evaluated into alert transitions. No I/O
 * and no clock: every call takes `now` (Unix milliseconds), so it runs the same on a virtual
 * clock in tests as on `Date.now()` in the worker.
 */

/** A firing alert read back from storage when a worker starts. */
export interface RestoredAlert {
  fingerprint: string;
  rule: string;
  severity: AlertSeverity;
  labels: Record<string, string>;
  startsAt: string;
  value: number;
  /** As last published; reused if the alert's rule is no longer configured. */
  annotations?: Record<string, string>;
}

interface Tracked {
  rule: string;
  labels: Record<string, string>;
  state: AlertState;
  /** Only for restored alerts: what they were published with. */
  annotations?: Record<string, string>;
  /**
   * Newest sample seen for the group, or when a restored alert was restored: a group with no
   * data resolves only once this is a whole window old, so a restarted worker does not resolve
   * what was firing before its windows refill.
   */
  lastSeenMs: number;
}

export interface IngestResult {
  /** Samples added to some rule's window (a point matching two rules counts twice). */
  accepted: number;
  /** Matching points older than the window, or without a usable scalar value. */
  dropped: number;
}

interface RuleRuntime extends CompiledRule {
  windows: WindowStore;
}

/** JSON of sorted entries: a stable identity for a series within a group. */
function seriesKey(point: MetricPoint): string {
  const sorted = (a: Record<string, string>) => Object.keys(a).sort().map((k) => [k, a[k]]);
  return JSON.stringify([sorted(point.attributes), sorted(point.resource.attributes)]);
}

/** Only gauges and sums carry one scalar; OTLP flags bit 0 marks "no recorded value". */
function scalar(point: MetricPoint): number | undefined {
  if (point.kind !== 'gauge' && point.kind !== 'sum') return undefined;
  if ((point.flags & 1) === 1 || !Number.isFinite(point.value)) return undefined;
  return point.value;
}

export class RuleEngine {
  private readonly rules: RuleRuntime[];
  private readonly byMetric = new Map<string, RuleRuntime[]>();
  private readonly byName = new Map<string, RuleRuntime>();
  /** Alerts that are pending or firing, by fingerprint. */
  private readonly alerts = new Map<string, Tracked>();

  constructor(rules: readonly Rule[]) {
    this.rules = compileRules(rules).map((c) => ({ ...c, windows: new WindowStore(c.rule.window) }));
    for (const r of this.rules) {
      this.byName.set(r.rule.name, r);
      const list = this.byMetric.get(r.rule.metric) ?? [];
      list.push(r);
      this.byMetric.set(r.rule.metric, list);
    }
  }

  /**
   * Feeds metric points into the windows of the rules that want them. `fallbackMs` dates points
   * that carry no timestamp (the Kafka record's time).
   */
  ingest(points: readonly MetricPoint[], now: number, fallbackMs: number = now): IngestResult {
    let accepted = 0;
    let dropped = 0;
    for (const p of points) {
      const rules = this.byMetric.get(p.name);
      if (!rules) continue;
      let series: string | undefined;
      for (const r of rules) {
        const attrs = p.attributes;
        const res = p.resource.attributes;
        if (!matchesAll(r.matchers, attrs, res)) continue;
        const value = scalar(p);
        const ts = nanosToMillis(p.timeUnixNano) || fallbackMs;
        if (value === undefined) {
          dropped++;
          continue;
        }
        const values: Record<string, string> = {};
        for (const k of r.rule.groupBy) {
          const v = attributeValue(k, attrs, res);
          if (v !== '') values[k] = v;
        }
        series ??= seriesKey(p);
        if (r.windows.add(JSON.stringify(r.rule.groupBy.map((k) => values[k] ?? '')), values, series, ts, value, now)) accepted++;
        else dropped++;
      }
    }
    return { accepted, dropped };
  }

  /**
   * Takes over alerts that were firing before this worker started, so that it resolves them
   * (no lost resolve) and does not announce them again (no duplicate page).
   */
  restore(alerts: readonly RestoredAlert[], now: number): void {
    for (const a of alerts) {
      if (a.severity !== 'warning' && a.severity !== 'critical') continue;
      const startsAtMs = Date.parse(a.startsAt);
      if (Number.isNaN(startsAtMs)) continue;
      this.alerts.set(a.fingerprint, {
        rule: a.rule,
        labels: a.labels,
        state: { phase: 'firing', severity: a.severity, activeSinceMs: startsAtMs, startsAtMs, value: a.value },
        ...(a.annotations ? { annotations: a.annotations } : {}),
        lastSeenMs: now,
      });
    }
  }

  /** Evaluates every rule at `now`; returns the transitions to publish, in order. */
  evaluate(now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    const seen = new Set<string>();
    for (const r of this.rules) {
      r.windows.evict(now);
      for (const [, group] of r.windows.entries()) {
        const labels = alertLabels(r.rule, group.values);
        const fp = fingerprint(labels);
        seen.add(fp);
        const tracked = this.alerts.get(fp);
        const value = windowValue(group, r.rule.combine, r.rule.aggregate);
        const result = step(tracked?.state, value, r.rule, r.rule.for, now);
        if (result.state) this.alerts.set(fp, { rule: r.rule.name, labels, state: result.state, lastSeenMs: newest(group) });
        else this.alerts.delete(fp);
        if (result.emit) out.push(this.transition(r.rule, fp, labels, result.emit));
      }
    }
    // Alerts whose group has no data left in its window, or whose rule is gone.
    for (const [fp, t] of this.alerts) {
      if (seen.has(fp)) continue;
      const r = this.byName.get(t.rule);
      if (r && now - t.lastSeenMs < r.rule.window) continue;
      this.alerts.delete(fp);
      if (t.state.phase !== 'firing') continue;
      const emit: Emission = { status: 'resolved', severity: t.state.severity, value: t.state.value, startsAtMs: t.state.startsAtMs, endsAtMs: now };
      if (r) out.push(this.transition(r.rule, fp, t.labels, emit));
      // A rule no longer configured resolves what it had firing, with the texts it fired with.
      else out.push({ ...this.transition({ name: t.rule, window: 0, annotations: {} }, fp, t.labels, emit), annotations: t.annotations ?? {} });
    }
    return out;
  }

  /** How many alerts are firing (for a gauge). */
  firingCount(): number {
    let n = 0;
    for (const t of this.alerts.values()) if (t.state.phase === 'firing') n++;
    return n;
  }

  /** Groups held in windows, over all rules (for a gauge). */
  groupCount(): number {
    return this.rules.reduce((n, r) => n + r.windows.size, 0);
  }

  /** The state of one alert, for tests and diagnostics. */
  stateOf(fp: string): { phase: AlertState['phase']; severity: ThresholdSeverity } | undefined {
    const t = this.alerts.get(fp);
    return t && { phase: t.state.phase, severity: t.state.severity };
  }


  private transition(rule: Pick<Rule, 'name' | 'window' | 'annotations'>, fp: string, labels: Record<string, string>, e: Emission): AlertTransition {
    return {
      fingerprint: fp,
      status: e.status,
      severity: e.severity,
      labels,
      annotations: renderAnnotations(rule.annotations, { value: e.value, severity: e.severity, rule: rule.name, status: e.status, labels }),
      startsAt: new Date(e.startsAtMs).toISOString(),
      ...(e.endsAtMs !== undefined ? { endsAt: new Date(e.endsAtMs).toISOString() } : {}),
      value: e.value,
      rule: rule.name,
      window: rule.window,
    };
  }
}

function newest(group: GroupWindow): number {
  let max = -Infinity;
  for (const ts of group.samples.keys()) if (ts > max) max = ts;
  return max;
}

/** The label set of an alert of `rule` for the given group-by values (empty values left out). */
export function alertLabels(rule: Pick<Rule, 'name' | 'labels'>, groupValues: Record<string, string>): Record<string, string> {
  const values = Object.fromEntries(Object.entries(groupValues).filter(([, v]) => v !== ''));
  return { alertname: rule.name, ...values, ...rule.labels };
}
