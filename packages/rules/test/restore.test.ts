import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, migrate, openStorage, type AlertTransition, type Storage } from '@vigil/platform';
import { loadFiringAlerts } from '../src/restore.js';

/** The alert history in the real embedded ClickHouse, with rows shaped as ingest writes them. */
describe('loadFiringAlerts', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-restore-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Recent, and with milliseconds: rows older than the retention TTL would be dropped.
  const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000 + 123;
  function transition(host: string, status: AlertTransition['status'], severity: AlertTransition['severity'], startsAtMs: number, endsAtMs?: number): AlertTransition {
    const labels = { alertname: 'cpu_high', 'host.name': host };
    return {
      fingerprint: fingerprint(labels),
      status,
      severity,
      labels,
      annotations: { summary: `cpu on ${host}` },
      startsAt: new Date(startsAtMs).toISOString(),
      ...(endsAtMs !== undefined ? { endsAt: new Date(endsAtMs).toISOString() } : {}),
      value: 0.95,
      rule: 'cpu_high',
      window: 60_000,
    };
  }
  async function insert(t: AlertTransition, eventTimeMs: number) {
    await storage.client.insert({
      table: storage.table('vigil_alerts'),
      format: 'JSONEachRow',
      values: [
        {
          Fingerprint: t.fingerprint,
          Status: t.status,
          Severity: t.severity,
          Rule: t.rule,
          Labels: t.labels,
          Annotations: t.annotations,
          StartsAt: Date.parse(t.startsAt),
          EndsAt: t.endsAt ? Date.parse(t.endsAt) : 0,
          EventTime: eventTimeMs,
          Value: t.value,
          WindowMs: t.window,
        },
      ],
    });
  }

  it('keeps the fingerprints whose latest transition is firing, with their latest severity', async () => {
    // a: fired, escalated, still firing. b: fired and resolved. c: resolved at the same instant
    // it was re-announced (the resolve wins). d: resolved, then a new episode fired.
    await insert(transition('a', 'firing', 'warning', T0), T0);
    await insert(transition('a', 'firing', 'critical', T0), T0 + 10_000);
    await insert(transition('b', 'firing', 'critical', T0), T0);
    await insert(transition('b', 'resolved', 'critical', T0, T0 + 20_000), T0 + 20_000);
    await insert(transition('c', 'firing', 'warning', T0), T0 + 5_000);
    await insert(transition('c', 'resolved', 'warning', T0, T0 + 5_000), T0 + 5_000);
    await insert(transition('d', 'firing', 'warning', T0), T0);
    await insert(transition('d', 'resolved', 'warning', T0, T0 + 1_000), T0 + 1_000);
    await insert(transition('d', 'firing', 'critical', T0 + 60_000), T0 + 60_000);
    // A replay written twice (ingest is at least once) changes nothing.
    await insert(transition('a', 'firing', 'critical', T0), T0 + 10_000);

    const firing = (await loadFiringAlerts(storage)).sort((x, y) => x.labels['host.name']!.localeCompare(y.labels['host.name']!));
    expect(firing).toEqual([
      { ...pick(transition('a', 'firing', 'critical', T0)) },
      { ...pick(transition('d', 'firing', 'critical', T0 + 60_000)) },
    ]);
  });

  it('leaves out alerts no rule raised (Prometheus\'s, taken in by the notifier)', async () => {
    await storage.client.command({ query: `TRUNCATE TABLE ${storage.table('vigil_alerts')}` });
    await insert({ ...transition('p', 'firing', 'critical', T0), rule: 'prometheus' }, T0);
    await insert(transition('q', 'firing', 'critical', T0), T0);
    expect((await loadFiringAlerts(storage)).map((a) => a.labels['host.name'])).toEqual(['q']);
  });

  it('reads an empty history as nothing firing', async () => {
    await storage.client.command({ query: `TRUNCATE TABLE ${storage.table('vigil_alerts')}` });
    expect(await loadFiringAlerts(storage)).toEqual([]);
  });
});

function pick(t: AlertTransition) {
  return { fingerprint: t.fingerprint, rule: t.rule, severity: t.severity, labels: t.labels, annotations: t.annotations, startsAt: t.startsAt, value: t.value };
}
