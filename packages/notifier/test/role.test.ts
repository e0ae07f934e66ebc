import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createTelemetry,
  encodeAlert,
  HealthRegistry,
  MemoryBus,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  transitionKey,
  type AlertTransition,
  type RoleContext,
  type Storage,
  type Telemetry,
} from '@vigil/platform';
import { checkNotifierConfig, consoleChannel, createNotifierRole, webhookChannel, type DeadLetter } from '../src/index.js';

/**
 * The role over the in-process bus and the embedded ClickHouse engine, with a loopback
 * webhook receiver: what the all-in-one process runs. Kafka is covered by
 * test/notifier.integration.test.ts.
 */

let dir: string;
let storage: Storage;
let server: Server;
let url: string;
let received: { headers: IncomingHttpHeaders; body: AlertTransition & { title: string; text: string } }[] = [];
let reply: () => number = () => 200;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-role-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(reply()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received = [];
  reply = () => 200;
});

let seq = 0;
function transition(status: AlertTransition['status'], fp = `role-${process.pid}-${++seq}`): AlertTransition {
  return {
    fingerprint: fp,
    status,
    severity: 'critical',
    labels: { alertname: 'cpu_high', 'host.name': `web-${seq}` },
    annotations: { summary: 'CPU high' },
    startsAt: '2024-05-01T12:00:00.000Z',
    ...(status === 'resolved' ? { endsAt: '2024-05-01T12:10:00.000Z' } : {}),
    value: 0.95,
    rule: 'cpu_high',
    window: 60_000,
  };
}

