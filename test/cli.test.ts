import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(os.tmpdir(), 'vigil-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vigil(...args: string[]) {
  const r = spawnSync(process.execPath, ['packages/cli/bin/vigil.mjs', ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('vigil test rules', () => {
  it('runs the default pack\'s tests, and fails a wrong expectation with a readable diff', () => {
    const ok = vigil('test', 'rules', 'packages/rules/pack/default.test.yaml');
    expect(ok.out).toMatch(/default\.test\.yaml: \d+ passed, 0 failed/);
    expect(ok.code).toBe(0);
    const bad = file(
      'bad.test.yaml',
      "rule_files: [default]\ntests:\n  - name: wrong\n    input_series:\n      - { series: 'system.memory.utilization{host.name=\"h\", system.memory.state=\"used\"}', values: '0.95x12', unit: '1' }\n    alert_rule_test:\n      - { eval_time: 2m, alertname: memory_high, exp_alerts: [{ exp_labels: { host.name: h }, severity: warning }] }\n",
    );
    const r = vigil('test', 'rules', bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`FAIL ${bad}: tests[0] "wrong": at 2m, alertname memory_high:\n  expected:\n    - labels {host.name: "h"} severity warning\n  got:\n    - labels {host.name: "h"} severity critical`);
    expect(r.out).toContain('rule tests: 0 passed, 1 failed');
  });
});

describe('vigil validate', () => {
  it.each(['deploy/vigil.example.yaml', 'deploy/distributed.yaml'])('accepts the shipped %s', (path) => {
    const r = vigil('validate', path);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/: OK \(/);
    expect(r.code).toBe(0);
  });

  it('rejects an unknown key and a bad duration, naming each key and what is allowed', () => {
    const p = file('bad.yaml', 'kafka:\n  brokerz: [x:1]\n');
    const r = vigil('validate', p);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${p}: kafka.brokerz: unknown key (allowed here: brokers, clientId, encoding, compression, partitions, replicationFactor, minInsyncReplicas, createTopics, sessionTimeout, topics)`);
  });

  it('rejects a bad rule, naming the file, the rule and the key', () => {
    const p = file('bad-rule.yaml', 'rules:\n  rules:\n    - { name: cpu, metric: system.cpu.utilization, window: 5x, warning: 0.7 }\n');
    const r = vigil('validate', p);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${p}: rules.rules[0] "cpu": window: "5x" is not a duration (use 30s, 5m, 1h)`);
  });

  it('says which file it cannot read', () => {
    const r = vigil('validate', join(dir, 'missing.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.yaml: cannot read the config file \(ENOENT\)/);
  });

  it('refuses a bad config before starting a role, and unknown commands with the usage', () => {
    const p = file('typo.yaml', 'notifier:\n  webhook: []\n');
    const r = vigil('notifier', '--config', p);
    expect(r.code).toBe(2);
    expect(r.err).toContain('notifier.webhook: unknown key');
    const u = vigil('frobnicate');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command "frobnicate"[\s\S]*vigil all-in-one/);
  });
});

describe('vigil validate, beyond the schema', () => {
  it('rejects a bad rule matcher and a broken notifier template with the file named', () => {
    const p = file(
      'roles.yaml',
      'rules:\n  rules:\n    - { name: r1, metric: m, where: { host.name: "~[unclosed" }, warning: 1 }\nnotifier:\n  templates:\n    title: "{{#if}}"\n',
    );
    const r = vigil('validate', p);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${p}: rules.rules[0] "r1": where.host.name: "[unclosed" is not a valid regular expression`);
    expect(r.err).toContain('notifier.templates');
  });
});
