/**
 * The notifier's promises under stress, on the real Kafka broker, embedded ClickHouse and
 * loopback HTTP receivers that answer as providers do: a storm of 1,000 alerts on 50 hosts
 * becomes a bounded number of grouped notifications; a 429 with Retry-After is waited out; a
 * provider that is down hands over to the fallback receiver; the HTTP API sends, previews,
 * lists deliveries and keeps silences; and a `vigil notifier` process killed with SIGKILL in the
 * middle of a storm sends nothing twice (beyond requests in flight at the kill, which carry the
 * same Idempotency-Key) and loses no resolve.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessPolicy,
  createHttpServer,
  createTelemetry,
  encodeAlert,
  fingerprint,
  HealthRegistry,
  KafkaBus,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  type AlertTransition,
  type BusProducer,
  type Storage,
  type VigilConfig,
} from '@vigil/platform';
import { createNotifierRole, registerNotifierApi, type NotifierRole, type WebhookPayload } from '@vigil/notifier';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';

interface Hit {
  at: number;
  key: string;
  headers: IncomingHttpHeaders;
  body: WebhookPayload;
}

/** A loopback receiver: records every request, answers with `answer(n)` (status, headers) after `delayMs`. */
class Receiver {
  hits: Hit[] = [];
  /** Requests received and not yet answered. */
  open = new Set<string>();
  /** When each request was answered. */
  answeredAt = new Map<string, number>();
  answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  delayMs = 0;
  /** Called as each request arrives, with the number received so far (a scenario acts at an exact point). */
  onRequest: ((received: number) => void) | undefined;
  server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        const n = this.hits.length;
        this.hits.push({ at: Date.now(), key, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as WebhookPayload });
        this.open.add(key);
        this.onRequest?.(this.hits.length);
        setTimeout(() => {
          const a = this.answer(n);
          this.open.delete(key);
          this.answeredAt.set(key, Date.now());
          res.writeHead(a.status, a.headers ?? {}).end();
        }, this.delayMs);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let dir: string;
let storage: Storage;
let bus: KafkaBus;
let producer: BusProducer;
const roles: NotifierRole[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-scenarios-'));
  storage = openStorage({ database: 'vigil', dataDir: join(dir, 'ch') });
  await migrate(storage, 30 * 86_400_000);
  bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('notifier-scen'), partitions: 3 });
  producer = await bus.producer();
});

afterAll(async () => {
  for (const r of roles) await r.stop().catch(() => undefined);
  for (const r of receivers) await r.stop().catch(() => undefined);
  await bus?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  receivers.push(r);
  return r;
}

function config(yaml: string, topics: { alerts: string; dlq: string }): VigilConfig {
  return parseConfig(`kafka:\n  topics: { alerts: ${topics.alerts}, dlq: ${topics.dlq} }\n${yaml}`, { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } });
}

async function startRole(cfg: VigilConfig): Promise<NotifierRole> {
  const role = createNotifierRole({ config: cfg, bus, storage, telemetry: createTelemetry('notifier-scen'), health: new HealthRegistry() });
  await role.start();
  roles.push(role);
  return role;
}

/** Recent, so groups wait their groupWait (an alert that started long ago is notified at once, as in Alertmanager). */
const STARTED = new Date().toISOString();

function alert(host: string, rule: string, status: AlertTransition['status'] = 'firing', startsAt = STARTED): AlertTransition {
  const labels = { alertname: rule, 'host.name': host };
  return {
    fingerprint: fingerprint(labels),
    status,
    severity: 'critical',
    labels,
    annotations: { summary: `${rule} on ${host}` },
    startsAt,
    ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
    value: 0.95,
    rule,
    window: 60_000,
  };
}

function publish(topic: string, alerts: AlertTransition[]): Promise<void> {
  return producer.send(topic, alerts.map((a) => ({ key: a.fingerprint, value: encodeAlert(a) })));
}

const topicsFor = (p: string) => ({ alerts: unique(`${p}-alerts`), dlq: unique(`${p}-dlq`) });