function setup(webhookUrl = url) {
  const config = parseConfig('', { env: {} });
  const bus = new MemoryBus({ partitions: 2 });
  const telemetry = createTelemetry('notifier-test');
  const ctx: RoleContext = { config, bus, storage, telemetry, health: new HealthRegistry() };
  const printed: string[] = [];
  const channels = [
    consoleChannel({ format: 'json', write: async (line) => void printed.push(line) }),
    webhookChannel({ name: 'ops', url: webhookUrl, headers: {}, timeout: 2_000 }),
  ];
  const publish = async (...alerts: AlertTransition[]) => (await bus.producer()).send(config.kafka.topics.alerts, alerts.map((a) => ({ key: a.fingerprint, value: encodeAlert(a) })));
  return { config, bus, telemetry, ctx, printed, channels, publish };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scrape(telemetry: Telemetry): Promise<string> {
  const s = createServer((req, res) => telemetry.handle(req, res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    return await (await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`)).text();
  } finally {
    await new Promise((r) => s.close(r));
  }
}

async function ledgerRows(key: string) {
  return queryRows<{ Channel: string; Status: string; Attempts: number; Error: string }>(
    storage,
    `SELECT Channel, Status, Attempts, Error FROM ${storage.table('vigil_deliveries')} WHERE DeliveryKey = {k:String} ORDER BY Channel, Time`,
    { k: key },
  );
}

describe('notifier role on the in-process bus', () => {
  it('delivers each transition once per channel, in order per alert, and skips replays', async () => {
    const { ctx, printed, channels, publish, telemetry } = setup();
    const role = createNotifierRole(ctx, { channels });
    await role.start();
    const firing = transition('firing');
    const resolved = { ...transition('resolved', firing.fingerprint) };
    await publish(firing, firing, resolved, firing);
    await until('two webhook deliveries and four ledger rows', async () => received.length >= 2 && (await ledgerRows(transitionKey(resolved))).length === 2);
    await role.stop();

    expect(received.map((r) => r.body.status)).toEqual(['firing', 'resolved']);
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual([transitionKey(firing), transitionKey(resolved)]);
    expect(received[0]!.body.title).toBe(`[FIRING:CRITICAL] cpu_high on ${firing.labels['host.name']}`);
    expect(printed.map((l) => (JSON.parse(l) as AlertTransition).status)).toEqual(['firing', 'resolved']);
    expect(await ledgerRows(transitionKey(firing))).toEqual([
      { Channel: 'console', Status: 'sent', Attempts: 1, Error: '' },
      { Channel: 'webhook:ops', Status: 'sent', Attempts: 1, Error: '' },
    ]);
    const metrics = await scrape(telemetry);
    expect(metrics).toMatch(/vigil_notifier_notifications_total\{channel="webhook:ops",outcome="sent"\} 2\b/);
    expect(metrics).toMatch(/vigil_notifier_notifications_total\{channel="webhook:ops",outcome="skipped_duplicate"\} 2\b/);
    expect(metrics).toMatch(/vigil_notifier_send_duration_seconds_count\{channel="console",outcome="sent"\} 2\b/);
  });

  it('records a delivery it gives up as failed, puts it on the dead-letter topic, and still sends to the other channels', async () => {
    reply = () => 400;
    const { ctx, bus, config, printed, channels, publish, telemetry } = setup();
    const role = createNotifierRole(ctx, { channels });
    await role.start();
    const firing = transition('firing');
    await publish(firing);
    await until('the failed row', async () => (await ledgerRows(transitionKey(firing))).length === 2);
    await until('the dead letter', () => bus.peek(config.kafka.topics.dlq).length === 1);
    await role.stop();

    expect(received).toHaveLength(1);
    expect(printed).toHaveLength(1);
    expect(await ledgerRows(transitionKey(firing))).toEqual([
      { Channel: 'console', Status: 'sent', Attempts: 1, Error: '' },
      { Channel: 'webhook:ops', Status: 'failed', Attempts: 1, Error: expect.stringMatching(/^webhook "ops" \(http:\/\/127\.0\.0\.1:\d+\) answered HTTP 400 .*; permanent error$/) },
    ]);
    const dead = bus.peek(config.kafka.topics.dlq)[0]!;
    expect(dead.key).toBe(firing.fingerprint);
    const letter = JSON.parse(dead.value.toString()) as DeadLetter;
    expect(letter.channel).toBe('webhook:ops');
    expect(letter.topic).toBe(config.kafka.topics.alerts);
    expect(JSON.parse(Buffer.from(letter.value, 'base64').toString())).toEqual(firing);
    expect(await scrape(telemetry)).toMatch(/vigil_notifier_dead_letters_total\{reason="undeliverable"\} 1\b/);
  });

  it('a failed delivery is tried again when its transition is replayed, and then recorded as sent', async () => {
    reply = () => 400;
    const { ctx, channels, publish } = setup();
    const role = createNotifierRole(ctx, { channels });
    await role.start();
    const firing = transition('firing');
    await publish(firing);
    await until('the failed row', async () => (await ledgerRows(transitionKey(firing))).some((r) => r.Status === 'failed'));
    reply = () => 200;
    await publish(firing);
    await until('the sent row', async () => (await ledgerRows(transitionKey(firing))).some((r) => r.Channel === 'webhook:ops' && r.Status === 'sent'));
    await role.stop();
    expect(received).toHaveLength(2);
  });

  it('stopping during a retry leaves the delivery to the next start, which sends it once', async () => {
    reply = () => 503;
    const { ctx, channels, publish } = setup();
    const role = createNotifierRole(ctx, { channels, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, budgetMs: 120_000 } });
    await role.start();
    const firing = transition('firing');
    await publish(firing);
    await until('the first attempt', () => received.length === 1);
    const t0 = performance.now();
    await role.stop();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect((await ledgerRows(transitionKey(firing))).filter((r) => r.Channel === 'webhook:ops')).toEqual([]);

    reply = () => 200;
    const again = createNotifierRole(ctx, { channels });
    await again.start();
    await until('the delivery after the restart', async () => (await ledgerRows(transitionKey(firing))).some((r) => r.Channel === 'webhook:ops'));
    await again.stop();
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual([transitionKey(firing), transitionKey(firing)]);
    expect((await ledgerRows(transitionKey(firing))).map((r) => `${r.Channel}:${r.Status}`)).toEqual(['console:sent', 'webhook:ops:sent']);
  });

  it('puts an undecodable record on the dead-letter topic with its source key and goes on', async () => {
    const { ctx, bus, config, channels, telemetry } = setup();
    const role = createNotifierRole(ctx, { channels });
    await role.start();
    const a = transition('firing');
    const producer = await bus.producer();
    await producer.send(config.kafka.topics.alerts, [
      { key: a.fingerprint, value: encodeAlert(a) },
      { key: a.fingerprint, value: Buffer.from('not json') },
      { key: a.fingerprint, value: encodeAlert({ ...a, startsAt: '2024-05-01T13:00:00.000Z' }) },
    ]);
    await until('two deliveries', () => received.length === 2);
    await until('the dead letter', () => bus.peek(config.kafka.topics.dlq).length === 1);
    await role.stop();
    const letter = JSON.parse(bus.peek(config.kafka.topics.dlq)[0]!.value.toString()) as DeadLetter;
    expect(letter.key).toBe(a.fingerprint);
    expect(Buffer.from(letter.value, 'base64').toString()).toBe('not json');
    expect(letter.error).toMatch(/JSON/);
    expect(letter.channel).toBeUndefined();
    expect(await scrape(telemetry)).toMatch(/vigil_notifier_dead_letters_total\{reason="undecodable"\} 1\b/);
  });
});

describe('checkNotifierConfig', () => {
  it('reports every bad template and webhook header at once, naming the file and key', () => {
    const yaml = [
      'notifier:',
      '  templates:',
      '    title: "{{#if firing}}open"',
      '  webhooks:',
      '    - name: ops',
      `      url: ${'http://127.0.0.1:9/x'}`,
      '      headers: { "Bad Header": "v" }',
    ].join('\n');
    const config = parseConfig(yaml, { env: {} });
    let problems: string[] = [];
    try {
      checkNotifierConfig(config, 'vigil.yaml');
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^vigil\.yaml: notifier\.templates\.title: the handlebars template does not compile/);
    expect(problems[1]).toMatch(/^vigil\.yaml: notifier\.webhooks\[0\]\.headers: /);
  });

  it('makes createNotifierRole refuse to start with a bad template', () => {
    const config = parseConfig('notifier:\n  templates:\n    body: "{{nope status}}"\n', { env: {} });
    const ctx: RoleContext = { config, bus: new MemoryBus(), storage, telemetry: createTelemetry('t'), health: new HealthRegistry() };
    expect(() => createNotifierRole(ctx)).toThrow(/config: notifier\.templates\.body: .*unknown helper nope/);
  });

  it('needs storage', () => {
    const ctx: RoleContext = { config: parseConfig('', { env: {} }), bus: new MemoryBus(), telemetry: createTelemetry('t'), health: new HealthRegistry() };
    expect(() => createNotifierRole(ctx)).toThrow('notifier needs ClickHouse storage, but none was opened');
  });
});
