import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, unique } from './harness/index.js';

/**
 * `vigil topics` on the suite's broker (one node, so one replica): creates what is missing,
 * checks what is there, and names what is wrong. Three replicas and min.insync.replicas 2 on a
 * three-node cluster: test/kafka-cluster.e2e.test.ts.
 */
describe('vigil topics', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-topics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const vigil = (args: string[]) =>
    spawnSync(process.execPath, ['packages/cli/bin/vigil.mjs', 'topics', '--config', join(dir, 'vigil.yaml'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'silent' },
      timeout: 120_000,
    });

  it('creates every topic (changelogs compacted, with their source topic partition count), then finds them right; names a wrong one', async () => {
    const p = unique('topics');
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `kafka:\n  partitions: 4\n  replicationFactor: 1\n  minInsyncReplicas: 1\n  topics: { logs: ${p}-logs, metrics: ${p}-metrics, alerts: ${p}-alerts, dlq: ${p}-dlq }\nrules: { groupId: ${p}-rules, sql: { tickTopic: ${p}-ticks } }\nnotifier: { groupId: ${p}-notifier }\n`,
    );
    // A changelog made by hand, wrong: two partitions where its source has four, not compacted.
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${p}-rules.state`, numPartitions: 2 }] });
    } finally {
      await admin.disconnect();
    }

    const check = vigil(['--check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain(`missing  ${p}-alerts`);

    const create = vigil([]);
    expect(create.stderr).toBe('');
    expect(create.status).toBe(1);
    for (const t of [`${p}-logs`, `${p}-metrics`, `${p}-alerts`, `${p}-dlq`, `${p}-notifier.state`, `${p}-notifier.silences`, `${p}-rules.reloads`, `${p}-ticks`]) expect(create.stdout).toMatch(new RegExp(`^created  ${t} `, 'm'));
    expect(create.stdout).toMatch(new RegExp(`^created  ${p}-notifier.state  4 partitions, 1 replica, min.insync.replicas 1, cleanup.policy compact`, 'm'));
    expect(create.stdout).toMatch(new RegExp(`^wrong    ${p}-rules.state  2 partitions`, 'm'));
    expect(create.stdout).toContain(`${p}-rules.state: 2 partitions, but ${p}-metrics has 4`);
    expect(create.stdout).toContain(`${p}-rules.state: cleanup.policy is delete, a changelog needs compact`);

    const again = vigil(['--check']);
    expect(again.stdout.split('\n').filter((l) => l.startsWith('ok')).length).toBe(8);
    expect(again.status).toBe(1);
  }, 240_000);
});
