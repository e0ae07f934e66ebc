/**
 * The notifier over the real Kafka broker and the embedded ClickHouse engine, delivering to a
 * loopback webhook through the old `notifier.console` and `notifier.webhooks` keys (sugar for the
 * receiver "default", each alert notified at once): each transition reaches the receiver once,
 * across a stop and a restart, a replay of a transition, and a new consumer group that reads the
 * whole topic again; a poison record goes to the dead-letter topic while the transitions around
 * it are delivered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTelemetry,
  encodeAlert,
  HealthRegistry,
  KafkaBus,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  transitionKey,
  type AlertTransition,
  type BusProducer,
  type ConsumedRecord,
  type Role,
  type RoleContext,
  type Storage,
  type Telemetry,
  type VigilConfig,
} from '@vigil/platform';
import { Kafka, logLevel } from 'kafkajs';
import { createNotifierRole, type DeadLetter, type WebhookPayload } from '@vigil/notifier';
import { eventually, kafkaBrokers, unique } from './harness/index.js';

interface Hit {
  key: string;
  headers: IncomingHttpHeaders;
  body: WebhookPayload;
}

/** A console notification in the JSON format. */
interface Printed {
  key: string;
  title: string;
  text: string;
  alerts: AlertTransition[];
}

let dir: string;
let storage: Storage;
let bus: KafkaBus;
let producer: BusProducer;
let server: Server;
let hookUrl: string;
const hits: Hit[] = [];
/** How long the receiver takes to answer, after it has recorded the request. */
let answerDelayMs = 0;
/** Console channel lines (JSON format) seen on stdout. */
const printed: Printed[] = [];
let restoreStdout: () => void;
const running = new Set<Role>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-it-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
  bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('notifier-it'), partitions: 3 });
  producer = await bus.producer();

  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ key: String(req.headers['idempotency-key']), headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      setTimeout(() => res.writeHead(204).end(), answerDelayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts?token=t`;

  // The console channel writes product output to stdout; keep the lines that are transitions.
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    try {
      const line = JSON.parse(text) as Printed;
      if (Array.isArray(line.alerts) && line.title) printed.push(line);
    } catch {
      // not a console notification
    }
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  restoreStdout = () => (process.stdout.write = original);
});

afterAll(async () => {
  for (const role of running) await role.stop().catch(() => undefined);
  restoreStdout?.();
  await bus?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

function configFor(topics: { alerts: string; dlq: string }, groupId: string): VigilConfig {
  const yaml = `
kafka:
  topics: { alerts: ${topics.alerts}, dlq: ${topics.dlq} }
notifier:
  groupId: ${groupId}
  console: { enabled: true, format: json }
  webhooks:
    - name: ops
      url: "${hookUrl}"
      headers: { X-Receiver-Check: vigil }
      timeout: 2s
`;
  return parseConfig(yaml, { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } });
}

async function startRole(config: VigilConfig): Promise<{ role: Role; telemetry: Telemetry }> {
  const telemetry = createTelemetry('notifier-it');
  const ctx: RoleContext = { config, bus, storage, telemetry, health: new HealthRegistry() };
  const role = createNotifierRole(ctx);
  await role.start();
  running.add(role);
  return { role, telemetry };
}

async function stopRole(role: Role): Promise<void> {
  await role.stop();
  running.delete(role);
}

const until = (what: string, cond: () => boolean | Promise<boolean>) => eventually(what, cond, (ok) => ok, 45_000, 50);

/** Reads the role's counter of notifications for a channel and outcome from its /metrics text. */
async function counter(telemetry: Telemetry, channel: string, outcome: string): Promise<number> {
  const s = createServer((req, res) => telemetry.handle(req, res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    const text = await (await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`)).text();
    const m = text.match(new RegExp(`^vigil_notifier_notifications_total\\{channel="${channel}",outcome="${outcome}"\\} (\\d+)`, 'm'));
    return m ? Number(m[1]) : 0;
  } finally {
    await new Promise((r) => s.close(r));
  }
}

