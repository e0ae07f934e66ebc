import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthRegistry, KafkaBus, createTelemetry, migrate, openStorage, parseConfig } from '@vigil/platform';
import { alertRow, insertRows } from '@vigil/ingest';
import { createRulesRole } from '@vigil/rules';
import { watchAlerts } from './harness/alerts.js';
import { eventually, kafkaBrokers, unique } from './harness/index.js';

describe('sql rules run on exactly one rules worker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('two workers in one group: one runs the sql rules; when it stops the other takes over without paging again', async () => {
    const prefix = unique('rules-sql');
    const dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-sql-'));
    const storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
    cleanup.push(async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = parseConfig(
      [
        'kafka:',
        `  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }`,
        'rules:',
        `  groupId: ${prefix}-rules`,
        '  evaluationInterval: 500ms',
        '  defaults: false',
        `  sql: { tickTopic: ${prefix}-ticks }`,
        '  rules:',
        "    - { name: always, kind: sql, query: 'SELECT 1 AS value', interval: 1s, critical: 1 }",
        '',
      ].join('\n'),
      { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
    );
    const watch = await watchAlerts(config.kafka.brokers, config.kafka.topics.alerts);
    cleanup.push(() => watch.stop());
    const seen = watch.seen;

    const worker = () => {
      const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'rules-sql', partitions: 2 });
      cleanup.push(() => bus.close());
      const role = createRulesRole({ config, bus, storage, telemetry: createTelemetry('rules-sql'), health: new HealthRegistry() });
      cleanup.push(() => role.stop());
      return role;
    };
    const a = worker();
    const b = worker();
    await Promise.all([a.start(), b.start()]);
    await eventually('one firing', () => seen.length, (n) => n >= 1, 60_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(seen.map((s) => [s.alert.rule, s.alert.status])).toEqual([['always', 'firing']]);
    expect([a.sql.owner(), b.sql.owner()].filter(Boolean)).toHaveLength(1);
    // What ingest does with it: the alert history the next owner reads.
    await insertRows(storage, 'vigil_alerts', [alertRow(seen[0]!.alert, seen[0]!.timestamp)]);
    const [owner, other] = a.sql.owner() ? [a, b] : [b, a];
    await owner.stop();
    await eventually('the other worker runs the sql rules', () => other.sql.owner() && other.sql.status()[0]?.groups.length === 1, (ok) => ok === true, 90_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(other.sql.status()[0]!.groups[0]).toMatchObject({ state: 'firing' });
    expect(seen).toHaveLength(1);
  }, 180_000);
});
