import { thresholdProblems, type Thresholds } from './levels.js';
import { MatcherError } from './matchers.js';
import { absenceKind } from './kinds/absence.js';
import { frequencyKind } from './kinds/frequency.js';
import type { KindRuntime } from './kinds/kind.js';
import { rateKind } from './kinds/rate.js';
import { ratioKind } from './kinds/ratio.js';
import { stateKind } from './kinds/state.js';
import { thresholdKind } from './kinds/threshold.js';
import type { Rule, SqlRule } from './schema.js';
import { templateProblems } from './template.js';

/** Rules that cannot run; each problem names the rule (and the file, when loaded from one) and the key. */
export class RuleError extends Error {
  override name = 'RuleError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export type StreamRule = Exclude<Rule, SqlRule>;

/** A rule checked and ready: its kind's runtime (streaming kinds) or the sql rule itself. */
export interface CompiledRule {
  readonly rule: Rule;
  /** Where it was defined: `rules.yaml: rules[2]`, `vigil.yaml: rules.rules[0]`, `default pack: rules[1]`. */
  readonly origin: string;
  /** Streaming kinds; undefined for sql rules (run by the sql runner). */
  readonly kind: KindRuntime | undefined;
}

/** The labels every alert of a rule carries (alertname, severity, the group-by attributes, the rule's labels). */
export function ruleLabelNames(rule: Rule): Set<string> {
  return new Set(['alertname', 'severity', ...(rule.groupBy ?? []), ...Object.keys(rule.labels)]);
}

/**
 * The `rule` of alerts on `vigil.alerts` that no rule of this package raised: the notifier's
 * Alertmanager-compatible intake publishes Prometheus's alerts as `prometheus`, and `api` names
 * messages of the notify API. A worker's restart leaves them alone.
 */
export const FOREIGN_RULES: readonly string[] = ['prometheus', 'api'];

/** Rule names a rule may not have: the engine's own alert, and the foreign ones. */
export const RESERVED_RULE_NAMES: ReadonlySet<string> = new Set(['source_silent', ...FOREIGN_RULES]);

function hasThresholds(rule: Rule): rule is Rule & Thresholds {
  return rule.kind === 'threshold' || rule.kind === 'frequency' || rule.kind === 'ratio' || rule.kind === 'rate' || rule.kind === 'sql';
}

/** The runtime of a streaming rule's kind. Throws MatcherError for a pattern that does not compile. */
export function kindOf(rule: StreamRule): KindRuntime {
  switch (rule.kind) {
    case 'threshold':
      return thresholdKind(rule) as KindRuntime;
    case 'frequency':
      return frequencyKind(rule) as KindRuntime;
    case 'ratio':
      return ratioKind(rule) as KindRuntime;
    case 'rate':
      return rateKind(rule) as KindRuntime;
    case 'absence':
      return absenceKind(rule) as KindRuntime;
    case 'state':
      return stateKind(rule) as KindRuntime;
  }
  throw new Error(`rule "${(rule as Rule).name}": unknown kind "${(rule as Rule).kind}"`);
}

/** What is wrong with a rule beyond what its schema checks; empty when it can run. `at` names it (`rules.yaml: rules[2] "cpu_high"`). */
export function ruleProblems(rule: Rule, at = `rule "${rule.name}"`): string[] {
  const out: string[] = [];
  let kind: KindRuntime | undefined;
  if (rule.kind !== 'sql') {
    try {
      kind = kindOf(rule);
    } catch (err) {
      if (!(err instanceof MatcherError)) throw err;
      out.push(`${at}: ${err.message.replace(/^where "([^"]*)": /, 'where.$1: ')}`);
    }
  }
  if (hasThresholds(rule)) out.push(...thresholdProblems(rule, at));
  if (rule.kind === 'absence' || rule.kind === 'state') {
    if ((rule.metric === undefined) === (rule.events === undefined)) out.push(`${at}: give either metric or events (what to watch)`);
  }
  if (rule.kind === 'state') {
    if (rule.events !== undefined && rule.metric === undefined && rule.attribute === undefined) out.push(`${at}: attribute: with events, name the attribute that holds the state (e.g. vigil.probe.state)`);
    if (rule.metric !== undefined && rule.attribute !== undefined) out.push(`${at}: attribute: only with events (a metric's state is its value)`);
    if (rule.info === undefined && rule.warning === undefined && rule.critical === undefined) out.push(`${at}: list the values that fire under critical, warning or info`);
  }
  if (rule.kind === 'absence' && rule.forgetAfter <= rule.after) out.push(`${at}: forgetAfter (${rule.forgetAfter} ms) must be longer than after (${rule.after} ms)`);
  if ('window' in rule && rule.kind !== 'sql' && !(rule.window > 0)) out.push(`${at}: window: must be longer than 0s`);
  if (rule.kind === 'sql' && !(rule.interval > 0)) out.push(`${at}: interval: must be longer than 0s`);
  if (rule.kind === 'sql' && /\b(SETTINGS|FORMAT|INTO\s+OUTFILE)\b/i.test(rule.query)) {
    out.push(`${at}: query: may not have SETTINGS, FORMAT or INTO OUTFILE (Vigil runs it read-only with timeout and maxRows, and reads JSON)`);
  }
  if ('alertname' in rule.labels) out.push(`${at}: labels.alertname is set from the rule name and cannot be given`);
  if ('severity' in rule.labels) out.push(`${at}: labels.severity is set from the level crossed (info, warning, critical) and cannot be given (set the thresholds)`);
  if (rule.groupBy?.includes('severity')) out.push(`${at}: groupBy: "severity" is the alert's level, set by the rule; it cannot be a groupBy attribute`);
  if (RESERVED_RULE_NAMES.has(rule.name)) out.push(`${at}: name: "${rule.name}" is reserved (${[...RESERVED_RULE_NAMES].join(', ')} name alerts Vigil makes itself or takes from Prometheus and the API); choose another name`);
  for (const key of rule.groupBy ?? []) {
    if (key in rule.labels) out.push(`${at}: labels.${key}: is also a groupBy attribute (the alert's identity would not follow the group)`);
  }
  const names = ruleLabelNames(rule);
  const readsEvents = (kind?.eventInputs.length ?? 0) > 0;
  // sql rules: label columns are known only when the query runs.
  if (rule.kind !== 'sql' || rule.groupBy !== undefined) {
    for (const [key, text] of Object.entries(rule.annotations)) {
      for (const p of templateProblems(text, names, readsEvents)) out.push(`${at}: annotations.${key}: ${p}`);
    }
  }
  return out;
}

/** Checks and compiles rules; throws RuleError listing every problem of every rule. */
export function compileRules(rules: readonly Rule[], origins: readonly string[] = []): CompiledRule[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  rules.forEach((r, i) => {
    const origin = origins[i] ?? 'config';
    const first = seen.get(r.name);
    if (first !== undefined) problems.push(`${origin} "${r.name}": is defined twice (also at ${first}; names must be unique)`);
    else seen.set(r.name, origin);
    problems.push(...ruleProblems(r, `${origin} "${r.name}"`));
  });
  if (problems.length > 0) throw new RuleError(problems);
  return rules.map((rule, i) => ({ rule, origin: origins[i] ?? 'config', kind: rule.kind === 'sql' ? undefined : kindOf(rule) }));
}
