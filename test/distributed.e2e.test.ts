import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, queryRows } from '@vigil/platform';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';

/** `vigil collector` and `vigil ingest` as separate processes on the real broker, as the distributed README runs them. */


describe('distributed roles', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-dist-'));
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function role(name: string, port: number, dataDir: string, brokers = kafkaBrokers().join(',')): { child: ChildProcess; output: () => string } {
    let out = '';
    const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', name, '--config', join(dir, 'vigil.yaml')], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: dataDir, KAFKA_BROKERS: brokers, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    children.push(child);
    return { child, output: () => out };
  }

  const health = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return { code: res.status, body: (await res.json()) as { status: string; checks: Record<string, { status: string }> } };
  };

  const exit = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });

  it('collector → Kafka → ingest as two processes; ingest stops cleanly with the rows on disk', async () => {
    const p = unique('dist');
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `kafka:\n  topics: { logs: ${p}-logs, metrics: ${p}-metrics, alerts: ${p}-alerts, dlq: ${p}-dlq }\ningest: { groupId: ${p}-ingest }\ncollector: { interval: 1s, labels: { site: test-site } }\n`,
    );
    const [collectorPort, ingestPort] = [await freePort(), await freePort()];
    const ingestData = join(dir, 'ingest-data');
    const ingest = role('ingest', ingestPort, ingestData);
    const collector = role('collector', collectorPort, join(dir, 'collector-data'));

    const ready = await eventually('ingest ready', () => health(ingestPort), (h) => h.code === 200);
    expect(Object.keys(ready.body.checks).sort()).toEqual(['clickhouse', 'ingest', 'kafka', 'roles']);
    const c = await eventually('collector ready', () => health(collectorPort), (h) => h.code === 200);
    expect(c.body.checks.kafka!.status).toBe('up');
    const metrics = await (await fetch(`http://127.0.0.1:${ingestPort}/metrics`)).text();
    expect(metrics).toContain('target_info');

    // Let a few collections flow, then stop both the way a service manager does.
    await eventually('ingest counted records', async () => (await (await fetch(`http://127.0.0.1:${ingestPort}/metrics`)).text()).match(/vigil_ingest_rows_total\{table="otel_metrics_gauge"\} (\d+)/)?.[1], (n) => Number(n) > 0);
    expect(await exit(collector.child)).toBe(0);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await exit(ingest.child)).toBe(0);
    expect(ingest.output()).toContain('stopped');

    const storage = openStorage({ database: 'vigil', dataDir: ingestData });
    try {
      const rows = await queryRows<{ n: number | string; site: string }>(
        storage,
        `SELECT count() AS n, any(ResourceAttributes['site']) AS site FROM ${storage.table('otel_metrics_gauge')} WHERE MetricName = 'system.cpu.utilization'`,
      );
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
      expect(rows[0]!.site).toBe('test-site');
      const events = await queryRows<{ e: string }>(storage, `SELECT EventName AS e FROM ${storage.table('otel_logs')} ORDER BY Timestamp`);
      expect(events.map((r) => r.e)).toEqual(['app.startup', 'app.shutdown']);
    } finally {
      await storage.close();
    }
  });

  it('keeps running with Kafka unreachable: /health says so (503), and SIGTERM still exits 0', async () => {
    writeFileSync(join(dir, 'vigil.yaml'), `ingest: { groupId: ${unique('down')} }\n`);
    const deadPort = await freePort();
    const port = await freePort();
    const ingest = role('ingest', port, join(dir, 'down-data'), `127.0.0.1:${deadPort}`);
    const h = await eventually('kafka shown down', () => health(port), (x) => x.body.checks.kafka?.status === 'down', 45_000);
    expect(h.code).toBe(503);
    expect(h.body.status).toBe('unavailable');
    expect(ingest.child.exitCode).toBeNull();
    expect(await exit(ingest.child)).toBe(0);
  });
});
