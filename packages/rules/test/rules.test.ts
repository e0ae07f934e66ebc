import { describe, expect, it } from 'vitest';
import { formatDuration, parseConfig } from '@vigil/platform';
import { DEFAULT_RULES, RuleError, compileRules, effectiveRules, ruleProblems, type Rule } from '../src/rules.js';

/** A rule as a user would write it in YAML (JSON is YAML), durations as text. */
const asConfigText = (rules: readonly Rule[], defaults = false) =>
  JSON.stringify({ rules: { defaults, rules: rules.map((r) => ({ ...r, window: formatDuration(r.window), for: formatDuration(r.for) })) } });

const rule = (over: Partial<Rule> = {}): Rule => ({
  name: 'r',
  kind: 'threshold',
  metric: 'm',
  where: {},
  groupBy: ['host.name'],
  aggregate: 'avg',
  window: 60_000,
  op: '>=',
  warning: 1,
  critical: 2,
  for: 0,
  labels: {},
  annotations: {},
  ...over,
});

describe('DEFAULT_RULES', () => {
  it('are exactly what the config schema decodes from the same rules written in YAML', () => {
    const config = parseConfig(asConfigText(DEFAULT_RULES));
    expect(config.rules.rules).toEqual(DEFAULT_RULES);
  });

  it('compile without problems', () => {
    expect(DEFAULT_RULES.flatMap(ruleProblems)).toEqual([]);
    expect(compileRules(DEFAULT_RULES)).toHaveLength(3);
  });

  it('hold the thresholds of MISSION.md B, on the collector\'s metric names', () => {
    const byName = Object.fromEntries(DEFAULT_RULES.map((r) => [r.name, r]));
    expect(byName.cpu_high).toMatchObject({ metric: 'system.cpu.utilization', where: { 'cpu.mode': '!idle' }, combine: 'sum', warning: 0.7, critical: 0.9, for: 60_000, window: 60_000 });
    expect(byName.memory_high).toMatchObject({ metric: 'system.memory.utilization', where: { 'system.memory.state': 'used' }, warning: 0.7, critical: 0.9 });
    expect(byName.disk_high).toMatchObject({ metric: 'system.filesystem.utilization', groupBy: ['host.name', 'system.filesystem.mountpoint'], warning: 0.8, critical: 0.9 });
  });
});

describe('effectiveRules', () => {
  it('runs the defaults plus configured rules; a configured rule replaces the default of the same name', () => {
    const config = parseConfig(asConfigText([rule({ name: 'cpu_high', critical: 0.95 }), rule({ name: 'queue_long' })], true));
    const rules = effectiveRules(config.rules);
    expect(rules.map((r) => r.name)).toEqual(['memory_high', 'disk_high', 'cpu_high', 'queue_long']);
    expect(rules.find((r) => r.name === 'cpu_high')!.critical).toBe(0.95);
  });

  it('runs only the configured rules with defaults: false', () => {
    const config = parseConfig(asConfigText([rule({ name: 'queue_long' })], false));
    expect(effectiveRules(config.rules).map((r) => r.name)).toEqual(['queue_long']);
  });

  it('runs the defaults with an empty config', () => {
    expect(effectiveRules(parseConfig('').rules)).toEqual(DEFAULT_RULES);
  });
});

describe('ruleProblems', () => {
  it('accepts a sound rule', () => {
    expect(ruleProblems(rule())).toEqual([]);
    expect(ruleProblems(rule({ op: '<', warning: 0.3, critical: 0.1 }))).toEqual([]);
    expect(ruleProblems(rule({ warning: undefined }))).toEqual([]);
  });

  it.each<[string, Partial<Rule>, RegExp]>([
    ['a bad regex', { where: { 'cpu.mode': '~(idle' } }, /rule "r": where "cpu\.mode": "\(idle" is not a valid regular expression/],
    ['no threshold', { warning: undefined, critical: undefined }, /rule "r": needs a warning or a critical threshold/],
    ['warning above critical with >=', { warning: 3, critical: 2 }, /warning threshold \(3\) must not be above the critical one \(2\)/],
    ['warning below critical with <', { op: '<', warning: 0.1, critical: 0.3 }, /warning threshold \(0\.1\) must not be below the critical one \(0\.3\)/],
    ['an empty window', { window: 0 }, /the window must be longer than 0s/],
    ['an alertname label', { labels: { alertname: 'x' } }, /labels\.alertname is set from the rule name/],
    ['a label that is also a groupBy key', { labels: { 'host.name': 'x' } }, /label "host\.name" is also a groupBy attribute/],
    ['an unknown placeholder', { annotations: { summary: '{{valeu}}' } }, /annotations\.summary: \{\{valeu\}\} is not known/],
    ['a label the alert cannot have', { annotations: { summary: '{{labels.mountpoint}}' } }, /annotations\.summary: \{\{labels\.mountpoint\}\}: the alert has no label "mountpoint"/],
  ])('reports %s', (_what, over, message) => {
    const problems = ruleProblems(rule(over));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('compileRules throws one RuleError listing every problem, duplicates included', () => {
    let err: unknown;
    try {
      compileRules([rule(), rule(), rule({ name: 'b', window: 0 })]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleError);
    expect((err as RuleError).problems).toEqual(['rule "r" is defined twice (names must be unique)', 'rule "b": the window must be longer than 0s']);
  });
});
