import { fingerprint, formatDuration, nanosToMillis, type AlertTransition, type LogEntry, type MetricPoint, type ResourceInfo } from '@vigil/platform';
import type { KindRuntime, Reading } from './kinds/kind.js';
import { rank, type Severity } from './levels.js';
import type { CompiledRule } from './rules.js';
import { matchesAll } from './matchers.js';
import { eventAttribute, eventView, type EventView } from './selector.js';
import { SeriesRoutes, type ResourceSeries } from './series.js';
import { advanceSource, alignDown, alignUp, estimate, horizonFor, isSilent, newSource, passed, sourceId, stalled, type Reads, type Signal, type Source, type SourceTiming } from './sources.js';
import { INACTIVE, displayState, restoredState, step, type AlertState, type Emission, type Observation, type StepOptions } from './state.js';
import { renderAnnotations } from './template.js';
import { alertTransition } from './transition.js';

/**
 * The rules engine: records in, alert transitions out. No I/O and no clock: every call takes
 * `now` (processing time, Unix ms); windows run on the event times the records carry.
 *
 * Each rule's kind says what it reads and what a group's data means (kinds/); the engine groups
 * records by the rule's `groupBy`, ties each group to its source(s) and their watermarks
 * (sources.ts), evaluates a group's window `[t - window, t)` at every aligned step `t` once its
 * sources have passed `t` (or waited `maxLateness`), and runs the alert state machine (state.ts)
 * on what it read. A window its sources have not completed never resolves or lowers an alert; a
 * silent source puts its groups in nodata and raises one `source_silent` alert.
 */

export const SOURCE_SILENT_RULE = 'source_silent';
const SOURCE_ANNOTATION = 'vigil.source';
const SIGNALS: readonly Signal[] = [0, 1];
/** A group further behind than this many steps jumps to the newest one (after a long pause). */
const MAX_CATCH_UP = 60;

export interface EngineOptions {
  /** The evaluation step (rules.evaluationInterval). */
  stepMs: number;
  maxLatenessMs: number;
  silentAfterMs: number;
  /** A source silent this long is forgotten, and so are its groups. */
  forgetAfterMs: number;
  /** Severity of source_silent alerts. */
  sourceSeverity: Severity;
  /** Default flap damping. */
  flapping: { changes: number; windowMs: number };
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  stepMs: 10_000,
  maxLatenessMs: 30_000,
  silentAfterMs: 120_000,
  forgetAfterMs: 86_400_000,
  sourceSeverity: 'warning',
  flapping: { changes: 6, windowMs: 3_600_000 },
};

/** A firing alert read back from the alert history when a worker starts. */
export interface RestoredAlert {
  fingerprint: string;
  rule: string;
  severity: Severity;
  labels: Record<string, string>;
  startsAt: string;
  value: number;
  annotations?: Record<string, string>;
  /** The partition of its source (alerts belong to the worker that owns it); absent: not known. */
  partition?: number;
}

/** Which partition a transition's alert belongs to (its source's), for the worker's state changelog. */
const TRANSITION_PARTITION = new WeakMap<AlertTransition, number>();

/** The partition of the source a transition's alert belongs to; undefined for transitions the engine did not make. */
export function transitionPartition(t: AlertTransition): number | undefined {
  return TRANSITION_PARTITION.get(t);
}

function tagged(t: AlertTransition, partition: number | undefined): AlertTransition {
  if (partition !== undefined) TRANSITION_PARTITION.set(t, partition);
  return t;
}

/** A transition read back from the changelog, tagged with the partition it was read from. */
export function withPartition(t: AlertTransition, partition: number): AlertTransition {
  return tagged(t, partition);
}

export interface IngestContext {
  now: number;
  /** Bus partition of the records. */
  partition?: number;
  /** Dates records that carry no time (the Kafka record's timestamp). */
  fallbackMs?: number;
  /** Kafka key: the source when the resource names none. */
  key?: string | null;
}

export interface IngestResult {
  /** Samples taken into some rule's group (a record two rules read counts twice). */
  accepted: number;
  /** Matching points without a usable scalar value. */
  dropped: number;
  /** Samples older than what was already evaluated for their group: counted, never rewriting a sent transition. */
  late: number;
}

interface Group {
  rule: RuleRuntime;
  key: string;
  labels: Record<string, string>;
  fingerprint: string;
  data: unknown;
  /** The first source of the group; `more` holds others (a group by service over many hosts), with their newest sample time. */
  source: Source;
  more: Map<Source, number> | undefined;
  nextEvalMs: number;
  lastEvalMs: number;
  /** Eager kinds: newest sample time not yet evaluated. */
  dirtyAt: number;
  state: AlertState;
  /** The latest record counted (event rules), for {{event.*}}, and its time as it carries it. */
  sample: EventView | undefined;
  sampleMs: number;
  unit: string;
  reading: Reading | undefined;
  /** Dropped from its rule: series routes that point to it look their group up again. */
  dead: boolean;
}

/** A series feeding a group through one input: the group, and the newest time the series gave it. */
interface Feed {
  g: Group;
  newest: number;
}

