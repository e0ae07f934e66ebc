import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';
import { startHookSink, type HookSink } from './harness/webhook.js';

/**
 * The step between the all-in-one and a cluster: one `vigil run --roles
 * ingest,rules,notifier,query-api` process on the embedded engine, fed over the real Kafka broker
 * by two remote `vigil collector` processes (distinct host identities). It stores both hosts'
 * metrics, fires a rule for each, pages the webhook once per alert, serves them on the query API,
 * stops cleanly, and after a restart on the same data directory pages nobody again.
 */

/** The webhook channel's body (Alertmanager's version 4), one per notification. */
interface Hook {
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

const VIGIL = 'packages/cli/bin/vigil.mjs';

describe('vigil run: usage', () => {
  // The parsing itself is unit-tested in packages/cli/test/run-roles.test.ts; this is the command's answer.
  it('refuses an unknown role with exit code 2, naming it and the roles there are', () => {
    const r = spawnSync(process.execPath, [VIGIL, 'run', '--roles', 'ingest,bogus'], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('vigil: --roles: "bogus" is not a role (use collector, ingest, rules, notifier, query-api, separated by commas)');
    expect(r.stderr).toContain('vigil run --roles ROLE,ROLE... [--config FILE]');
  });

  it('accepts the shipped deploy/central.yaml', () => {
    const r = spawnSync(process.execPath, [VIGIL, 'validate', 'deploy/central.yaml'], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('deploy/central.yaml: OK');
  });
});

describe('a central node on the embedded engine: vigil run --roles ingest,rules,notifier,query-api', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-central-'));
  const children: ChildProcess[] = [];
  let webhook: HookSink<Hook>;
  let centralPort: number;

  beforeAll(async () => {
    webhook = await startHookSink<Hook>();
    const hookUrl = webhook.url;
    const p = unique('central');
    const topics = `kafka:\n  topics: { logs: ${p}-logs, metrics: ${p}-metrics, alerts: ${p}-alerts, dlq: ${p}-dlq }\n`;
    writeFileSync(
      join(dir, 'central.yaml'),
      `${topics}ingest: { groupId: ${p}-ingest }
rules:
  groupId: ${p}-rules
  evaluationInterval: 500ms
  defaults: false
  rules:
    - { name: fleet_up, metric: system.uptime, groupBy: [host.name], window: 2s, warning: 1, for: 0s }
notifier:
  groupId: ${p}-notifier
  receivers:
    - { name: e2e, webhook: [{ url: "${hookUrl}" }] }
  route: { receiver: e2e, groupBy: [alertname, host.name], groupWait: 0s }
`,
    );
    for (const n of [1, 2]) {
      writeFileSync(join(dir, `collector-${n}.yaml`), `${topics}collector: { interval: 1s, labels: { host.name: store-${n}, host.id: store-${n}-id, site: store-${n} } }\n`);
    }
    centralPort = await freePort();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function spawnVigil(args: string[], port: number, dataDir: string): { child: ChildProcess; output: () => string } {
    let out = '';
    const child = spawn(process.execPath, [VIGIL, ...args], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: dataDir, KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    children.push(child);
    return { child, output: () => out };
  }

  const central = () => spawnVigil(['run', '--roles', 'ingest,rules,notifier,query-api', '--config', join(dir, 'central.yaml')], centralPort, join(dir, 'central-data'));

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${centralPort}${path}`);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };

  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${centralPort}/health`);
    return { code: res.status, body: (await res.json()) as { status: string; checks: Record<string, { status: string }> } };
  };

  const stop = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });

  it('stores two remote collectors, fires and pages once per host, serves the API, and pages nobody again after a restart', async () => {
    let node = central();
    const ready = await eventually('central node ready', health, (h) => h.code === 200, 90_000);
    // One process, one readiness: Kafka, the embedded engine and every role's consumer.
    expect(Object.keys(ready.body.checks)).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'roles', 'ingest', 'notifier']));
    await eventually('the listening line', async () => node.output(), (o) => o.includes(`(ingest, rules, notifier, query-api) listening on http://localhost:${centralPort}`), 5_000);

    const collectors = await Promise.all([1, 2].map(async (n) => spawnVigil(['collector', '--config', join(dir, `collector-${n}.yaml`)], await freePort(), join(dir, `collector-${n}-data`))));

    const hosts = await eventually(
      'both hosts stored and served',
      () => api<{ hosts: { name: string }[] }>('/api/v1/hosts'),
      (h) => ['store-1', 'store-2'].every((n) => h.hosts.some((x) => x.name === n)),
      90_000,
    );
    expect(hosts.hosts.map((h) => h.name)).toEqual(expect.arrayContaining(['store-1', 'store-2']));

    const alerts = await eventually(
      'fleet_up firing for both hosts',
      () => api<{ active: { rule: string; status: string; labels: Record<string, string> }[] }>('/api/v1/alerts'),
      (a) => ['store-1', 'store-2'].every((n) => a.active.some((x) => x.rule === 'fleet_up' && x.labels['host.name'] === n)),
      60_000,
    );
    expect(alerts.active.filter((a) => a.rule === 'fleet_up').every((a) => a.status === 'firing')).toBe(true);
    const firing = () => webhook.hooks.flatMap((h) => h.alerts).filter((a) => a.labels.alertname === 'fleet_up' && a.status === 'firing');
    const paged = await eventually('a page per host at the webhook', async () => firing().map((a) => a.labels.host_name), (names) => names.includes('store-1') && names.includes('store-2'));
    expect(paged.sort()).toEqual(['store-1', 'store-2']);

    // Lag of each consumer group is on /metrics, for an orchestrator to scale on.
    const metrics = await (await fetch(`http://127.0.0.1:${centralPort}/metrics`)).text();
    expect(metrics).toMatch(/vigil_consumer_lag_records\{[^}]*\} \d+/);
    // What Prometheus's own linter says of it (names, types, help, counters ending in _total), and
    // durations in base units: every duration histogram in seconds.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
    const durations = [...metrics.matchAll(/^# TYPE (\S*duration\S*) histogram$/gm)].map((m) => m[1]!);
    expect(durations).toEqual(expect.arrayContaining(['vigil_ingest_batch_duration_seconds', 'vigil_rules_evaluation_duration_seconds']));
    expect(durations.filter((n) => !n.endsWith('_seconds'))).toEqual([]);

    expect(await stop(node.child)).toBe(0);
    expect(node.output()).toContain('stopped');

    // Same data directory, collectors still sending, alerts still firing: restored, not paged again.
    const pagesBefore = webhook.hooks.length;
    node = central();
    await eventually('central node ready again', health, (h) => h.code === 200, 90_000);
    const restored = await api<{ active: { rule: string; labels: Record<string, string> }[] }>('/api/v1/alerts');
    expect(restored.active.filter((a) => a.rule === 'fleet_up').map((a) => a.labels['host.name']).sort()).toEqual(['store-1', 'store-2']);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(webhook.hooks.slice(pagesBefore)).toEqual([]);

    for (const c of collectors) expect(await stop(c.child)).toBe(0);
    expect(await stop(node.child)).toBe(0);
  }, 300_000);
});
