import type { ThresholdRuleConfig, VigilConfig } from '@vigil/platform';
import { MatcherError, parseMatchers, type Matcher } from './matchers.js';
import { templateProblems } from './template.js';

/**
 * Rules as the worker runs them: the config's threshold rules (durations already in
 * milliseconds), checked once and with their matchers compiled.
 */
export type Rule = ThresholdRuleConfig;

export interface CompiledRule {
  readonly rule: Rule;
  readonly matchers: Matcher[];
}

const MINUTE = 60_000;

/**
 * The built-in rules (MISSION.md B): CPU and memory warn at 70 % and are critical at 90 %, disk
 * at 80 % and 90 %. Metric and attribute names are those the collector's host plugin emits;
 * values are fractions from 0 to 1.
 */
export const DEFAULT_RULES: readonly Rule[] = [
  {
    name: 'cpu_high',
    kind: 'threshold',
    metric: 'system.cpu.utilization',
    // Utilization comes per cpu.mode at each collection; the non-idle modes summed are the busy fraction.
    where: { 'cpu.mode': '!idle' },
    groupBy: ['host.name'],
    combine: 'sum',
    aggregate: 'avg',
    window: MINUTE,
    op: '>=',
    warning: 0.7,
    critical: 0.9,
    for: MINUTE,
    labels: {},
    annotations: {
      summary: 'CPU busy {{percent}} on {{labels.host.name}}',
      description: 'CPU utilization on {{labels.host.name}} averaged {{percent}} over the last minute ({{severity}}: warning at 70 %, critical at 90 %).',
    },
  },
  {
    name: 'memory_high',
    kind: 'threshold',
    metric: 'system.memory.utilization',
    where: { 'system.memory.state': 'used' },
    groupBy: ['host.name'],
    aggregate: 'avg',
    window: MINUTE,
    op: '>=',
    warning: 0.7,
    critical: 0.9,
    for: MINUTE,
    labels: {},
    annotations: {
      summary: 'Memory {{percent}} used on {{labels.host.name}}',
      description: 'Memory in use on {{labels.host.name}} averaged {{percent}} over the last minute ({{severity}}: warning at 70 %, critical at 90 %).',
    },
  },
  {
    name: 'disk_high',
    kind: 'threshold',
    metric: 'system.filesystem.utilization',
    where: {},
    groupBy: ['host.name', 'system.filesystem.mountpoint'],
    aggregate: 'avg',
    // Disks fill slowly and a short burst means little: a longer window and `for` keep it quiet.
    window: 5 * MINUTE,
    op: '>=',
    warning: 0.8,
    critical: 0.9,
    for: MINUTE,
    labels: {},
    annotations: {
      summary: 'Disk {{labels.system.filesystem.mountpoint}} {{percent}} full on {{labels.host.name}}',
      description: 'Filesystem {{labels.system.filesystem.mountpoint}} on {{labels.host.name}} averaged {{percent}} used over 5 minutes ({{severity}}: warning at 80 %, critical at 90 %).',
    },
  },
];

export class RuleError extends Error {
  override name = 'RuleError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** The labels every alert of a rule carries (alertname, the group-by attributes, the rule's labels). */
export function ruleLabelNames(rule: Rule): Set<string> {
  return new Set(['alertname', ...rule.groupBy, ...Object.keys(rule.labels)]);
}

/** What is wrong with a rule, beyond what the config schema checks; empty when it can run. */
export function ruleProblems(rule: Rule): string[] {
  const at = `rule "${rule.name}"`;
  const out: string[] = [];
  try {
    parseMatchers(rule.where);
  } catch (err) {
    if (!(err instanceof MatcherError)) throw err;
    out.push(`${at}: ${err.message}`);
  }
  if (rule.warning === undefined && rule.critical === undefined) out.push(`${at}: needs a warning or a critical threshold`);
  if (rule.warning !== undefined && rule.critical !== undefined) {
    const above = rule.op === '>' || rule.op === '>=';
    if (above ? rule.warning > rule.critical : rule.warning < rule.critical) {
      out.push(`${at}: with op "${rule.op}" the warning threshold (${rule.warning}) must not be ${above ? 'above' : 'below'} the critical one (${rule.critical}), or critical would hide it`);
    }
  }
  if (!(rule.window > 0)) out.push(`${at}: the window must be longer than 0s`);
  if (!(rule.for >= 0)) out.push(`${at}: "for" must be 0s or longer`);
  if ('alertname' in rule.labels) out.push(`${at}: labels.alertname is set from the rule name and cannot be given`);
  for (const key of rule.groupBy) {
    if (key in rule.labels) out.push(`${at}: label "${key}" is also a groupBy attribute (the alert's identity would not follow the group)`);
  }
  const names = ruleLabelNames(rule);
  for (const [key, text] of Object.entries(rule.annotations)) {
    for (const p of templateProblems(text, names)) out.push(`${at}: annotations.${key}: ${p}`);
  }
  return out;
}

/** Checks and compiles rules; throws RuleError listing every problem of every rule. */
export function compileRules(rules: readonly Rule[]): CompiledRule[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.name)) problems.push(`rule "${r.name}" is defined twice (names must be unique)`);
    seen.add(r.name);
    problems.push(...ruleProblems(r));
  }
  if (problems.length > 0) throw new RuleError(problems);
  return rules.map((rule) => ({ rule, matchers: parseMatchers(rule.where) }));
}

/** The rules a worker runs: the built-in ones (unless `rules.defaults: false`), each replaced by a configured rule of the same name. */
export function effectiveRules(config: VigilConfig['rules']): Rule[] {
  const configured = new Set(config.rules.map((r) => r.name));
  const defaults = config.defaults ? DEFAULT_RULES.filter((r) => !configured.has(r.name)) : [];
  return [...defaults, ...config.rules];
}