/**
 * What a series' route knows for one input of its metric: false, the input's matchers refuse the
 * series; true, they take it but it has no group yet; else the group it feeds.
 */
type Slot = Feed | boolean;

interface RuleRuntime {
  compiled: CompiledRule;
  kind: KindRuntime;
  /** The signals it reads: its windows wait for those. */
  reads: Reads;
  name: string;
  groups: Map<string, Group>;
  stepOptions: StepOptions;
  lastEvalAt: number;
  evalNanos: number;
  evaluations: number;
}

interface Dormant {
  alert: RestoredAlert;
  source: string | undefined;
  restoredAt: number;
}

interface SilentAlert {
  state: AlertState;
}

/** One group as GET /api/v1/rules shows it. */
export interface GroupStatus {
  labels: Record<string, string>;
  fingerprint: string;
  state: 'inactive' | 'pending' | 'firing' | 'nodata' | 'flapping';
  severity?: Severity;
  value?: number;
  activeSince?: string;
  startsAt?: string;
  lastEvaluation?: string;
}

export interface RuleStatus {
  name: string;
  kind: string;
  origin: string;
  /** Event time of the newest window evaluated. */
  lastEvaluation?: string;
  /** Processing time spent evaluating it, in total and per evaluation. */
  evaluations: number;
  evaluationMs: number;
  groups: GroupStatus[];
}

/** Only gauges and sums carry one scalar; OTLP flags bit 0 marks "no recorded value". */
function scalar(p: MetricPoint): number | undefined {
  if (p.kind !== 'gauge' && p.kind !== 'sum') return undefined;
  if ((p.flags & 1) === 1 || !Number.isFinite(p.value)) return undefined;
  return p.value;
}

/** The group key of a record: its group-by values (point or record attribute, then resource attribute), joined. */
function groupKey(by: readonly string[], attrs: Record<string, string>, res: Record<string, string>): string {
  if (by.length === 1) return attrs[by[0]!] ?? res[by[0]!] ?? '';
  let key = '';
  for (let i = 0; i < by.length; i++) key += (i === 0 ? '' : '\u0000') + (attrs[by[i]!] ?? res[by[i]!] ?? '');
  return key;
}

/** The group-by values of a new group, empty ones left out. */
function groupValues(by: readonly string[], get: (k: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of by) {
    const v = get(k);
    if (v) out[k] = v;
  }
  return out;
}

export class RuleEngine {
  readonly options: EngineOptions;
  private readonly rules: RuleRuntime[];
  private readonly byName = new Map<string, RuleRuntime>();
  private readonly byMetric = new Map<string, { rule: RuleRuntime; side: number; matchers: KindRuntime['metricInputs'][number]['matchers'] }[]>();
  /** Per series: its identity, and per input of its metric what the first point worked out. */
  private readonly series: SeriesRoutes<Slot>;
  private readonly eventRules: { rule: RuleRuntime; side: number; input: KindRuntime['eventInputs'][number]; grouping: number }[] = [];
  /** Per record: the group key of each distinct groupBy of the event rules (index `grouping`). */
  private readonly keyScratch: (string | undefined)[] = [];
  private readonly sqlRules: CompiledRule[];
  private readonly sources = new Map<string, Source>();
  private readonly groupsOf = new Map<Source, Set<Group>>();
  private readonly resourceSource = new WeakMap<ResourceInfo, Source>();
  private readonly dirtySources = new Set<Source>();
  private readonly eagerDirty = new Set<Group>();
  private readonly dormant = new Map<string, Dormant>();
  private readonly silentAlerts = new Map<Source, SilentAlert>();
  private readonly timing: SourceTiming;

  constructor(rules: readonly CompiledRule[], options: Partial<EngineOptions> = {}) {
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    this.timing = { stepMs: this.options.stepMs, maxLatenessMs: this.options.maxLatenessMs, silentAfterMs: this.options.silentAfterMs };
    this.sqlRules = rules.filter((r) => r.kind === undefined);
    this.rules = rules
      .filter((r) => r.kind !== undefined)
      .map((compiled) => {
        const r = compiled.rule;
        const flapping = r.flapping ? { changes: r.flapping.changes, windowMs: r.flapping.window } : this.options.flapping;
        const kind = compiled.kind!;
        const reads: Reads = kind.metricInputs.length > 0 && kind.eventInputs.length > 0 ? 2 : kind.eventInputs.length > 0 ? 1 : 0;
        return {
          compiled,
          kind,
          reads,
          name: r.name,
          groups: new Map(),
          stepOptions: { forMs: r.for, keepFiringForMs: r.keepFiringFor, nodata: r.nodata, flapping },
          lastEvalAt: -Infinity,
          evalNanos: 0,
          evaluations: 0,
        };
      });
    const groupings = new Map<string, number>();
    for (const rt of this.rules) {
      this.byName.set(rt.name, rt);
      for (const input of rt.kind.metricInputs) {
        const list = this.byMetric.get(input.metric) ?? [];
        list.push({ rule: rt, side: input.side, matchers: input.matchers });
        this.byMetric.set(input.metric, list);
      }
      for (const input of rt.kind.eventInputs) {
        // Rules grouping alike share the key of a record (most group by host.name): computed once per record.
        const by = JSON.stringify(rt.kind.groupBy);
        let grouping = groupings.get(by);
        if (grouping === undefined) groupings.set(by, (grouping = groupings.size));
        this.eventRules.push({ rule: rt, side: input.side, input, grouping });
      }
    }
    this.keyScratch.length = groupings.size;
    // A series away longer than every window has nothing left in any: its route may go.
    const longest = this.rules.reduce((m, rt) => Math.max(m, rt.kind.windowMs), 0);
    this.series = new SeriesRoutes(Math.max(3_600_000, 2 * longest + this.options.maxLatenessMs));
  }