/** The group's committed offsets on a topic, summed over partitions (-1 for none counts as 0). */
async function committed(groupId: string, topic: string): Promise<number> {
  const admin = new Kafka({ clientId: unique('notifier-it-admin'), brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The requests and lines that carried this transition (each notification of the receiver "default" carries one alert). */
const hitsFor = (a: AlertTransition) => hits.filter((h) => h.body.alerts.some((x) => x.fingerprint === a.fingerprint && x.status === a.status && x.startsAt === a.startsAt));
const printedFor = (a: AlertTransition) => printed.filter((p) => p.alerts.some((x) => transitionKey(x) === transitionKey(a)));

function publish(topic: string, ...alerts: AlertTransition[]): Promise<void> {
  return producer.send(topic, alerts.map((a) => ({ key: a.fingerprint, value: encodeAlert(a) })));
}

describe('notifier over Kafka and embedded ClickHouse', () => {
  const topics = { alerts: unique('it-alerts'), dlq: unique('it-dlq') };
  const fp = unique('fp');
  const firing: AlertTransition = {
    fingerprint: fp,
    status: 'firing',
    severity: 'critical',
    labels: { alertname: 'cpu_high', 'host.name': 'web-1', metric: 'system.cpu.utilization' },
    annotations: { summary: 'CPU on web-1 is high' },
    startsAt: '2024-05-01T12:00:00.000Z',
    value: 0.97,
    rule: 'cpu_high',
    window: 60_000,
  };
  const resolved: AlertTransition = { ...firing, status: 'resolved', endsAt: '2024-05-01T12:07:00.000Z', value: 0.31 };

  it('delivers a firing and a resolved transition once each, across a stop, a restart and a replay', async () => {
    const config = configFor(topics, unique('it-notifier'));
    const first = await startRole(config);
    // The receiver answers late, so the stop below comes while the batch is still in hand.
    answerDelayMs = 500;
    await publish(topics.alerts, firing);
    await until('the firing transition at the webhook', () => hitsFor(firing).length === 1);
    const hit = hitsFor(firing)[0]!;
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['x-receiver-check']).toBe('vigil');
    expect(hit.key).toMatch(/^[0-9a-f]{32}\/webhook:ops$/);
    expect(hit.body).toMatchObject({ version: '4', receiver: 'default', status: 'firing' });
    expect(hit.body.alerts).toEqual([
      expect.objectContaining({ status: 'firing', fingerprint: fp, labels: { alertname: 'cpu_high', host_name: 'web-1', metric: 'system.cpu.utilization', severity: 'critical' } }),
    ]);
    await until('the firing transition on the console', () => printedFor(firing).length === 1);
    expect(printedFor(firing)[0]!.title).toBe('[FIRING:CRITICAL] cpu_high on web-1');
    expect(printedFor(firing)[0]!.text).toContain('Value: 97% over 1m');

    // Stopped between the two transitions: the first is delivered, the second not yet published.
    // The stop waits for the batch in hand: its delivery is recorded and its offset committed.
    await stopRole(first.role);
    answerDelayMs = 0;
    expect(await committed((config.notifier as { groupId: string }).groupId, topics.alerts)).toBe(1);

    // The second transition, preceded by a replay of the first (same key: same partition, in order).
    await publish(topics.alerts, firing, resolved);
    const second = await startRole(config);
    await until('the resolved transition at the webhook', () => hitsFor(resolved).length === 1);
    // Time for a wrongly repeated firing to show up.
    await new Promise((r) => setTimeout(r, 1_500));
    await stopRole(second.role);

    expect(hitsFor(firing)).toHaveLength(1);
    expect(hitsFor(resolved)).toHaveLength(1);
    expect(printedFor(resolved)[0]!.title).toBe('[RESOLVED] cpu_high on web-1');
    expect(hitsFor(resolved)[0]!.key).not.toBe(hitsFor(firing)[0]!.key);
    expect(printedFor(firing)).toHaveLength(1);
    expect(printedFor(resolved)).toHaveLength(1);
    // The restarted role resumed after the committed first record: the replayed firing changed nothing, the resolve was sent.
    expect(await counter(second.telemetry, 'webhook:ops', 'sent')).toBe(1);
    expect(await counter(second.telemetry, 'console', 'sent')).toBe(1);

    // One ledger row per notification and channel, naming the transitions it carried.
    const rows = await queryRows<{ Alerts: string[]; Channel: string; Status: string; Receiver: string }>(
      storage,
      `SELECT Alerts, Channel, Status, Receiver FROM ${storage.table('vigil_deliveries')} FINAL WHERE Fingerprint = {fp:String} ORDER BY Alerts, Channel`,
      { fp },
    );
    expect(rows).toEqual(
      [transitionKey(firing), transitionKey(resolved)].sort().flatMap((k) => [
        { Alerts: [k], Channel: 'console', Status: 'sent', Receiver: 'default' },
        { Alerts: [k], Channel: 'webhook:ops', Status: 'sent', Receiver: 'default' },
      ]),
    );
  });

  it('a new consumer group reads the whole topic again and delivers nothing twice', async () => {
    const { role, telemetry } = await startRole(configFor(topics, unique('it-notifier-fresh')));
    // A new episode of the same alert, after everything already on the topic: once it arrives, the replay is done.
    const nextEpisode: AlertTransition = { ...firing, startsAt: '2024-05-02T08:00:00.000Z', value: 0.99 };
    await publish(topics.alerts, nextEpisode);
    await until('the new episode at the webhook', () => hitsFor(nextEpisode).length === 1);
    await stopRole(role);

    expect(hitsFor(firing)).toHaveLength(1);
    expect(hitsFor(resolved)).toHaveLength(1);
    expect(await counter(telemetry, 'webhook:ops', 'sent')).toBe(1);
    expect(await counter(telemetry, 'console', 'sent')).toBe(1);
    expect(printedFor(nextEpisode)).toHaveLength(1);
  });

  it('puts a poison record on the dead-letter topic and delivers the transitions around it', async () => {
    const poisonTopics = { alerts: unique('it-alerts-poison'), dlq: unique('it-dlq-poison') };
    const key = unique('fp-poison');
    const before: AlertTransition = { ...firing, fingerprint: key };
    const after: AlertTransition = { ...before, status: 'resolved', endsAt: '2024-05-01T12:30:00.000Z' };
    const poison = Buffer.from([0x7b, 0x22, 0xff, 0x00, 0x9c]);

    const { role } = await startRole(configFor(poisonTopics, unique('it-notifier-poison')));
    // The resolve comes once the firing was notified: a resolve of an alert never notified is not sent (as in Alertmanager).
    await producer.send(poisonTopics.alerts, [
      { key, value: encodeAlert(before) },
      { key, value: poison },
    ]);
    await until('the firing transition at the webhook', () => hitsFor(before).length === 1);
    await producer.send(poisonTopics.alerts, [{ key, value: encodeAlert(after) }]);
    await until('both transitions at the webhook', () => hitsFor(before).length === 1 && hitsFor(after).length === 1);
    await stopRole(role);

    const dead: ConsumedRecord[] = [];
    const sub = await bus.subscribe({ groupId: unique('it-dlq-reader'), topics: [poisonTopics.dlq], handler: async (b) => void dead.push(...b.records) });
    try {
      await until('the dead letter', () => dead.length >= 1);
    } finally {
      await sub.stop();
    }
    expect(dead).toHaveLength(1);
    expect(dead[0]!.key).toBe(key);
    const letter = JSON.parse(dead[0]!.value.toString()) as DeadLetter;
    expect(letter).toMatchObject({ topic: poisonTopics.alerts, offset: '1', key });
    expect(letter.error).toMatch(/JSON/);
    expect(Buffer.from(letter.value, 'base64').equals(poison)).toBe(true);
    expect(hitsFor(before)).toHaveLength(1);
    expect(hitsFor(after)).toHaveLength(1);
  });
});