describe('notifier scenarios', () => {
  it('a storm of 1,000 alerts on 50 hosts becomes one grouped notification per host, within the rate limit', async () => {
    const hook = await receiver();
    const topics = topicsFor('storm');
    // groupWait leaves the intake of the whole storm time on a loaded machine (a group flushes
    // groupWait after its first alert arrives).
    const role = await startRole(
      config(
        `notifier:
  groupId: ${unique('storm')}
  receivers:
    - name: ops
      webhook: [{ url: "${hook.url}" }]
  route: { receiver: ops, groupBy: [host.name], groupWait: 10s, groupInterval: 1m }
  rateLimits: [{ channel: webhook, max: 60, per: 1h }]
`,
        topics,
      ),
    );
    // Once the consumer has its partitions (a resolve of an alert never notified: no notification),
    // so the storm's alerts are recent when they arrive: one that started longer ago than
    // groupWait would be notified at once, as Alertmanager does.
    const warmUp = alert('warm-up', 'warm_up', 'resolved');
    await publish(topics.alerts, [warmUp]);
    await eventually('the consumer reading', () => role.services.dispatcher.alerts().some((a) => a.fingerprint === warmUp.fingerprint), (ok) => ok, 60_000);
    const hosts = Array.from({ length: 50 }, (_, i) => `pos-${i}`);
    const rules = Array.from({ length: 20 }, (_, i) => `rule_${i}`);
    const startsAt = new Date().toISOString();
    const storm = hosts.flatMap((h) => rules.map((r) => alert(h, r, 'firing', startsAt)));
    expect(storm).toHaveLength(1000);
    const t0 = Date.now();
    for (let i = 0; i < storm.length; i += 100) await publish(topics.alerts, storm.slice(i, i + 100));

    await eventually('every alert of the storm notified', () => new Set(hook.hits.flatMap((h) => h.body.alerts.map((a) => a.fingerprint))).size, (n) => n === 1000, 120_000, 200);
    // One notification per host, sent once the groups had waited their groupWait.
    expect(Math.min(...hook.hits.map((h) => h.at)) - t0).toBeGreaterThanOrEqual(9_900);
    // Time for anything extra to show up.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(hook.hits.length).toBe(50);
    expect(hook.hits.length).toBeLessThanOrEqual(60);
    for (const h of hook.hits) {
      expect(h.body.receiver).toBe('ops');
      // Alertmanager's body: Prometheus label names, groupLabels among the labels every alert has.
      expect(Object.keys(h.body.groupLabels)).toEqual(['host_name']);
      expect(h.body.alerts).toHaveLength(20);
      expect(new Set(h.body.alerts.map((a) => a.labels.host_name))).toEqual(new Set([h.body.groupLabels.host_name]));
      expect(h.body.commonLabels.host_name).toBe(h.body.groupLabels.host_name);
    }
    expect(new Set(hook.hits.map((h) => h.key)).size).toBe(50);
  }, 150_000);

  it('waits out a 429 Retry-After, then sends the same notification with the same Idempotency-Key', async () => {
    const hook = await receiver();
    hook.answer = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 });
    const topics = topicsFor('r429');
    const groupId = unique('r429');
    await startRole(
      config(
        `notifier:
  groupId: ${groupId}
  receivers: [{ name: ops, webhook: [{ url: "${hook.url}" }] }]
  route: { receiver: ops, groupBy: [host.name], groupWait: 0s }
  delivery: { retry: { initialBackoff: 50ms } }
`,
        topics,
      ),
    );
    const a = alert(unique('h429'), 'disk_full');
    await publish(topics.alerts, [a]);
    await eventually('the retry after the 429', () => hook.hits.length, (n) => n >= 2, 30_000, 50);
    const [first, second] = hook.hits;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_950);
    expect(second!.key).toBe(first!.key);
    const rows = await eventually(
      'the ledger row',
      () => queryRows<{ Status: string; Attempts: number }>(storage, `SELECT Status, Attempts FROM ${storage.table('vigil_deliveries')} FINAL WHERE Fingerprint = {fp:String}`, { fp: a.fingerprint }),
      (r) => r.length === 1,
    );
    expect(rows[0]).toEqual({ Status: 'sent', Attempts: 2 });
  });

  it('hands a notification to the fallback receiver when the provider stays down; the API shows both and manages silences', async () => {
    const backup = await receiver();
    const down = `http://127.0.0.1:${await freePort()}/hook`;
    const topics = topicsFor('fallback');
    const cfg = config(
      `notifier:
  groupId: ${unique('fallback')}
  receivers:
    - { name: primary, webhook: [{ url: "${down}", timeout: 1s }], fallback: backup }
    - { name: backup, webhook: [{ url: "${backup.url}" }] }
  route: { receiver: primary, groupBy: [host.name], groupWait: 0s }
  delivery: { giveUpAfter: 2s, retry: { initialBackoff: 100ms, maxBackoff: 400ms } }
`,
      topics,
    );
    cfg.http.token = 's3cret';
    const role = await startRole(cfg);
    const host = unique('hfb');
    const a = alert(host, 'db_down');
    await publish(topics.alerts, [a]);
    const hit = await eventually('the notification at the fallback', () => backup.hits, (h) => h.length >= 1, 30_000, 50);
    expect(hit[0]!.body.receiver).toBe('backup');
    expect(hit[0]!.body.alerts.map((x) => x.fingerprint)).toEqual([a.fingerprint]);

    const app = createHttpServer(new HealthRegistry(), createTelemetry('notifier-scen-api'), { access: accessPolicy(cfg.http) });
    registerNotifierApi(app, role.services);
    await app.ready();
    const auth = { authorization: 'Bearer s3cret' };
    try {
      expect((await app.inject({ method: 'GET', url: '/api/v1/deliveries' })).statusCode).toBe(401);
      const list = await eventually(
        'both deliveries listed',
        async () => (await app.inject({ method: 'GET', url: '/api/v1/deliveries?since=1h', headers: auth })).json<{ deliveries: { receiver: string; status: string; attempts: number; lastError: string }[] }>(),
        (l) => l.deliveries.some((d) => d.receiver === 'primary') && l.deliveries.some((d) => d.receiver === 'backup'),
      );
      const failed = list.deliveries.find((d) => d.receiver === 'primary')!;
      expect(failed.status).toBe('failed');
      expect(failed.attempts).toBeGreaterThan(1);
      expect(failed.lastError).toMatch(/webhook.*127\.0\.0\.1/);
      expect(list.deliveries.find((d) => d.receiver === 'backup')!.status).toBe('sent');
      const onlyFailed = (await app.inject({ method: 'GET', url: '/api/v1/deliveries?status=failed&receiver=primary', headers: auth })).json<{ deliveries: unknown[] }>();
      expect(onlyFailed.deliveries.length).toBeGreaterThanOrEqual(1);
      const bad = await app.inject({ method: 'GET', url: '/api/v1/deliveries?limit=0', headers: auth });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ message: string }>().message).toMatch(/limit/);

      // notify and preview to the backup's channel, by name
      const sent = await app.inject({ method: 'POST', url: '/api/v1/notify', headers: auth, payload: { title: 'Deploy done', message: 'v1.2', level: 'warning', channels: ['backup/webhook[0]'] } });
      expect(sent.statusCode).toBe(200);
      expect(sent.json()).toMatchObject({ ok: true, results: [{ channel: 'backup/webhook[0]', kind: 'webhook', outcome: 'sent', attempts: 1 }] });
      expect(backup.hits.at(-1)!.body.commonAnnotations.summary).toBe('Deploy done');
      const unknown = await app.inject({ method: 'POST', url: '/api/v1/notify', headers: auth, payload: { title: 'x', channels: ['pager'] } });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json<{ message: string }>().message).toMatch(/"pager" is not configured/);
      const badLevel = await app.inject({ method: 'POST', url: '/api/v1/notify', headers: auth, payload: { title: 'x', level: 'loud' } });
      expect(badLevel.statusCode).toBe(400);
      expect(badLevel.json<{ message: string }>().message).toMatch(/level/);
      // A lone UTF-16 surrogate (valid JSON, not valid Unicode) used to break the ledger's inserts
      // until a restart: every later notify answered 503 and deliveries went unrecorded.
      const odd = await app.inject({ method: 'POST', url: '/api/v1/notify', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"title":"odd \\ud800 title","message":"m \\udfff","labels":{"k\\ud83d":"v\\ud800"},"channels":["backup/webhook[0]"]}' });
      expect(odd.statusCode).toBe(200);
      const after = await app.inject({ method: 'POST', url: '/api/v1/notify', headers: auth, payload: { title: 'After the odd one', channels: ['backup/webhook[0]'] } });
      expect(after.statusCode).toBe(200);
      await eventually(
        'both recorded in the ledger',
        () => queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table('vigil_deliveries')} WHERE Channel = 'backup/webhook[0]' AND Status = 'sent' AND Time > now() - INTERVAL 1 MINUTE`),
        (rows) => Number(rows[0]!.n) >= 3,
      );
      const preview = await app.inject({ method: 'POST', url: '/api/v1/notify/preview', headers: auth, payload: { title: 'Preview me', channels: ['webhook'] } });
      expect(preview.statusCode).toBe(200);
      const previews = preview.json<{ previews: { channel: string; json: WebhookPayload }[] }>().previews;
      expect(previews.map((p) => p.channel).sort()).toEqual(['backup/webhook[0]', 'primary/webhook[0]']);
      expect(previews[0]!.json.commonAnnotations.summary).toBe('Preview me');
      const hitsBefore = backup.hits.length;
      const test = await app.inject({ method: 'POST', url: `/api/v1/notify/test/${encodeURIComponent('backup/webhook[0]')}`, headers: auth });
      expect(test.json()).toMatchObject({ ok: true });
      expect(backup.hits.length).toBe(hitsBefore + 1);

      // silences: created, listed, applied to the dispatcher, expired, and kept in ClickHouse
      const created = await app.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: [`host.name="${host}"`], duration: '1h', comment: 'maintenance', createdBy: 'ops' } });
      expect(created.statusCode).toBe(200);
      const silence = created.json<{ silence: { id: string; state: string } }>().silence;
      expect(silence.state).toBe('active');
      expect(role.services.dispatcher.mutedBy(a.fingerprint, Date.now())?.silencedBy).toEqual([silence.id]);
      const badSilence = await app.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: { matchers: ['host.name=~"["'], duration: '1h' } });
      expect(badSilence.statusCode).toBe(400);
      expect(badSilence.json<{ message: string }>().message).toMatch(/matchers/);
      const listed = (await app.inject({ method: 'GET', url: '/api/v1/silences?state=active', headers: auth })).json<{ silences: { id: string }[] }>();
      expect(listed.silences.map((s) => s.id)).toContain(silence.id);
      const stored = await queryRows<{ Id: string }>(storage, `SELECT Id FROM ${storage.table('vigil_silences')} WHERE Id = {id:String}`, { id: silence.id });
      expect(stored).toHaveLength(1);
      const deleted = await app.inject({ method: 'DELETE', url: `/api/v1/silences/${silence.id}`, headers: auth });
      expect(deleted.json<{ silence: { state: string } }>().silence.state).toBe('expired');
      expect((await app.inject({ method: 'DELETE', url: '/api/v1/silences/nope', headers: auth })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});

/** How long after a receiver's answer the notifier may still be recording the delivery (under load). */
const RECORDING_MS = 1_000;

describe('vigil notifier killed with SIGKILL mid-storm', () => {
  it('sends nothing twice (but the requests in flight, same Idempotency-Key) and loses no resolve after a restart', async () => {
    const hook = await receiver();
    hook.delayMs = 150;
    const topics = topicsFor('kill');
    const file = join(dir, 'kill.yaml');
    writeFileSync(
      file,
      `kafka:
  topics: { alerts: ${topics.alerts}, dlq: ${topics.dlq} }
notifier:
  groupId: ${unique('kill')}
  receivers: [{ name: ops, webhook: [{ url: "${hook.url}" }] }]
  route: { receiver: ops, groupBy: [host.name], groupWait: 200ms, groupInterval: 1s }
`,
    );
    const dataDir = join(dir, 'kill-data');
    const start = async (): Promise<{ child: ChildProcess; port: number; output: () => string }> => {
      const port = await freePort();
      let out = '';
      const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'notifier', '--config', file], {
        env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: dataDir, KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await eventually('the notifier ready', async () => (await fetch(`http://127.0.0.1:${port}/health`)).status, (s) => s === 200, 90_000);
      return { child, port, output: () => out };
    };
    const children: ChildProcess[] = [];
    try {
      const first = await start();
      children.push(first.child);
      // Killed as the 5th request arrives, not when a poll notices it: under load a poll can be late
      // by more than the receiver's delay, and requests answered meanwhile are not in flight.
      let killedAt: number | undefined;
      const inFlight = new Set<string>();
      hook.onRequest = (received) => {
        if (received < 5 || killedAt !== undefined) return;
        for (const k of hook.open) inFlight.add(k);
        // Answered so shortly before the kill that the notifier may not have recorded the delivery
        // yet (its ledger write follows the answer; under load it takes up to hundreds of ms): these
        // may come again too, with the same key. Older ones must not.
        const now = Date.now();
        for (const [k, at] of hook.answeredAt) if (now - at < RECORDING_MS) inFlight.add(k);
        killedAt = hook.hits.length;
        first.child.kill('SIGKILL');
      };
      const exited = new Promise((r) => first.child.once('exit', r));
      const hosts = Array.from({ length: 40 }, (_, i) => `kill-${i}`);
      const firing = hosts.flatMap((h) => ['cpu_high', 'mem_high', 'disk_full'].map((r) => alert(h, r)));
      for (let i = 0; i < firing.length; i += 10) {
        await publish(topics.alerts, firing.slice(i, i + 10));
        await new Promise((r) => setTimeout(r, 20));
      }
      await eventually('some notifications out', () => killedAt, (n) => n !== undefined, 30_000, 20);
      await exited;
      hook.onRequest = undefined;
      // Requests the process had written before it died may be read after the kill: in flight too.
      for (const h of hook.hits.slice(killedAt)) inFlight.add(h.key);
      const beforeKill = hook.hits.length;

      // While it is down: every alert resolves.
      await publish(topics.alerts, firing.map((a) => ({ ...a, status: 'resolved' as const, endsAt: new Date().toISOString() })));
      const second = await start();
      children.push(second.child);

      const firingSeen = () => new Set(hook.hits.flatMap((h) => h.body.alerts.filter((a) => a.status === 'firing').map((a) => a.fingerprint)));
      const resolvedSeen = () => new Set(hook.hits.flatMap((h) => h.body.alerts.filter((a) => a.status === 'resolved').map((a) => a.fingerprint)));
      await eventually(
        'a resolve for every alert notified as firing',
        () => [...firingSeen()].filter((fp) => !resolvedSeen().has(fp)).length,
        (missing) => missing === 0,
        60_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));

      expect(beforeKill).toBeGreaterThanOrEqual(5);
      expect(firingSeen().size).toBeGreaterThan(0);
      const byKey = new Map<string, number>();
      for (const h of hook.hits) byKey.set(h.key, (byKey.get(h.key) ?? 0) + 1);
      const repeated = [...byKey].filter(([, n]) => n > 1).map(([k]) => k);
      // Only a request the receiver had when the process died (or had just answered) may come again, with the same key.
      for (const k of repeated) expect(inFlight.has(k)).toBe(true);
      for (const [, n] of byKey) expect(n).toBeLessThanOrEqual(2);
      // No group tells the same thing twice under different keys (an update adds or resolves alerts; it never repeats itself).
      const told = new Map<string, string>();
      for (const h of hook.hits) {
        const what = `${h.body.groupKey} ${h.body.alerts.map((a) => `${a.fingerprint}:${a.status}`).sort().join(',')}`;
        const key = told.get(what);
        if (key !== undefined) expect(h.key).toBe(key);
        told.set(what, h.key);
      }
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 150_000);
});