  /** The sql rules of the set (run by the sql runner, not here). */
  get sql(): readonly CompiledRule[] {
    return this.sqlRules;
  }

  // ---- records in ----

  private sourceOf(resource: ResourceInfo, ctx: IngestContext): Source {
    let s = this.resourceSource.get(resource);
    if (s && this.sources.get(s.id) === s) return s;
    const id = sourceId(resource, ctx.key);
    s = this.sources.get(id);
    if (!s) {
      s = newSource(id, resource, ctx.partition ?? 0, ctx.now);
      this.sources.set(id, s);
    }
    this.resourceSource.set(resource, s);
    return s;
  }

  private touch(s: Source, signal: Signal, ts: number, ctx: IngestContext): void {
    if (ctx.partition !== undefined) s.partition = ctx.partition;
    if (advanceSource(s, signal, ts, ctx.now)) this.dirtySources.add(s);
  }

  private group(rt: RuleRuntime, values: Record<string, string>, key: string, source: Source, ts: number, now: number): Group {
    const labels: Record<string, string> = { alertname: rt.name };
    for (const k of rt.kind.groupBy) if (values[k]) labels[k] = values[k]!;
    Object.assign(labels, rt.compiled.rule.labels);
    const fp = fingerprint(labels);
    const start = Math.max(alignUp(ts, this.options.stepMs), horizonFor(source, rt.reads));
    const g: Group = {
      rule: rt,
      key,
      labels,
      fingerprint: fp,
      data: rt.kind.newData(),
      source,
      more: undefined,
      nextEvalMs: start,
      lastEvalMs: -Infinity,
      dirtyAt: -Infinity,
      state: INACTIVE,
      sample: undefined,
      sampleMs: -Infinity,
      unit: rt.kind.unit ?? '',
      reading: undefined,
      dead: false,
    };
    const d = this.dormant.get(fp);
    if (d && d.alert.rule === rt.name) {
      // Its data is back: the restored alert continues here (no second page, resolved when it clears).
      g.state = restoredState(d.alert.severity, Date.parse(d.alert.startsAt), d.alert.value, ts);
      this.dormant.delete(fp);
    }
    rt.groups.set(key, g);
    this.link(source, g);
    void now;
    return g;
  }

  private link(s: Source, g: Group): void {
    let set = this.groupsOf.get(s);
    if (!set) {
      set = new Set();
      this.groupsOf.set(s, set);
    }
    set.add(g);
  }

  /** A new group for a metric sample; undefined when the sample is older than its source's evaluated windows. */
  private newGroup(rt: RuleRuntime, key: string, attrs: Record<string, string>, res: Record<string, string>, source: Source, ts: number, now: number): Group | undefined {
    if (ts < horizonFor(source, rt.reads)) return undefined;
    return this.group(rt, groupValues(rt.kind.groupBy, (k) => attrs[k] ?? res[k]), key, source, ts, now);
  }

  /** Whether a sample may still count for its group (not older than what was evaluated); ties the group to the sample's source. */
  private admit(g: Group, source: Source, ts: number): boolean {
    if (ts < g.lastEvalMs) return false;
    if (g.source !== source) {
      const last = g.more?.get(source);
      if (last === undefined) {
        (g.more ??= new Map()).set(source, ts);
        this.link(source, g);
      } else if (ts > last) g.more!.set(source, ts);
    }
    if (g.rule.kind.eager && ts > g.dirtyAt) {
      g.dirtyAt = ts;
      this.eagerDirty.add(g);
    }
    return true;
  }

