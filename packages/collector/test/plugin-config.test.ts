import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@vigil/platform';
import { checkCollectorConfig } from '../src/role.js';

function problemsOf(yaml: string): string[] {
  try {
    checkCollectorConfig(parseConfig(yaml, { source: 'f.yaml', env: {} }), 'f.yaml');
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe('collector.plugins checks', () => {
  it('plans every built-in plugin with its defaults filled in', () => {
    const config = parseConfig(
      ['collector:', '  plugins:', '    - { type: file, include: [/var/log/*.log] }', '    - { type: exec, name: tunnel, command: [echo, hi] }', '    - { type: prometheus, targets: [{ url: "http://127.0.0.1:9100/metrics" }] }'].join('\n'),
      { env: {} },
    );
    const planned = checkCollectorConfig(config);
    expect(planned.map((p) => `${p.plugin.type}:${p.name}`)).toEqual(['file:file', 'exec:tunnel', 'prometheus:prometheus']);
    expect((planned[0]!.options as { startAt: string }).startAt).toBe('end');
  });

  it('names the key of every problem: unknown type, duplicate names, schema errors and what only the plugin can check', () => {
    const problems = problemsOf(
      [
        'collector:',
        '  plugins:',
        '    - { type: fiel }',
        '    - { type: exec, command: [echo], parser: /nonexistent/rules.yaml }',
        '    - { type: probe, targets: [{ name: a, url: "http://127.0.0.1:1", degraded: 2s, unhealthy: 1s }] }',
        '    - { type: file, name: x, include: [a], startAt: middle }',
        '    - { type: host, name: x }',
        '    - { type: file, name: y, include: [a], multiline: { startPattern: "(" } }',
      ].join('\n'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^f\.yaml: collector\.plugins\[0\]\.type: "fiel" is not a plugin \(use one of .*file.*\)$/),
        expect.stringMatching(/^f\.yaml: collector\.plugins\[1\]\.parser: \/nonexistent\/rules\.yaml: cannot read the rule pack/),
        expect.stringMatching(/^f\.yaml: collector\.plugins\[2\]\.targets\[0\]\.degraded: .*above unhealthy/),
        expect.stringMatching(/^f\.yaml: collector\.plugins\[3\]\.startAt: "middle" is not allowed/),
        expect.stringMatching(/^f\.yaml: collector\.plugins\[4\]\.name: "x" is used twice/),
        expect.stringMatching(/^f\.yaml: collector\.plugins\[5\]\.multiline\.startPattern: "\(" is not a valid regular expression \(.*Unterminated group\)$/),
      ]),
    );
    expect(problems).toHaveLength(6);
  });
});
