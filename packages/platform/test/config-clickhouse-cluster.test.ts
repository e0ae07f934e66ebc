import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

const server = 'clickhouse:\n  url: http://ch1:8123\n';

describe('config: clickhouse.cluster', () => {
  it('is absent unless given; a name alone gets the usual macros', () => {
    expect(parseConfig(server, { env: {} }).clickhouse.cluster).toBeUndefined();
    expect(parseConfig(`${server}  cluster:\n    name: vigil_cluster\n`, { env: {} }).clickhouse.cluster).toEqual({
      name: 'vigil_cluster',
      replicaPath: '/clickhouse/tables/{shard}',
      replicaName: '{replica}',
    });
    const own = parseConfig(`${server}  cluster:\n    name: c\n    replicaPath: /ch/{shard}/tables\n    replicaName: '{host}'\n`, { env: {} }).clickhouse.cluster;
    expect(own).toEqual({ name: 'c', replicaPath: '/ch/{shard}/tables', replicaName: '{host}' });
  });

  it('needs a server: the embedded engine is not a cluster', () => {
    expect(problems('clickhouse:\n  cluster:\n    name: c\n')).toEqual([
      'vigil.yaml: clickhouse.cluster: "c" needs clickhouse.url, one of the cluster\'s servers (or CLICKHOUSE_URL); the embedded engine is one process, not a cluster (set url, or remove cluster)',
    ]);
    expect(problems('clickhouse:\n  cluster:\n    name: c\n', { CLICKHOUSE_URL: 'http://ch1:8123' })).toEqual([]);
  });

  it('names the key and what is allowed for a bad value', () => {
    // Said once: not again as "undefined: expected string".
    expect(problems(`${server}  cluster: {}\n`)).toEqual([expect.stringMatching(/^vigil\.yaml: clickhouse\.cluster\.name: is required \(the cluster's name in the servers' remote_servers/)]);
    expect(problems(`${server}  cluster:\n    name: my-cluster\n`)).toEqual([
      'vigil.yaml: clickhouse.cluster.name: "my-cluster" does not have the expected form (the cluster\'s name in the servers\' remote_servers: letters, digits and _, not starting with a digit)',
    ]);
    expect(problems(`${server}  cluster:\n    name: c\n    replicaPath: /clickhouse/tables\n`)).toEqual([
      expect.stringMatching(/^vigil\.yaml: clickhouse\.cluster\.replicaPath: "\/clickhouse\/tables" does not have the expected form \(Keeper path prefix .* holding the \{shard\} macro/),
    ]);
    expect(problems(`${server}  cluster:\n    name: c\n    replicaPath: "/t/{shard}/it's"\n`)[0]).toMatch(/^vigil\.yaml: clickhouse\.cluster\.replicaPath: /);
    expect(problems(`${server}  cluster:\n    name: c\n    replicaName: "a/b"\n`)[0]).toMatch(/^vigil\.yaml: clickhouse\.cluster\.replicaName: "a\/b" does not have the expected form/);
    expect(problems(`${server}  cluster:\n    name: c\n    shards: 2\n`)).toEqual(['vigil.yaml: clickhouse.cluster.shards: unknown key (allowed here: name, replicaPath, replicaName)']);
  });

  it("accepts the example config's cluster block once uncommented", () => {
    const example = readFileSync(join(import.meta.dirname, '..', '..', '..', 'deploy', 'vigil.example.yaml'), 'utf8');
    const uncommented = example.replace(/^  # ( *(?:cluster|name|replicaPath|replicaName):)/gm, '  $1');
    expect(uncommented).not.toBe(example);
    const c = parseConfig(uncommented, { env: { CLICKHOUSE_URL: 'http://ch1:8123', SMTP_PASSWORD: 'x', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/x' } }).clickhouse;
    expect(c.cluster).toEqual({ name: 'vigil_cluster', replicaPath: '/clickhouse/tables/{shard}', replicaName: '{replica}' });
  });
});