  /** Feeds metric points (gauges and sums) into the groups of the rules that read them. */
  ingestMetrics(points: readonly MetricPoint[], ctx: IngestContext): IngestResult {
    let accepted = 0;
    let dropped = 0;
    let late = 0;
    const now = ctx.now;
    const fallback = ctx.fallbackMs ?? now;
    let lastResource: ResourceInfo | undefined;
    let source: Source | undefined;
    let series: ResourceSeries<Slot> | undefined;
    /** The place of a point among its resource's points read by rules (SeriesRoutes guesses its route from it). */
    let position = 0;
    let newest = -Infinity;
    // The points of a request mostly share their time: it is read once.
    let lastNanos: string | undefined;
    let ts = 0;
    for (const p of points) {
      if (p.resource !== lastResource) {
        if (source && newest > -Infinity) this.touch(source, 0, newest, ctx);
        lastResource = p.resource;
        source = this.sourceOf(p.resource, ctx);
        series = this.series.resource(p.resource, now);
        position = 0;
        newest = -Infinity;
      }
      if (p.timeUnixNano !== lastNanos) {
        lastNanos = p.timeUnixNano;
        ts = nanosToMillis(lastNanos) || fallback;
      }
      if (ts > newest) newest = ts;
      const inputs = this.byMetric.get(p.name);
      if (!inputs) continue;
      const attrs = p.attributes;
      const res = p.resource.attributes;
      // Matching and the group of each input depend on the series alone: worked out at its first point.
      const route = this.series.route(series!, p.name, attrs, inputs.length, now, position++);
      const slots = route.slots;
      const value = scalar(p);
      let startMs: number | undefined;
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        let slot = slots[i];
        if (slot === undefined) slots[i] = slot = matchesAll(input.matchers, attrs, res);
        if (slot === false) continue;
        if (value === undefined) {
          dropped++;
          continue;
        }
        let feed = slot === true || slot.g.dead ? undefined : slot;
        if (feed === undefined) {
          const key = groupKey(input.rule.kind.groupBy, attrs, res);
          const found = input.rule.groups.get(key) ?? this.newGroup(input.rule, key, attrs, res, source!, ts, now);
          if (found === undefined) {
            late++;
            continue;
          }
          // What the series gave the group before is unknown (a route rebuilt): its first sample is checked for a duplicate.
          slots[i] = feed = { g: found, newest: -Infinity };
        }
        const g = feed.g;
        if (!this.admit(g, source!, ts)) {
          late++;
          continue;
        }
        const delta = p.kind === 'sum' && p.temporality === 1;
        startMs ??= p.startTimeUnixNano === '0' ? 0 : nanosToMillis(p.startTimeUnixNano);
        const fresh = ts > feed.newest && feed.newest > -Infinity;
        if (ts > feed.newest) feed.newest = ts;
        input.rule.kind.addPoint(g.data, input.side, ts, route.id, value, startMs, delta, fresh);
        if (!g.unit && p.unit) g.unit = p.unit;
        accepted++;
      }
    }
    if (source && newest > -Infinity) this.touch(source, 0, newest, ctx);
    return { accepted, dropped, late };
  }

  /**
   * Whether any rule reads log records' content (body, attributes): without one, `ingestLogs`
   * needs only their sources and times (`logHeaders` reads no more than that).
   */
  get readsLogContent(): boolean {
    return this.eventRules.length > 0;
  }

  /** Feeds log records (events) into the groups of the rules that read them. */
  ingestLogs(entries: readonly LogEntry[], ctx: IngestContext): IngestResult {
    let accepted = 0;
    let late = 0;
    const fallback = ctx.fallbackMs ?? ctx.now;
    const keys = this.keyScratch;
    for (const e of entries) {
      const source = this.sourceOf(e.resource, ctx);
      const carried = nanosToMillis(e.timeUnixNano);
      const ts = carried || fallback;
      this.touch(source, 1, ts, ctx);
      if (this.eventRules.length === 0) continue;
      let view: EventView | undefined;
      keys.fill(undefined);
      for (const r of this.eventRules) {
        view ??= eventView(e);
        if (!r.input.selector.test(view)) continue;
        const by = r.rule.kind.groupBy;
        const v = view;
        let key = keys[r.grouping];
        if (key === undefined) {
          key = '';
          for (let i = 0; i < by.length; i++) key += (i === 0 ? '' : '\u0000') + eventAttribute(v, by[i]!);
          keys[r.grouping] = key;
        }
        let g = r.rule.groups.get(key);
        if (!g && ts >= horizonFor(source, r.rule.reads)) g = this.group(r.rule, groupValues(by, (k) => eventAttribute(v, k)), key, source, ts, ctx.now);
        if (g && !this.admit(g, source, ts)) g = undefined;
        if (!g) {
          late++;
          continue;
        }
        r.rule.kind.addEvent(g.data, r.side, ts, view);
        if (!g.sample || carried >= g.sampleMs) {
          g.sample = view;
          g.sampleMs = carried;
        }
        accepted++;
      }
    }
    return { accepted, dropped: 0, late };
  }

  // ---- evaluation ----

  /**
   * Evaluates what became ready: the groups of sources whose watermark passed an evaluation
   * step, and eager groups (state) that changed. Call after each batch of records.
   */
  advance(now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    const candidates = new Set<Group>();
    for (const s of this.dirtySources) this.schedule(s, now, candidates);
    this.dirtySources.clear();
    for (const g of candidates) this.evaluateGroup(g, now, out);
    for (const g of this.eagerDirty) {
      if (g.rule.groups.get(g.key) !== g) continue;
      const t = g.dirtyAt;
      g.dirtyAt = -Infinity;
      if (t > g.lastEvalMs || g.lastEvalMs === -Infinity) this.evaluateAt(g, t, now, out, true);
    }
    this.eagerDirty.clear();
    return out;
  }

  /**
   * The timer's part: windows of stalled sources close after `maxLateness`, silent sources raise
   * source_silent (and resolve it when they come back), forgotten sources go, and restored alerts
   * whose data did not come back resolve. Call every second or so, and at each evaluation interval.
   */
  tick(now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    const candidates = new Set<Group>();
    for (const s of this.sources.values()) {
      if (now - s.advancedAt >= this.options.forgetAfterMs) {
        this.forgetSource(s, now, out);
        continue;
      }
      this.silence(s, now, out);
      // A signal that waited maxLateness moves its windows on (the other may still be flowing).
      if (now - s.at[0] > this.options.maxLatenessMs || now - s.at[1] > this.options.maxLatenessMs) this.schedule(s, now, candidates);
    }
    for (const g of candidates) this.evaluateGroup(g, now, out);
    this.series.sweep(now);
    this.dormantAlerts(now, out);
    out.push(...this.advance(now));
    return out;
  }

  private schedule(s: Source, now: number, candidates: Set<Group>): void {
    let moved = false;
    for (const signal of SIGNALS) {
      if (s.wm[signal] === -Infinity) continue;
      const horizon = alignDown(estimate(s, signal, now, this.timing), this.options.stepMs);
      if (horizon <= s.hz[signal]) continue;
      s.hz[signal] = horizon;
      if (horizon > s.horizon) s.horizon = horizon;
      moved = true;
    }
    if (!moved) return;
    const groups = this.groupsOf.get(s);
    if (groups) for (const g of groups) candidates.add(g);
  }

  /** How far a group's windows may be evaluated: the least of its sources' horizons in what it reads. */
  private readyUntil(g: Group): number {
    const reads = g.rule.reads;
    let ready = horizonFor(g.source, reads);
    // A silent source's horizon moves on with the clock (tick), so it never blocks the others for long.
    if (g.more) for (const s of g.more.keys()) ready = Math.min(ready, horizonFor(s, reads));
    return ready;
  }

  private evaluateGroup(g: Group, now: number, out: AlertTransition[]): void {
    const ready = this.readyUntil(g);
    if (g.nextEvalMs > ready) return;
    const stepMs = this.options.stepMs;
    if ((ready - g.nextEvalMs) / stepMs > MAX_CATCH_UP) g.nextEvalMs = ready;
    const began = process.hrtime.bigint();
    while (g.nextEvalMs <= ready) {
      const t = g.nextEvalMs;
      g.lastEvalMs = t;
      g.nextEvalMs = t + stepMs;
      if (!this.evaluateAt(g, t, now, out, false)) break;
    }
    g.rule.evalNanos += Number(process.hrtime.bigint() - began);
  }

  /** One evaluation of a group at event time `t`; false when the group was forgotten. */
  private evaluateAt(g: Group, t: number, now: number, out: AlertTransition[], eager: boolean): boolean {
    const rt = g.rule;
    const kind = rt.kind;
    rt.evaluations++;
    if (t > rt.lastEvalAt) rt.lastEvalAt = t;
    const empty = eager ? false : kind.evict(g.data, t);
    const silent = this.allSilent(g);
    let obs: Observation;
    let reading: Reading | undefined;
    // Only a complete window may show that a group is gone.
    let complete = false;
    if (silent && !kind.absenceAware) obs = { kind: 'nodata' };
    else {
      reading = kind.read(g.data, t, g.state.phase === 'firing' ? g.state.severity : undefined);
      g.reading = reading;
      if (reading.forgotten) {
        this.forgetGroup(g, t, out, 'forgotten: silent longer than forgetAfter');
        return false;
      }
      complete = eager || kind.absenceAware || this.complete(g, t, now);
      const lower = g.state.phase !== 'inactive' && rank(reading.level) < rank(g.state.severity);
      if (!complete && (reading.level === undefined || lower)) obs = { kind: 'hold' };
      else if (reading.value === undefined) obs = { kind: 'none' };
      else obs = { kind: 'value', value: reading.value, level: reading.level };
    }
    const result = step(g.state, obs, rt.stepOptions, t);
    g.state = result.state;
    if (result.emit) out.push(this.transition(g, result.emit, reading));
    if (empty && complete && g.state.phase === 'inactive') {
      this.dropGroup(g);
      return false;
    }
    if (g.more) this.pruneSources(g, t);
    return true;
  }

  private allSilent(g: Group): boolean {
    if (!g.source.silent) return false;
    if (g.more) for (const s of g.more.keys()) if (!s.silent) return false;
    return true;
  }

  /**
   * Whether the window ending at `t` is complete: every source of the group has passed `t` in what
   * the group reads, or is silent, or still sends otherwise (a quiet stream of a live source is quiet,
   * not late).
   */
  private complete(g: Group, t: number, now: number): boolean {
    const reads = g.rule.reads;
    const done = (s: Source) => s.silent || passed(s, reads, t) || !stalled(s, now, this.timing);
    if (!done(g.source)) return false;
    if (g.more) for (const s of g.more.keys()) if (!done(s)) return false;
    return true;
  }

  /** Sources that have not fed the group for a whole window leave it (the first stays). */
  private pruneSources(g: Group, t: number): void {
    const horizon = t - Math.max(g.rule.kind.windowMs, this.options.stepMs) - this.options.stepMs;
    for (const [s, last] of g.more!) {
      if (last < horizon) {
        g.more!.delete(s);
        this.groupsOf.get(s)?.delete(g);
      }
    }
    if (g.more!.size === 0) g.more = undefined;
  }

  private dropGroup(g: Group): void {
    g.dead = true;
    g.rule.groups.delete(g.key);
    this.groupsOf.get(g.source)?.delete(g);
    if (g.more) for (const s of g.more.keys()) this.groupsOf.get(s)?.delete(g);
  }

  private forgetGroup(g: Group, t: number, out: AlertTransition[], why: string): void {
    if (g.state.phase === 'firing') {
      const e: Emission = { status: 'resolved', severity: g.state.severity, value: g.state.value, startsAtMs: g.state.startsAtMs, endsAtMs: t };
      const tr = this.transition(g, e, g.reading);
      tr.annotations.forgotten = why;
      out.push(tr);
    }
    this.dropGroup(g);
  }

  private forgetSource(s: Source, now: number, out: AlertTransition[]): void {
    for (const g of [...(this.groupsOf.get(s) ?? [])]) {
      if (g.source === s && !g.more) this.forgetGroup(g, now, out, `forgotten: source ${s.id} silent longer than rules.sources.forgetAfter`);
    }
    const silent = this.silentAlerts.get(s);
    if (silent && silent.state.phase === 'firing') {
      const tr = this.silentTransition(s, { status: 'resolved', severity: silent.state.severity, value: (now - s.advancedAt) / 1000, startsAtMs: silent.state.startsAtMs, endsAtMs: now });
      tr.annotations.forgotten = `forgotten after ${formatDuration(this.options.forgetAfterMs)} without data`;
      out.push(tr);
    }
    this.silentAlerts.delete(s);
    this.groupsOf.delete(s);
    this.sources.delete(s.id);
    this.dirtySources.delete(s);
  }

  /** source_silent: fires when the source goes silent, resolves when it sends again. */
  private silence(s: Source, now: number, out: AlertTransition[]): void {
    const silent = isSilent(s, now, this.timing);
    if (silent === s.silent) return;
    s.silent = silent;
    let a = this.silentAlerts.get(s);
    if (!a) {
      a = { state: INACTIVE };
      this.silentAlerts.set(s, a);
    }
    const seconds = (now - s.advancedAt) / 1000;
    const result = step(a.state, silent ? { kind: 'value', value: seconds, level: this.options.sourceSeverity } : { kind: 'none' }, { forMs: 0, keepFiringForMs: 0, nodata: 'keep' }, now);
    a.state = result.state;
    if (result.emit) out.push(this.silentTransition(s, result.emit));
    if (!silent) {
      // Back: the groups held in nodata evaluate normally from its next window.
      const groups = this.groupsOf.get(s);
      if (groups) for (const g of groups) if (g.state.nodata) g.state = { ...g.state, nodata: false };
    }
  }

  /** Restored alerts whose data has not come back: resolved once their source is known to send without them, or the rule is gone. */
  private dormantAlerts(now: number, out: AlertTransition[]): void {
    for (const [fp, d] of this.dormant) {
      const rt = this.byName.get(d.alert.rule);
      let resolve = false;
      if (d.alert.rule === SOURCE_SILENT_RULE) {
        const s = d.source !== undefined ? this.sources.get(d.source) : undefined;
        resolve = s !== undefined && s.advances > 0 && !s.silent;
      } else if (!rt) resolve = !this.sqlRules.some((r) => r.rule.name === d.alert.rule);
      else {
        const wait = Math.max(rt.kind.windowMs, this.options.stepMs) + this.options.stepMs;
        if (d.source !== undefined) {
          const s = this.sources.get(d.source);
          // Its source sends (on this worker's partitions) yet a whole window brought nothing of this group.
          resolve = s !== undefined && !s.silent && s.horizon - alignUp(Math.max(d.restoredAt, s.firstSeenAt) - this.options.maxLatenessMs, this.options.stepMs) >= wait;
        } else resolve = now - d.restoredAt >= wait + this.options.maxLatenessMs;
      }
      if (!resolve) continue;
      this.dormant.delete(fp);
      const a = d.alert;
      out.push(tagged({
        fingerprint: fp,
        status: 'resolved',
        severity: a.severity,
        labels: { ...a.labels, severity: a.severity },
        annotations: { ...(a.annotations ?? {}) },
        startsAt: a.startsAt,
        endsAt: new Date(now).toISOString(),
        value: a.value,
        rule: a.rule,
        window: rt?.kind.windowMs ?? 0,
      }, a.partition));
    }
  }

  /**
   * Takes over alerts that were firing before this worker started: no second page, and a resolve
   * once the condition clears or the data is gone. An alert whose source (`vigil.source`) never
   * shows up here stays as it is: it belongs to another worker's partitions, or the source is silent.
   */
  restore(alerts: readonly RestoredAlert[], now: number): void {
    for (const a of alerts) {
      if (a.severity !== 'info' && a.severity !== 'warning' && a.severity !== 'critical') continue;
      if (Number.isNaN(Date.parse(a.startsAt))) continue;
      const source = a.annotations?.[SOURCE_ANNOTATION] || a.labels[SOURCE_ANNOTATION] || undefined;
      if (a.rule === SOURCE_SILENT_RULE && source) {
        this.dormant.set(a.fingerprint, { alert: a, source, restoredAt: now });
        continue;
      }
      this.dormant.set(a.fingerprint, { alert: a, source, restoredAt: now });
    }
  }

  // ---- transitions ----

  private transition(g: Group, e: Emission, reading: Reading | undefined): AlertTransition {
    const rt = g.rule;
    const rule = rt.compiled.rule;
    const threshold = reading?.threshold;
    const annotations = renderAnnotations(rule.annotations, {
      value: e.value,
      text: reading?.text,
      unit: g.unit,
      threshold: reading?.threshold,
      severity: e.severity,
      rule: rule.name,
      status: e.status,
      expr: rt.kind.expr,
      windowMs: rt.kind.windowMs,
      labels: g.labels,
      event: g.sample,
    });
    if (!g.more) annotations[SOURCE_ANNOTATION] = g.source.id;
    if (e.nodata) annotations.nodata = `source ${g.source.id} is silent (rules.sources.silentAfter); rule nodata: ${rt.stepOptions.nodata}`;
    if (e.flapping !== undefined) {
      const f = rt.stepOptions.flapping!;
      annotations.flapping =
        e.status === 'firing'
          ? `changed state ${e.flapping} times in ${formatDuration(f.windowMs)}: held firing until it settles`
          : `was flapping (${e.flapping} changes in ${formatDuration(f.windowMs)}); settled`;
    }
    return tagged(alertTransition({ fingerprint: g.fingerprint, labels: g.labels, annotations, emission: e, rule: rule.name, windowMs: rt.kind.windowMs, unit: g.unit, threshold, expr: rt.kind.expr }), g.source.partition);
  }

  private silentTransition(s: Source, e: Emission): AlertTransition {
    const labels = { alertname: SOURCE_SILENT_RULE, ...s.labels };
    const held = [...(this.groupsOf.get(s) ?? [])].filter((g) => g.state.phase === 'firing').length;
    const what = s.labels['host.name'] && s.labels['host.name'] !== s.id ? `${s.id} (${s.labels['host.name']})` : s.id;
    const since = new Date(s.advancedAt).toISOString();
    const t = alertTransition({
      fingerprint: fingerprint(labels),
      labels,
      annotations: {
        summary: e.status === 'firing' ? `Source ${what} silent since ${since}` : `Source ${what} sends again`,
        description:
          e.status === 'firing'
            ? `Nothing from ${what} since ${since} (last event time ${new Date(s.watermark).toISOString()}); its ${held} firing alert(s) are held in nodata instead of resolving.`
            : `${what} sends again after ${formatDuration(Math.round(((e.endsAtMs ?? 0) - e.startsAtMs) / 1000) * 1000)}.`,
        [SOURCE_ANNOTATION]: s.id,
      },
      emission: { ...e, value: Math.round(e.value) },
      rule: SOURCE_SILENT_RULE,
      windowMs: 0,
      unit: 's',
      expr: `source{vigil.source=${JSON.stringify(s.id)}}`,
    });
    return tagged(t, s.partition);
  }

  // ---- scale-out and reload ----

  /**
   * Forgets what belongs to a partition this worker no longer owns, restored alerts included (no
   * transitions: its new owner takes over from the changelog).
   */
  forgetPartition(partition: number): void {
    for (const [fp, d] of this.dormant) if (d.alert.partition === partition) this.dormant.delete(fp);
    for (const s of [...this.sources.values()]) {
      if (s.partition !== partition) continue;
      for (const g of [...(this.groupsOf.get(s) ?? [])]) if (g.source === s) this.dropGroup(g);
      this.groupsOf.delete(s);
      this.silentAlerts.delete(s);
      this.sources.delete(s.id);
    }
  }

  /**
   * Takes over the state of a previous engine (a rule reload). Rules whose definition is the same
   * keep their groups as they are; changed rules start with empty windows but keep their firing
   * alerts (restored); removed rules resolve theirs. Sources and source_silent alerts carry over.
   */
  adopt(previous: RuleEngine, now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    this.series.adoptNumbers(previous.series);
    for (const [id, s] of previous.sources) this.sources.set(id, s);
    for (const [s, a] of previous.silentAlerts) this.silentAlerts.set(s, a);
    for (const [fp, d] of previous.dormant) this.dormant.set(fp, d);
    for (const old of previous.rules) {
      const rt = this.byName.get(old.name);
      if (rt && JSON.stringify(rt.compiled.rule) === JSON.stringify(old.compiled.rule)) {
        for (const g of old.groups.values()) {
          g.rule = rt;
          rt.groups.set(g.key, g);
          this.link(g.source, g);
          if (g.more) for (const s of g.more.keys()) this.link(s, g);
        }
        rt.evaluations = old.evaluations;
        rt.evalNanos = old.evalNanos;
        rt.lastEvalAt = old.lastEvalAt;
        continue;
      }
      for (const g of old.groups.values()) {
        if (g.state.phase !== 'firing') continue;
        if (rt) {
          this.dormant.set(g.fingerprint, {
            alert: { fingerprint: g.fingerprint, rule: g.rule.name, severity: g.state.severity, labels: g.labels, startsAt: new Date(g.state.startsAtMs).toISOString(), value: g.state.value, partition: g.source.partition },
            source: g.more ? undefined : g.source.id,
            restoredAt: now,
          });
        } else {
          const e: Emission = { status: 'resolved', severity: g.state.severity, value: g.state.value, startsAtMs: g.state.startsAtMs, endsAtMs: now };
          const tr = previous.transitionOf(g, e);
          tr.annotations.removed = 'the rule was removed by a reload';
          out.push(tr);
        }
      }
    }
    return out;
  }

  /** A transition of one of this engine's groups (for `adopt`). */
  protected transitionOf(g: Group, e: Emission): AlertTransition {
    return this.transition(g, e, g.reading);
  }

  // ---- what it holds ----

  firingCount(): number {
    let n = 0;
    for (const rt of this.rules) for (const g of rt.groups.values()) if (g.state.phase === 'firing') n++;
    for (const a of this.silentAlerts.values()) if (a.state.phase === 'firing') n++;
    return n + this.dormant.size;
  }

  groupCount(): number {
    return this.rules.reduce((n, r) => n + r.groups.size, 0);
  }

  sourceCount(): number {
    return this.sources.size;
  }

  /** The state of one alert by fingerprint, for tests and diagnostics. */
  stateOf(fp: string): { phase: AlertState['phase']; severity: Severity; display: GroupStatus['state'] } | undefined {
    for (const rt of this.rules) {
      for (const g of rt.groups.values()) {
        if (g.fingerprint === fp) return { phase: g.state.phase, severity: g.state.severity, display: displayState(g.state) };
      }
    }
    const d = this.dormant.get(fp);
    return d && { phase: 'firing', severity: d.alert.severity, display: 'firing' };
  }

  /** Alerts firing now, with their identity labels (severity apart) and annotations as last rendered (`vigil test rules`). */
  firing(): { rule: string; labels: Record<string, string>; severity: Severity; value: number; annotations: Record<string, string> }[] {
    const out = [];
    for (const rt of this.rules) {
      for (const g of rt.groups.values()) {
        if (g.state.phase !== 'firing') continue;
        const e: Emission = { status: 'firing', severity: g.state.severity, value: g.state.value, startsAtMs: g.state.startsAtMs };
        const t = this.transition(g, e, g.reading);
        out.push({ rule: rt.name, labels: g.labels, severity: g.state.severity, value: g.state.value, annotations: t.annotations });
      }
    }
    for (const [s, a] of this.silentAlerts) {
      if (a.state.phase !== 'firing') continue;
      const t = this.silentTransition(s, { status: 'firing', severity: a.state.severity, value: a.state.value, startsAtMs: a.state.startsAtMs });
      const { severity: _level, ...labels } = t.labels;
      out.push({ rule: SOURCE_SILENT_RULE, labels, severity: a.state.severity, value: Math.round(a.state.value), annotations: t.annotations });
    }
    return out;
  }

  /** Every rule with the state of each of its groups (GET /api/v1/rules). */
  status(): RuleStatus[] {
    return this.rules.map((rt) => ({
      name: rt.name,
      kind: rt.compiled.rule.kind,
      origin: rt.compiled.origin,
      ...(rt.lastEvalAt > -Infinity ? { lastEvaluation: new Date(rt.lastEvalAt).toISOString() } : {}),
      evaluations: rt.evaluations,
      evaluationMs: rt.evalNanos / 1e6,
      groups: [...rt.groups.values()].map((g) => ({
        labels: g.labels,
        fingerprint: g.fingerprint,
        state: displayState(g.state),
        ...(g.state.phase !== 'inactive' ? { severity: g.state.severity, activeSince: new Date(g.state.activeSinceMs).toISOString() } : {}),
        ...(g.state.phase === 'firing' ? { startsAt: new Date(g.state.startsAtMs).toISOString() } : {}),
        ...(g.reading?.value !== undefined ? { value: g.reading.value } : {}),
        ...(g.lastEvalMs > -Infinity ? { lastEvaluation: new Date(g.lastEvalMs).toISOString() } : {}),
      })),
    }));
  }

  /** The sources and their watermarks (GET /api/v1/rules). */
  sourceStatus(now: number): { id: string; partition: number; watermark?: string; lastSeenMsAgo: number; state: 'live' | 'stalled' | 'silent' }[] {
    return [...this.sources.values()].map((s) => ({
      id: s.id,
      partition: s.partition,
      ...(s.watermark > -Infinity ? { watermark: new Date(s.watermark).toISOString() } : {}),
      lastSeenMsAgo: now - s.advancedAt,
      state: s.silent ? 'silent' : stalled(s, now, this.timing) ? 'stalled' : 'live',
    }));
  }
}
