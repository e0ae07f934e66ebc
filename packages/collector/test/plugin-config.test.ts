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

  it('checks the otlp listen address at validate time', () => {
    expect(problemsOf('collector:\n  plugins:\n    - { type: otlp, listen: "999.1.1.1:4318" }\n')).toEqual([
      'f.yaml: collector.plugins[0].listen: "999.1.1.1:4318": "999.1.1.1" is not an IPv4 address: four numbers from 0 to 255 (use an IPv4 address such as 127.0.0.1 or 0.0.0.0, an IPv6 address such as ::1, or a host name such as kafka-1.example.com); or "" to use the collector\'s HTTP server',
    ]);
    expect(problemsOf('collector:\n  plugins:\n    - { type: otlp, listen: "0.0.0.0:99999" }\n')[0]).toMatch(/listen: "0\.0\.0\.0:99999": port "99999" is not a port/);
    for (const listen of ['""', '"[::1]:4318"', '"0.0.0.0:0"', 'localhost:4318']) expect(problemsOf(`collector:\n  plugins:\n    - { type: otlp, listen: ${listen} }\n`)).toEqual([]);
  });
});
