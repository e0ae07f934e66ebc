import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { encodeMetrics } from '@vigil/platform';
import { eventually, freePort } from './harness/index.js';
import { startHookSink, type HookSink } from './harness/webhook.js';

/**
 * The README's run command, end to end: one `vigil all-in-one` process on a fresh data directory.
 * A metric pushed over OTLP/HTTP crosses a threshold → a firing alert in /api/v1/alerts and at the
 * webhook; it falls back → resolved. SIGTERM exits 0, and a restart keeps what was stored.
 */
class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function otlpGauge(value: number): Promise<Buffer> {
  const reader = new ManualReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'host.id': 'e2e-host-id', 'host.name': 'e2e-host', 'os.type': 'linux' }),
    readers: [reader],
  });
  provider.getMeter('e2e').createObservableGauge('queue.fill', { unit: '1' }).addCallback((r) => r.observe(value, { queue: 'orders' }));
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return encodeMetrics(resourceMetrics, 'otlp_proto');
}



/** One request to the webhook (Alertmanager's payload; the receiver "default" of notifier.webhooks sends one alert per request), as its alert. */
interface Hook {
  status: string;
  severity: string;
  rule: string;
  labels: Record<string, string>;
}

function hookOf(body: { alerts: { status: string; labels: Record<string, string> }[] }): Hook {
  const a = body.alerts[0]!;
  return { status: a.status, severity: a.labels.severity ?? '', rule: a.labels.alertname ?? '', labels: a.labels };
}

describe('vigil all-in-one', () => {
  let dir: string;
  let port: number;
  let webhook: HookSink<Hook>;
  let webhookUrl: string;
  let vigil: ChildProcess | undefined;
  let output = '';

  function start(): ChildProcess {
    const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'all-in-one', '--config', join(dir, 'vigil.yaml')], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  }

  function stop(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  }

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };

  async function push(value: number): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: await otlpGauge(value) });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-e2e-'));
    port = await freePort();
    webhook = await startHookSink((body) => hookOf(body as Parameters<typeof hookOf>[0]));
    webhookUrl = webhook.url;
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `
collector: { interval: 1s }
rules:
  evaluationInterval: 500ms
  rules:
    - name: queue_full
      metric: queue.fill
      groupBy: [host.name, queue]
      window: 2s
      warning: 0.7
      critical: 0.9
      for: 0s
      annotations: { summary: "queue {{labels.queue}} at {{value}}" }
notifier:
  webhooks:
    - { name: e2e, url: ${webhookUrl} }
`,
    );
  });

  afterAll(async () => {
    if (vigil && vigil.exitCode === null) await stop(vigil);
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fires, notifies and resolves a threshold crossing; shuts down cleanly; keeps its data across a restart', async () => {
    vigil = start();
    await eventually('ready', () => api<{ status: string }>('/health'), (h) => h.status === 'ok', 90_000);
    await eventually('the listening line', async () => output, (o) => o.includes(`listening on http://localhost:${port}`), 5_000);

    // Above critical until the alert shows up.
    const active = await eventually(
      'firing alert in /api/v1/alerts',
      async () => {
        await push(0.95);
        return api<{ active: { rule: string; status: string; severity: string; labels: Record<string, string> }[] }>('/api/v1/alerts');
      },
      (a) => a.active.some((x) => x.rule === 'queue_full'),
    );
    const alert = active.active.find((x) => x.rule === 'queue_full')!;
    expect(alert).toMatchObject({ status: 'firing', severity: 'critical', labels: { alertname: 'queue_full', 'host.name': 'e2e-host', queue: 'orders' } });
    await eventually('firing at the webhook', async () => webhook.hooks.filter((h) => h.rule === 'queue_full'), (h) => h.length >= 1);
    expect(webhook.hooks[0]).toMatchObject({ status: 'firing', severity: 'critical', rule: 'queue_full', labels: { host_name: 'e2e-host', queue: 'orders' } });

    // Back to normal until it resolves.
    await eventually(
      'resolved',
      async () => {
        await push(0.1);
        return api<{ active: { rule: string }[]; recent: { rule: string; status: string }[] }>('/api/v1/alerts');
      },
      (a) => !a.active.some((x) => x.rule === 'queue_full') && a.recent.some((x) => x.rule === 'queue_full' && x.status === 'resolved'),
    );
    await eventually('resolved at the webhook', async () => webhook.hooks.filter((h) => h.rule === 'queue_full').map((h) => h.status), (s) => s.includes('resolved'));
    // On the way down the window average may pass through the warning band: a de-escalation is a transition of its own.
    const seen = webhook.hooks.filter((h) => h.rule === 'queue_full').map((h) => `${h.status}:${h.severity}`);
    expect(seen[0]).toBe('firing:critical');
    expect(seen[seen.length - 1]).toMatch(/^resolved:/);
    expect(seen.slice(1, -1).every((s) => s === 'firing:warning')).toBe(true);
    expect(new Set(seen).size).toBe(seen.length);

    // The collector's own host metrics arrived too.
    const hosts = await api<{ hosts: { name: string }[] }>('/api/v1/hosts');
    expect(hosts.hosts.map((h) => h.name)).toEqual(expect.arrayContaining([os.hostname(), 'e2e-host']));

    expect(await stop(vigil)).toBe(0);
    expect(output).toContain('stopped');

    // Same data directory: history and hosts are still there, and nothing is paged again.
    const delivered = webhook.hooks.length;
    vigil = start();
    await eventually('ready again', () => api<{ status: string }>('/health'), (h) => h.status === 'ok', 90_000);
    const after = await api<{ recent: { rule: string; status: string }[] }>('/api/v1/alerts');
    expect(after.recent.filter((x) => x.rule === 'queue_full').map((x) => x.status)).toEqual(expect.arrayContaining(['firing', 'resolved']));
    const hostsAfter = await api<{ hosts: { name: string }[] }>('/api/v1/hosts');
    expect(hostsAfter.hosts.map((h) => h.name)).toContain('e2e-host');
    const events = await api<{ events: { eventName: string }[] }>('/api/v1/events?since=1h');
    expect(events.events.map((e) => e.eventName)).toEqual(expect.arrayContaining(['app.startup', 'app.shutdown']));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(webhook.hooks.length).toBe(delivered);
    expect(await stop(vigil)).toBe(0);
  });
});
