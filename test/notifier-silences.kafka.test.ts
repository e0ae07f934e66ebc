import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus, accessPolicy, createHttpServer, createTelemetry, HealthRegistry, migrate, openStorage, parseConfig, type Storage } from '@vigil/platform';
import { createNotifierRole, registerAlertmanagerApi, type NotifierRole } from '@vigil/notifier';
import { eventually, kafkaBrokers, unique } from './harness/index.js';
import { startHookSink, type HookSink } from './harness/webhook.js';

/**
 * Two notifier instances of one consumer group on the real broker: a silence made through one
 * instance's Alertmanager API mutes alerts on the other (whichever owns the alert's partition)
 * and is listed by both; expired through the other, both see it expired. No restart.
 */

interface Hook {
  alerts: { labels: Record<string, string> }[];
}

describe('silences reach every notifier instance (Kafka)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-shared-silences-'));
  let webhook: HookSink<Hook>;
  let storage: Storage;
  const instances: { role: NotifierRole; app: ReturnType<typeof createHttpServer>; url: string; bus: KafkaBus }[] = [];

  beforeAll(async () => {
    webhook = await startHookSink<Hook>();
    // One process binds one embedded data directory: both instances write the same one here (in a
    // deployment each has its own); what they share on purpose goes through Kafka.
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 86_400_000);
    const config = parseConfig(
      `dataDir: ${dir}
kafka:
  brokers: [${kafkaBrokers().join(', ')}]
  topics: { alerts: ${unique('silences-alerts')}, dlq: ${unique('silences-dlq')} }
notifier:
  groupId: ${unique('silences-notifier')}
  receivers: [{ name: oncall, webhook: [{ url: "${webhook.url}" }] }]
  route: { receiver: oncall, groupBy: [alertname, host], groupWait: 0s, groupInterval: 1s }
`,
      { env: { VIGIL_API_TOKEN: 'tok' } },
    );
    for (let i = 0; i < 2; i++) {
      const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: `silences-${i}`, partitions: 3 });
      const health = new HealthRegistry();
      const telemetry = createTelemetry(`silences-${i}`);
      const role = createNotifierRole({ config, bus, storage, telemetry, health });
      await role.start();
      const app = createHttpServer(health, telemetry, { access: accessPolicy(config.http) });
      registerAlertmanagerApi(app, role.services);
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      instances.push({ role, app, url, bus });
    }
  }, 120_000);

  afterAll(async () => {
    for (const i of instances) {
      await i.role.stop();
      await i.app.close();
      await i.bus.close();
    }
    await storage?.close();
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (url: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v2${path}`, {
      method,
      headers: { authorization: 'Bearer tok', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  type Listed = { id: string; status: { state: string } }[];

  it('made on one instance, it mutes and is listed on the other; expired on the other, both see it expired', async () => {
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const now = Date.now();
    const made = await call(a.url, 'POST', '/silences', {
      matchers: [{ name: 'alertname', value: 'muted', isRegex: false, isEqual: true }],
      startsAt: new Date(now - 1_000).toISOString(),
      endsAt: new Date(now + 3_600_000).toISOString(),
      createdBy: 'ops',
      comment: 'maintenance',
    });
    expect(made.status).toBe(200);
    const id = (made.body as { silenceID: string }).silenceID;
    await eventually('the silence listed by the other instance', async () => (await call(b.url, 'GET', '/silences')).body as Listed, (l) => l.some((s) => s.id === id && s.status.state === 'active'), 20_000);

    // Alerts posted to the other instance land on whichever instance owns their partition: the
    // muted ones (several hosts, so several partitions) never page, the plain ones do.
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
    const alerts = hosts.flatMap((host) => [
      { labels: { alertname: 'muted', host }, startsAt: new Date().toISOString() },
      { labels: { alertname: 'plain', host }, startsAt: new Date().toISOString() },
    ]);
    expect((await call(b.url, 'POST', '/alerts', alerts)).status).toBe(200);
    await eventually('every plain alert paged', () => new Set(webhook.hooks.flatMap((h) => h.alerts.filter((x) => x.labels.alertname === 'plain').map((x) => x.labels.host))).size, (n) => n === hosts.length, 30_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(webhook.hooks.flatMap((h) => h.alerts).filter((x) => x.labels.alertname === 'muted')).toEqual([]);

    expect((await call(b.url, 'DELETE', `/silence/${id}`)).status).toBe(200);
    await eventually('expired on the instance that made it', async () => (await call(a.url, 'GET', `/silence/${id}`)).body as { status: { state: string } }, (s) => s.status.state === 'expired', 20_000);
  }, 90_000);
});
