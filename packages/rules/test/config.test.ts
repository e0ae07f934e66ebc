import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@vigil/platform';
import { checkRulesConfig, defaultPack, loadRuleSet, parseRuleFile } from '../src/config.js';
import { compileRules } from '../src/rules.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('the default pack', () => {
  it('loads, compiles, and covers the brief', () => {
    const { rules } = defaultPack();
    expect(() => compileRules(rules)).not.toThrow();
    expect(rules.map((r) => `${r.name}:${r.kind}`)).toEqual([
      'cpu_high:threshold', 'memory_high:threshold', 'disk_high:threshold', 'db_response_slow:threshold', 'db_unreachable:state', 'probe_failing:state',
      'app_errors:frequency', 'client_silent:absence', 'error_critical:frequency', 'error_high:frequency', 'tunnel_error_ratio:ratio',
      'process_restarts:frequency', 'container_restarts:rate', 'http_server_errors:ratio',
    ]);
    const byName = Object.fromEntries(rules.map((r) => [r.name, r]));
    expect(byName.cpu_high).toMatchObject({ warning: 0.7, critical: 0.9, window: 60_000, for: 60_000 });
    expect(byName.disk_high).toMatchObject({ warning: 0.8, critical: 0.9 });
    expect(byName.db_response_slow).toMatchObject({ warning: 0.5, critical: 1 });
    expect(byName.db_unreachable).toMatchObject({ critical: 0, for: 0 });
    expect(byName.client_silent).toMatchObject({ after: 600_000 });
  });

  it('is what an empty config runs; a configured rule of the same name replaces its default', () => {
    expect(checkRulesConfig(parseConfig('', { env: {} })).rules.map((r) => r.rule.name)).toHaveLength(14);
    const set = checkRulesConfig(parseConfig('rules:\n  rules:\n    - { name: cpu_high, metric: m, critical: 5 }\n', { env: {} }));
    expect(set.rules.filter((r) => r.rule.name === 'cpu_high').map((r) => [r.origin, (r.rule as { metric: string }).metric])).toEqual([['config: rules.rules[0]', 'm']]);
    expect(checkRulesConfig(parseConfig('rules:\n  defaults: false\n', { env: {} })).rules).toEqual([]);
  });
});

describe('rule problems name the file, the rule and the key', () => {
  it('in the config file', () => {
    const config = parseConfig('rules:\n  defaults: false\n  evaluationInterval: 10x\n  rules:\n    - { name: cpu, metric: system.cpu.utilization, window: 5x, warning: 0.7 }\n', { source: 'vigil.yaml', env: {} });
    expect(problems(() => checkRulesConfig(config, 'vigil.yaml'))).toEqual([
      'vigil.yaml: rules.evaluationInterval: "10x" is not a duration (use 30s, 5m, 1h)',
    ]);
    const config2 = parseConfig('rules:\n  defaults: false\n  rules:\n    - { name: cpu, metric: system.cpu.utilization, window: 5x, warning: 0.7 }\n    - { name: e, kind: frequncy }\n', { env: {} });
    expect(problems(() => checkRulesConfig(config2, 'vigil.yaml'))).toEqual([
      'vigil.yaml: rules.rules[0] "cpu": window: "5x" is not a duration (use 30s, 5m, 1h)',
      'vigil.yaml: rules.rules[1] "e": kind: "frequncy" is not a rule kind (use one of threshold, frequency, ratio, rate, absence, state, sql)',
    ]);
  });

  it('in rule files, every problem of every rule, the set refused whole', () => {
    const f = file('bad.yaml', [
      'rules:',
      '  - { name: a, metric: m, warning: 1, windw: 1m }',
      '  - { name: b, kind: frequency, events: { severity: loud }, warning: 1 }',
      '  - { name: c, metric: m }',
      '  - { name: d, kind: state, metric: m, events: {}, critical: 0 }',
      '  - { name: a, metric: m, warning: 1, annotations: { summary: "{{labels.nope}} {{event.body}}" } }',
      '',
    ].join('\n'));
    const p = problems(() => parseRuleFile(readFileSync(f, 'utf8'), f));
    expect(p[0]).toBe(`${f}: rules[0] "a": windw: unknown key (allowed here: name, labels, annotations, for, keepFiringFor, nodata, flapping, unit, description, kind, metric, where, groupBy, combine, aggregate, window, op, info, warning, critical, recover)`);
    expect(p[1]).toBe(`${f}: rules[1] "b": events.severity: "loud" is not allowed (use one of trace, debug, info, warn, error, fatal)`);
    expect(p).toHaveLength(2);
    const set = problems(() => loadRuleSet({ defaults: false, files: [file('bad2.yaml', 'rules:\n  - { name: c, metric: m }\n  - { name: d, kind: state, metric: m, events: {}, critical: 0 }\n  - { name: c, metric: m, warning: 1, annotations: { summary: "{{labels.nope}} {{event.body}}" } }\n')] }));
    const f2 = join(dir, 'bad2.yaml');
    expect(set).toEqual([
      `${f2}: rules[0] "c": needs an info, warning or critical threshold`,
      `${f2}: rules[1] "d": give either metric or events (what to watch)`,
      `${f2}: rules[2] "c": is defined twice (also at ${f2}: rules[0]; names must be unique)`,
      `${f2}: rules[2] "c": annotations.summary: {{labels.nope}}: the alert has no label "nope" (it has alertname, severity, host.name)`,
      `${f2}: rules[2] "c": annotations.summary: {{event.body}}: the rule reads no events (event.* is for frequency, absence, state and ratio rules over events)`,
    ]);
  });

  it('a bad regular expression in an event selector names it', () => {
    const p = problems(() => loadRuleSet({ defaults: false, rules: [{ name: 'x', kind: 'frequency', events: { name: '~(oops' }, warning: 1 }] }, { source: 'v.yaml' }));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^v\.yaml: rules\.rules\[0\] "x": events\.name: "\(oops" is not a valid regular expression/);
  });

  it('reads a directory of rule files (not its tests), and says which path does not exist', () => {
    const d = mkdtempSync(join(os.tmpdir(), 'vigil-rules-dir-'));
    writeFileSync(join(d, 'a.yaml'), 'rules:\n  - { name: one, metric: m, warning: 1 }\n');
    writeFileSync(join(d, 'b.yml'), 'rules:\n  - { name: two, kind: absence, metric: m, after: 5m }\n');
    writeFileSync(join(d, 'a.test.yaml'), 'tests: []\n');
    writeFileSync(join(d, 'notes.txt'), 'x');
    const set = loadRuleSet({ defaults: false, files: [d] });
    expect(set.rules.map((r) => [r.rule.name, r.origin])).toEqual([['one', `${join(d, 'a.yaml')}: rules[0]`], ['two', `${join(d, 'b.yml')}: rules[0]`]]);
    expect(set.files).toEqual([join(d, 'a.yaml'), join(d, 'b.yml')]);
    expect(problems(() => loadRuleSet({ files: [join(d, 'missing')] }, { source: 'v.yaml' }))).toEqual([`v.yaml: rules.files[0]: "${join(d, 'missing')}" does not exist (give a rule file or a directory of *.yaml files)`]);
  });
});
