import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import { ConfigError, Duration, checkSection, formatDuration, parseYamlDocument, type LogEntry, type MetricPoint, type ResourceInfo } from '@vigil/platform';
import { DEFAULT_PACK_PATH, loadRuleSet } from './config.js';
import { RuleEngine } from './engine.js';
import { RulesSection } from './schema.js';
import { SEVERITY_NUMBER } from './selector.js';
import { engineOptions } from './role.js';

/**
 * `vigil test rules FILE...`: unit tests for rules in the spirit of `promtool test rules`. A test
 * file names rule files and gives input series and events, written compactly on a virtual
 * clock, and the alerts expected to be firing at given times. The engine runs exactly as in the
 * worker (watermarks, lateness, silence), records arriving at their event time.
 *
 *   rule_files: [default]            # the default pack, or paths relative to this file
 *   evaluation_interval: 10s
 *   tests:
 *     - name: CPU busy for a minute is critical
 *       interval: 10s                # time between two input values
 *       input_series:
 *         - series: 'system.cpu.utilization{host.name="web-1", cpu.mode="user"}'
 *           values: '0.95x12'         # promtool's notation: a+bxn, axn, _ (none)
 *       input_events:
 *         - event: 'app.error{host.name="pos-1", service.name="pos"}'
 *           severity: error
 *           body: payment failed
 *           times: '1 _ 2'            # how many such records at each step
 *       alert_rule_test:
 *         - eval_time: 2m
 *           alertname: cpu_high
 *           exp_alerts:
 *             - exp_labels: { host.name: web-1 }
 *               severity: critical
 *               exp_annotations: { summary: CPU busy 95 % on web-1 }
 *
 * Labels are compared exactly (alertname left out), annotations only those given. Resource
 * attributes (host.*, service.*, os.*, container.*, k8s.*, cloud.*, deployment.*) go on the
 * resource, the rest on the point or record.
 */

const Series = Type.Object(
  {
    series: Type.String({ description: 'metric{attr="value", ...}' }),
    values: Type.String({ description: "promtool's expanding notation: 1 2 3, 1+1x3, 0.5x10, _ (no value), _x3" }),
    type: Type.Union([Type.Literal('gauge'), Type.Literal('counter'), Type.Literal('delta')], { default: 'gauge', description: 'gauge, counter (a cumulative sum) or delta (a delta sum)' }),
    unit: Type.String({ default: '' }),
  },
  { additionalProperties: false },
);

const Events = Type.Object(
  {
    event: Type.String({ description: 'name{attr="value", ...}; the name may be empty: {attr="value"}' }),
    severity: Type.Optional(
      Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal')], {
        description: 'trace, debug, info, warn, error or fatal',
      }),
    ),
    body: Type.String({ default: '' }),
    attributes: Type.Record(Type.String(), Type.String(), { default: {} }),
    times: Type.String({ description: 'How many such records at each step, in the expanding notation (1x5, 1 _ 2, _x10 1).' }),
  },
  { additionalProperties: false },
);

const ExpectedAlert = Type.Object(
  {
    exp_labels: Type.Record(Type.String(), Type.String(), { default: {} }),
    severity: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')])),
    exp_annotations: Type.Record(Type.String(), Type.String(), { default: {} }),
  },
  { additionalProperties: false },
);

const AlertTest = Type.Object(
  {
    eval_time: Duration({ default: '0s', description: 'When, from the start of the test.' }),
    alertname: Type.String({ minLength: 1 }),
    exp_alerts: Type.Array(ExpectedAlert, { default: [] }),
  },
  { additionalProperties: false },
);

const TestCase = Type.Object(
  {
    name: Type.String({ default: '' }),
    interval: Duration({ default: '10s', description: 'Time between two input values.' }),
    input_series: Type.Array(Series, { default: [] }),
    input_events: Type.Array(Events, { default: [] }),
    alert_rule_test: Type.Array(AlertTest, { default: [] }),
  },
  { additionalProperties: false },
);

export const RuleTestFile = Type.Object(
  {
    rule_files: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'default (the default pack), or rule files relative to the test file.' }),
    evaluation_interval: Duration({ default: '10s', description: 'The engine step.' }),
    max_lateness: Duration({ default: '30s', description: 'rules.maxLateness' }),
    silent_after: Duration({ default: '2m', description: 'rules.sources.silentAfter' }),
    tests: Type.Array(TestCase, { default: [] }),
  },
  { additionalProperties: false },
);
type TestCaseConfig = StaticDecode<typeof TestCase>;

/** The start of every test's virtual clock (a fixed date: time 0 means "no timestamp" in OTLP). */
export const TEST_EPOCH = Date.UTC(2026, 0, 1);

