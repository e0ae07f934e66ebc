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
    const p = problems('collector:\n  interval: 5x\n');
    expect(p).toEqual(['vigil.yaml: collector.interval: "5x" is not a duration (use 30s, 5m, 1h)']);
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

  it('refuses literal secrets in headers, URL passwords and ${VAR:-default} defaults, in every section', () => {
    const p = problems(
      [
        'clickhouse:',
        '  url: https://default:hunter2@ch.example.com:8443',
        '  password: ${CH_PW:-hunter2}',
        'notifier:',
        '  webhooks:',
        '    - url: https://hooks.example.com/x',
        '      headers: { Authorization: "Bearer abc123", X-Source: vigil }',
        '',
      ].join('\n'),
    );
    expect(p).toEqual([
      'vigil.yaml: clickhouse.url: "https://default:***@ch.example.com:8443" has a password written in the URL; secrets must come from the environment (write the password as ${PASSWORD_VARIABLE} and set that variable, or move the whole URL to one)',
      'vigil.yaml: clickhouse.password: secrets must come from the environment, not the file: "***" is written there (a ${VAR:-default} default is written in the file too) (write ${PASSWORD} without a default and set that variable)',
      'vigil.yaml: notifier.webhooks[0].headers.Authorization: header value "Bearer ***" carries a credential written in the file; secrets must come from the environment (write "Bearer ${AUTHORIZATION}" and set AUTHORIZATION)',
    ]);
    expect(p.join('\n')).not.toMatch(/hunter2|abc123/);
    const ok = parseConfig('notifier:\n  webhooks:\n    - url: https://hooks.example.com/x\n      headers: { Authorization: "Bearer ${HOOK}" }\n', { env: { HOOK: 't0k' } });
    expect((ok.notifier as { webhooks: { headers: Record<string, string> }[] }).webhooks[0]!.headers).toEqual({ Authorization: 'Bearer t0k' });
  });

  it('refuses a retention under an hour unless allowShortRetention, and one that would wrap', () => {
    expect(problems('clickhouse:\n  retention: 30s\n')).toEqual([
      'vigil.yaml: clickhouse.retention: "30s" would delete stored data after less than an hour (use at least 1h, e.g. 30d, the default; or set clickhouse.allowShortRetention: true if that is meant)',
    ]);
    expect(problems('clickhouse:\n  retention: 59m59s\n')).toHaveLength(1);
    expect(problems('clickhouse:\n  retention: 1h\n')).toEqual([]);
    expect(parseConfig('clickhouse:\n  retention: 1s\n  allowShortRetention: true\n', { env: {} }).clickhouse.retention).toBe(1_000);
    expect(problems('clickhouse:\n  retention: 5200w\n')).toEqual([
      'vigil.yaml: clickhouse.retention: "36400d" is longer than 3650d (10 years), past which ClickHouse\'s TTL dates wrap around and delete everything (use at most 3650d)',
    ]);
  });

  it('checks addresses at validate time, naming the key', () => {
    expect(problems('http:\n  host: 999.1.1.1\n')).toEqual([
      'vigil.yaml: http.host: "999.1.1.1" is not an IPv4 address: four numbers from 0 to 255 (use an IPv4 address such as 127.0.0.1 or 0.0.0.0, an IPv6 address such as ::1, or a host name such as kafka-1.example.com)',
    ]);
    expect(problems('http:\n  host: "::"\n')).toEqual([]);
    expect(problems('kafka:\n  brokers: [kafka-1:9092, "300.0.0.1:9092", "kafka-2:70000"]\n')).toEqual([
      'vigil.yaml: kafka.brokers[1]: "300.0.0.1:9092": "300.0.0.1" is not an IPv4 address: four numbers from 0 to 255 (use an IPv4 address such as 127.0.0.1 or 0.0.0.0, an IPv6 address such as ::1, or a host name such as kafka-1.example.com)',
      'vigil.yaml: kafka.brokers[2]: "kafka-2:70000": port "70000" is not a port (use a whole number from 1 to 65535)',
    ]);
    expect(problems('', { KAFKA_BROKERS: 'a..b:9092' })[0]).toMatch(/^vigil\.yaml: kafka\.brokers\[0\]: "a\.\.b:9092"/);
    expect(problems('clickhouse:\n  url: http://999.1.1.1:8123\n')[0]).toMatch(/^vigil\.yaml: clickhouse\.url: "http:\/\/999\.1\.1\.1:8123" is not a URL/);
  });

  it('reads scoped tokens from the environment and checks them', () => {
    const c = parseConfig('http:\n  tokens:\n    - { name: grafana, token: "${GRAFANA_TOKEN}", scopes: [read] }\n', { env: { GRAFANA_TOKEN: 'g', VIGIL_API_TOKEN: 'm' } });
    expect(c.http).toMatchObject({ token: 'm', tokens: [{ name: 'grafana', token: 'g', scopes: ['read'] }] });
    expect(parseConfig('', { env: {} }).http.tokens).toEqual([]);
    expect(problems('http:\n  tokens:\n    - { name: apps, token: abc, scopes: [ingest] }\n')[0]).toMatch(/^vigil\.yaml: http\.tokens\[0\]\.token: secrets must come from the environment/);
    expect(problems('http:\n  tokens:\n    - { name: apps, token: "${T}", scopes: [admin] }\n', { T: 'x' })).toEqual([
      'vigil.yaml: http.tokens[0].scopes[0]: "admin" is not allowed (use one of read, write, ingest)',
    ]);
    expect(problems('http:\n  tokens:\n    - { name: apps, token: "${T}", scopes: [] }\n', { T: 'x' })[0]).toMatch(/^vigil\.yaml: http\.tokens\[0\]\.scopes: /);
    expect(
      problems('http:\n  token: ${A}\n  tokens:\n    - { name: x, token: "${A}", scopes: [read] }\n    - { name: x, token: "${B}", scopes: [read] }\n    - { name: y, token: "${B}", scopes: [ingest] }\n', { A: 'a', B: 'b' }),
    ).toEqual([
      'vigil.yaml: http.tokens[0].token: has the same secret as http.token (give each token its own secret)',
      'vigil.yaml: http.tokens[1].name: "x" is already the name of http.tokens[0] (names must be unique)',
      'vigil.yaml: http.tokens[2].token: has the same secret as http.tokens[1] (give each token its own secret)',
    ]);
  });

  it('applies VIGIL_PORT, VIGIL_DATA_DIR and KAFKA_BROKERS', () => {
    const c = parseConfig('', { env: { VIGIL_PORT: '9999', VIGIL_DATA_DIR: '/var/lib/vigil', KAFKA_BROKERS: 'a:1, b:2' } });
    expect([c.http.port, c.dataDir, c.kafka.brokers]).toEqual([9999, '/var/lib/vigil', ['a:1', 'b:2']]);
    expect(problems('', { VIGIL_PORT: 'eighty' })).toEqual(['VIGIL_PORT: "eighty" is not a port (use a whole number from 0 to 65535)']);
  });

  it('leaves the rules section open for the rules package (packages/rules/test/config.test.ts checks it)', () => {
    expect(parseConfig('rules:\n  evaluationInterval: 5s\n  rules:\n    - { name: a, kind: frequency }\n', { env: {} }).rules).toMatchObject({ groupId: 'vigil-rules', evaluationInterval: '5s' });
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(problems('kafka: [unclosed\n')[0]).toMatch(/^vigil\.yaml: /);
  });
});
