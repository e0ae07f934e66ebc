import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus, accessPolicy, createHttpServer, createTelemetry, HealthRegistry, migrate, openStorage, parseConfig, type Storage, type VigilConfig } from '@vigil/platform';
import { createNotifierRole, registerAlertmanagerApi, type NotifierRole } from '@vigil/notifier';
import { eventually, kafkaBrokers, unique } from './harness/index.js';
import { startHookSink, type HookSink } from './harness/webhook.js';

/**
 * Notifier state per alert partition on the real broker. Instance A alone pages one group of six
 * alerts (six hosts, so several partitions of the alerts topic). Instance B joins the consumer
 * group and is given some partitions: it takes their alerts from `<groupId>.state` and pages
 * nothing again. The alerts resolve: each resolve is sent once, by whichever instance owns the
 * alert. A stops: B takes every partition, still without a second page; a new alert then pages once.
 */

interface Hook {
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

interface Instance {
  role: NotifierRole;
  app: ReturnType<typeof createHttpServer>;
  url: string;
  bus: KafkaBus;
  health: HealthRegistry;
}

describe('notifier hand-over between instances (Kafka)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-handover-'));
  let webhook: HookSink<Hook>;
  let storage: Storage;
  let config: VigilConfig;
  const instances: Instance[] = [];

  async function startInstance(i: number): Promise<Instance> {
    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: `handover-${i}`, partitions: 3, sessionTimeoutMs: 6_000 });
    const health = new HealthRegistry();
    const telemetry = createTelemetry(`handover-${i}`);
    const role = createNotifierRole({ config, bus, storage, telemetry, health });
    await role.start();
    const app = createHttpServer(health, telemetry, { access: accessPolicy(config.http) });
    registerAlertmanagerApi(app, role.services);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const inst = { role, app, url, bus, health };
    instances.push(inst);
    return inst;
  }

  async function stopInstance(inst: Instance): Promise<void> {
    await inst.role.stop();
    await inst.app.close();
    await inst.bus.close();
    instances.splice(instances.indexOf(inst), 1);
  }

  beforeAll(async () => {
    webhook = await startHookSink<Hook>();
    // One process binds one embedded data directory: both instances share it here (in a
    // deployment each has its own). Each ledger remembers only its own sends, so a second page
    // from the other instance would reach the webhook.
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 86_400_000);
    config = parseConfig(
      `dataDir: ${dir}
kafka:
  brokers: [${kafkaBrokers().join(', ')}]
  topics: { alerts: ${unique('handover-alerts')}, dlq: ${unique('handover-dlq')} }
notifier:
  groupId: ${unique('handover-notifier')}
  receivers: [{ name: oncall, webhook: [{ url: "${webhook.url}" }] }]
  route: { receiver: oncall, groupBy: [alertname], groupWait: 0s, groupInterval: 1s, repeatInterval: 4h }
`,
      { env: { VIGIL_API_TOKEN: 'tok' } },
    );
  }, 60_000);

  afterAll(async () => {
    for (const i of [...instances]) await stopInstance(i);
    await storage?.close();
    await webhook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (url: string, alerts: unknown[]) => {
    const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
    expect(res.status).toBe(200);
  };
  const served = (inst: Instance) => {
    // `topic[0,2]`
    const list = /\[([\d,]+)\]/.exec(inst.health.report().checks.notifier?.partitions ?? '')?.[1];
    return list ? list.split(',').length : 0;
  };
  /** Hosts in notifications about `alertname` with that alert status (a group's notification repeats the firing alerts it already told). */
  const pages = (status: string, alertname: string) => [...new Set(notified(status, alertname))].sort();
  const notified = (status: string, alertname: string) => webhook.hooks.flatMap((h) => h.alerts).filter((a) => a.status === status && a.labels.alertname === alertname).map((a) => a.labels.host!).sort();
  /** Waits until no notification came for `quietMs`; returns how many came in all. */
  const quiet = async (quietMs: number) => {
    for (let n = -1; n !== webhook.hooks.length; ) {
      n = webhook.hooks.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
    return webhook.hooks.length;
  };

  it('the new owner of a partition pages nothing again and sends each resolve once; a stop hands everything over', async () => {
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
    const a = await startInstance(0);
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    await post(a.url, hosts.map((host) => ({ labels: { alertname: 'disk', host }, startsAt })));
    await eventually('A pages the six alerts', () => pages('firing', 'disk'), (p) => p.length === hosts.length, 30_000);
    const before = await quiet(2_500);

    const b = await startInstance(1);
    await eventually('both instances serve partitions', () => [served(a), served(b)], ([x, y]) => x! > 0 && y! > 0 && x! + y! === 3, 60_000, 200);
    // Several group intervals: neither instance pages its part of the group again.
    await new Promise((r) => setTimeout(r, 3_500));
    expect(webhook.hooks.slice(before)).toEqual([]);

    const endsAt = new Date().toISOString();
    await post(b.url, hosts.map((host) => ({ labels: { alertname: 'disk', host }, startsAt, endsAt })));
    await eventually('every resolve sent', () => pages('resolved', 'disk'), (p) => p.length >= hosts.length, 30_000);
    await quiet(2_500);
    expect(notified('resolved', 'disk')).toEqual(hosts);

    // A fires again on a new alert, then stops: B takes its partitions with what A notified.
    await post(a.url, hosts.map((host) => ({ labels: { alertname: 'load', host }, startsAt })));
    await eventually('the new alerts paged', () => pages('firing', 'load'), (p) => p.length === hosts.length, 30_000);
    const paged = await quiet(2_500);
    await stopInstance(a);
    await eventually('B serves every partition', () => served(b), (n) => n === 3, 60_000, 200);
    await new Promise((r) => setTimeout(r, 3_500));
    expect(webhook.hooks.slice(paged)).toEqual([]);
    await post(b.url, hosts.map((host) => ({ labels: { alertname: 'load', host }, startsAt, endsAt: new Date().toISOString() })));
    await eventually('every resolve sent by B', () => pages('resolved', 'load'), (p) => p.length >= hosts.length, 30_000);
    await quiet(2_500);
    expect(notified('resolved', 'load')).toEqual(hosts);
  }, 180_000);
});