/** promtool's expanding notation: `1 2 3`, `1+2x3` (1 3 5 7), `5x2` (5 5 5), `_` (none), `_x2`. */
export function expandValues(text: string, at = 'values'): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (const part of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(_|stale|[-+]?[\d.]+(?:e[-+]?\d+)?)(?:([-+][\d.]+(?:e[-+]?\d+)?)?x(\d+))?$/i.exec(part);
    if (!m) throw new ConfigError([`${at}: "${part}" is not a value (use 1, 1+2x3, 5x2, _ or _x3)`]);
    const none = m[1] === '_' || m[1]!.toLowerCase() === 'stale';
    const start = none ? 0 : Number(m[1]);
    const stepBy = m[2] ? Number(m[2]) : 0;
    const n = m[3] ? Number(m[3]) : 0;
    for (let i = 0; i <= n; i++) out.push(none ? undefined : start + stepBy * i);
  }
  return out;
}

const RESOURCE_KEY = /^(host|service|os|container|k8s|cloud|deployment)\./;

/** `name{a="x", b="y"}` into the name and its attributes. */
export function parseSelector(text: string, at: string): { name: string; attrs: Record<string, string> } {
  const m = /^\s*([^{\s]*)\s*(?:\{(.*)\})?\s*$/.exec(text);
  if (!m) throw new ConfigError([`${at}: "${text}" is not name{attr="value", ...}`]);
  const attrs: Record<string, string> = {};
  const body = m[2] ?? '';
  const re = /\s*([A-Za-z_][\w.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;
  let last = 0;
  for (let mm = re.exec(body); mm; mm = re.exec(body)) {
    attrs[mm[1]!] = JSON.parse(`"${mm[2]}"`) as string;
    last = re.lastIndex;
  }
  if (body.trim() !== '' && last < body.length) throw new ConfigError([`${at}: cannot read the attributes of "${text}" after "${body.slice(0, last)}" (write name{attr="value", ...})`]);
  return { name: m[1]!, attrs };
}

function split(attrs: Record<string, string>): { resource: Record<string, string>; own: Record<string, string> } {
  const resource: Record<string, string> = {};
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) (RESOURCE_KEY.test(k) ? resource : own)[k] = v;
  return { resource, own };
}

const resources = new Map<string, ResourceInfo>();
function resourceOf(attrs: Record<string, string>): ResourceInfo {
  const key = JSON.stringify(Object.entries(attrs).sort());
  let r = resources.get(key);
  if (!r) {
    r = { attributes: attrs, schemaUrl: '', serviceName: attrs['service.name'] ?? '' };
    resources.set(key, r);
  }
  return r;
}

const SCOPE = { name: 'vigil test rules', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };
const nanos = (ms: number) => `${ms}000000`;

interface Step {
  points: MetricPoint[];
  logs: LogEntry[];
}

function inputs(tc: TestCaseConfig, at: string): Map<number, Step> {
  const steps = new Map<number, Step>();
  const stepAt = (i: number) => {
    const t = TEST_EPOCH + i * tc.interval;
    let s = steps.get(t);
    if (!s) {
      s = { points: [], logs: [] };
      steps.set(t, s);
    }
    return s;
  };
  tc.input_series.forEach((series, si) => {
    const where = `${at}.input_series[${si}]`;
    const { name, attrs } = parseSelector(series.series, `${where}.series`);
    const { resource, own } = split(attrs);
    const res = resourceOf(resource);
    expandValues(series.values, `${where}.values`).forEach((v, i) => {
      if (v === undefined) return;
      const t = TEST_EPOCH + i * tc.interval;
      const base = { resource: res, scope: SCOPE, name, description: '', unit: series.unit, attributes: own, startTimeUnixNano: '0', timeUnixNano: nanos(t), flags: 0, exemplars: [] };
      const point: MetricPoint =
        series.type === 'gauge' ? { ...base, kind: 'gauge', value: v } : { ...base, kind: 'sum', value: v, temporality: series.type === 'delta' ? 1 : 2, monotonic: true };
      stepAt(i).points.push(point);
    });
  });
  tc.input_events.forEach((ev, ei) => {
    const where = `${at}.input_events[${ei}]`;
    const { name, attrs } = parseSelector(ev.event, `${where}.event`);
    const { resource, own } = split(attrs);
    const res = resourceOf(resource);
    const severityNumber = ev.severity ? SEVERITY_NUMBER[ev.severity] : 0;
    expandValues(ev.times, `${where}.times`).forEach((n, i) => {
      for (let k = 0; k < (n ?? 0); k++) {
        const t = TEST_EPOCH + i * tc.interval + k;
        stepAt(i).logs.push({
          resource: res,
          scope: SCOPE,
          timeUnixNano: nanos(t),
          observedTimeUnixNano: nanos(t),
          severityNumber,
          severityText: ev.severity?.toUpperCase() ?? '',
          body: ev.body,
          attributes: { ...own, ...ev.attributes },
          traceId: '',
          spanId: '',
          flags: 0,
          eventName: name,
        });
      }
    });
  });
  return steps;
}

interface Got {
  labels: Record<string, string>;
  severity: string;
  annotations: Record<string, string>;
}

function withoutName(labels: Record<string, string>): Record<string, string> {
  const { alertname: _drop, ...rest } = labels;
  return rest;
}

const show = (o: Record<string, string>) => `{${Object.entries(o).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;

const sortedJson = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function matches(exp: StaticDecode<typeof ExpectedAlert>, got: Got): boolean {
  if (sortedJson(exp.exp_labels) !== sortedJson(got.labels)) return false;
  if (exp.severity !== undefined && exp.severity !== got.severity) return false;
  for (const [k, v] of Object.entries(exp.exp_annotations)) if (got.annotations[k] !== v) return false;
  return true;
}

export interface RuleTestResult {
  file: string;
  passed: number;
  failures: string[];
}

/** Runs one test file; every failure is a readable block saying what was expected and what fired. */
export function runRuleTestFile(file: string, text = readFileSync(file, 'utf8')): RuleTestResult {
  const doc = parseYamlDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${file}: ${e.message.split('\n')[0]}`));
  const spec = checkSection(RuleTestFile, doc.toJS() ?? {}, file);
  const base = dirname(resolve(file));
  const files = spec.rule_files.map((f) => (f === 'default' ? DEFAULT_PACK_PATH : resolve(base, f)));
  const set = loadRuleSet({ defaults: false, files }, { source: file });
  const settings = checkSection(RulesSection, { evaluationInterval: formatDuration(spec.evaluation_interval), maxLateness: formatDuration(spec.max_lateness), sources: { silentAfter: formatDuration(spec.silent_after) } }, file);
  const failures: string[] = [];
  let passed = 0;
  spec.tests.forEach((tc, ti) => {
    const at = `${file}: tests[${ti}]${tc.name ? ` "${tc.name}"` : ''}`;
    const engine = new RuleEngine(set.rules, engineOptions(settings));
    const steps = inputs(tc, `${file}: tests[${ti}]`);
    const checks = [...tc.alert_rule_test].sort((a, b) => a.eval_time - b.eval_time);
    const end = TEST_EPOCH + Math.max(0, ...checks.map((c) => c.eval_time));
    const times = [...steps.keys()].sort((a, b) => a - b);
    let next = 0;
    let ci = 0;
    const unknown = checks.filter((c) => !set.rules.some((r) => r.rule.name === c.alertname) && c.alertname !== 'source_silent');
    for (const c of unknown) failures.push(`${at}: alertname "${c.alertname}" is not a rule of ${spec.rule_files.join(', ')}`);
    // Records at their event time, the timer every second, the checks when their time has come.
    for (let now = TEST_EPOCH; now <= end; now += 1000) {
      while (next < times.length && times[next]! <= now) {
        const s = steps.get(times[next]!)!;
        const ctx = { now: times[next]! };
        if (s.points.length > 0) engine.ingestMetrics(s.points, ctx);
        if (s.logs.length > 0) engine.ingestLogs(s.logs, ctx);
        engine.advance(times[next]!);
        next++;
      }
      engine.tick(now);
      while (ci < checks.length && TEST_EPOCH + checks[ci]!.eval_time <= now) {
        const c = checks[ci++]!;
        if (unknown.includes(c)) continue;
        const got: Got[] = engine
          .firing()
          .filter((a) => a.rule === c.alertname)
          .map((a) => ({ labels: withoutName(a.labels), severity: a.severity, annotations: a.annotations }));
        const left = [...got];
        const missing = c.exp_alerts.filter((e) => {
          const i = left.findIndex((g) => matches(e, g));
          if (i < 0) return true;
          left.splice(i, 1);
          return false;
        });
        if (missing.length === 0 && left.length === 0) {
          passed++;
          continue;
        }
        const lines = [`${at}: at ${formatDuration(c.eval_time)}, alertname ${c.alertname}:`];
        lines.push('  expected:', ...(c.exp_alerts.length ? c.exp_alerts.map((e) => `    - labels ${show(e.exp_labels)}${e.severity ? ` severity ${e.severity}` : ''}${Object.keys(e.exp_annotations).length ? ` annotations ${show(e.exp_annotations)}` : ''}`) : ['    (nothing firing)']));
        lines.push('  got:', ...(got.length ? got.map((g) => `    - labels ${show(g.labels)} severity ${g.severity} annotations ${show(g.annotations)}`) : ['    (nothing firing)']));
        failures.push(lines.join('\n'));
      }
    }
  });
  return { file, passed, failures };
}

/** `vigil test rules FILE...`: prints each failure and a summary; 0 when every check passed. */
export async function testRulesCommand(files: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (files.length === 0) {
    err.write('vigil test rules: give test files: vigil test rules packages/rules/pack/default.test.yaml\n');
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    try {
      const r = runRuleTestFile(file);
      passed += r.passed;
      failed += r.failures.length;
      for (const f of r.failures) err.write(`FAIL ${f}\n\n`);
      out.write(`${file}: ${r.passed} passed, ${r.failures.length} failed\n`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      failed++;
      err.write(`${e.problems.map((p) => `  ${p}`).join('\n')}\n`);
      out.write(`${file}: could not be run (see above)\n`);
    }
  }
  out.write(`rule tests: ${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}
