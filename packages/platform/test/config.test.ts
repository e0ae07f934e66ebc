import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/index.js';

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, { source: 'vigil.yaml', env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('gives documented defaults for an empty file, durations in milliseconds', () => {
    const c = parseConfig('', { env: {} });
    expect(c.http.port).toBe(8080);
    expect(c.dataDir).toBe('./data');
    expect(c.collector.interval).toBe(10_000);
    expect(c.clickhouse.retention).toBe(30 * 86_400_000);
    expect(c.kafka.topics).toEqual({ logs: 'otlp_logs', metrics: 'otlp_metrics', alerts: 'vigil.alerts', dlq: 'vigil.dlq' });
  });

  it('rejects an unknown key, naming it and what is allowed', () => {
    const p = problems('kafka:\n  brokerz: [a:1]\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^vigil\.yaml: kafka\.brokerz: unknown key \(allowed here: brokers, clientId/);
  });

  it('rejects a bad duration with the hint', () => {
    const p = problems('rules:\n  rules:\n    - name: cpu_high\n      metric: system.cpu.utilization\n      window: 5x\n      warning: 0.7\n');
    expect(p).toEqual(['vigil.yaml: rules.rules[0].window: "5x" is not a duration (use 30s, 5m, 1h)']);
  });

  it('rejects a value outside an enumeration, listing the choices', () => {
    expect(problems('kafka:\n  encoding: avro\n')).toEqual(['vigil.yaml: kafka.encoding: "avro" is not allowed (use one of otlp_proto, otlp_json)']);
  });

  it('refuses literal secrets and substitutes them from the environment', () => {
    expect(problems('clickhouse:\n  password: hunter2\n')[0]).toMatch(/clickhouse\.password: secrets must come from the environment/);
    const c = parseConfig('clickhouse:\n  password: ${CH_PW}\n', { env: { CH_PW: 's3cret' } });
    expect(c.clickhouse.password).toBe('s3cret');
    expect(problems('clickhouse:\n  password: ${NOPE}\n')[0]).toMatch(/environment variable NOPE is not set/);
  });

  it('applies VIGIL_PORT, VIGIL_DATA_DIR and KAFKA_BROKERS', () => {
    const c = parseConfig('', { env: { VIGIL_PORT: '9999', VIGIL_DATA_DIR: '/var/lib/vigil', KAFKA_BROKERS: 'a:1, b:2' } });
    expect([c.http.port, c.dataDir, c.kafka.brokers]).toEqual([9999, '/var/lib/vigil', ['a:1', 'b:2']]);
    expect(problems('', { VIGIL_PORT: 'eighty' })).toEqual(['VIGIL_PORT: "eighty" is not a port (use a whole number from 0 to 65535)']);
  });

  it('requires a threshold and unique names on rules', () => {
    const p = problems('rules:\n  rules:\n    - { name: a, metric: m, warning: 1 }\n    - { name: a, metric: m }\n');
    expect(p).toContain('vigil.yaml: rules.rules[1].name: rule "a" is defined twice (names must be unique)');
    expect(p).toContain('vigil.yaml: rules.rules[1]: rule "a" needs a warning or a critical threshold');
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(problems('kafka: [unclosed\n')[0]).toMatch(/^vigil\.yaml: /);
  });
});
