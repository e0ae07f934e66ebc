import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@vigil/platform';
import { DeliveryError } from '../channel.js';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, rejection, sampleGroup, startReceiver, type Receiver } from '../../../test/providers.js';
import { webhookChannel, webhookPayload } from './webhook.js';

/** A loopback receiver that checks what an Alertmanager webhook receiver relies on, and the signature when it has a secret. */
let receiver: Receiver;
let script: { status: number; headers?: Record<string, string> }[] = [];
const SECRET = 'hook-secret-for-tests';
const templates = templateRegistryFromConfig();

beforeAll(async () => {
  receiver = await startReceiver((req, res) => {
    const reply = script.shift();
    if (reply) return void res.writeHead(reply.status, reply.headers).end();
    if (req.headers['content-type'] !== 'application/json') return void res.writeHead(415).end();
    const body = JSON.parse(req.body) as { version?: string; alerts?: unknown[] };
    if (body.version !== '4' || !Array.isArray(body.alerts)) return void res.writeHead(400).end();
    if (req.url.startsWith('/signed')) {
      const ts = String(req.headers['x-vigil-timestamp']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${req.body}`).digest('hex')}`;
      if (req.headers['x-vigil-signature'] !== expected) return void res.writeHead(401).end();
    }
    res.writeHead(200).end('{}');
  });
});
afterAll(() => receiver.close());
beforeEach(() => {
  receiver.received.length = 0;
  script = [];
});

const options = (path: string, extra: Record<string, unknown> = {}) => ({ url: `${receiver.url}${path}`, headers: {}, maxAlerts: 0, timeout: 2_000, ...extra });

describe('webhook payload (Alertmanager version 4)', () => {
  it('has every field, endsAt zero time while firing, and truncates with maxAlerts', () => {
    const n = sampleGroup();
    const p = webhookPayload(n);
    expect(Object.keys(p)).toEqual(['version', 'groupKey', 'truncatedAlerts', 'status', 'receiver', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'alerts']);
    expect(p).toMatchObject({ version: '4', truncatedAlerts: 0, status: 'firing', receiver: 'ops', externalURL: 'http://vigil.local:8080', groupKey: n.groupKey });
    expect(p.alerts[0]).toEqual({
      status: 'firing',
      labels: { alertname: 'cpu_high', host_name: 'web-1', metric: 'system.cpu.utilization', severity: 'critical', vigil_category: 'host' },
      annotations: cpuHigh.annotations,
      startsAt: cpuHigh.startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://vigil.local:8080/api/v1/alerts?rule=cpu_high',
      fingerprint: cpuHigh.fingerprint,
    });
    expect(p.alerts[1]!.endsAt).toBe(diskResolved.endsAt);
    const cut = webhookPayload(n, 1);
    expect(cut.alerts.map((a) => a.fingerprint)).toEqual([cpuHigh.fingerprint]);
    expect(cut.truncatedAlerts).toBe(1);
  });

  it('speaks Prometheus label names; commonLabels are exactly what every alert in the body has, groupLabels a subset', () => {
    const web1 = { ...cpuHigh, annotations: { summary: 'hot', 'vigil.source': 'h-1' } };
    const web2 = { ...cpuHigh, fingerprint: 'b2', severity: 'warning' as const, labels: { ...cpuHigh.labels, 'host.name': 'web-2' }, annotations: { summary: 'warm', 'vigil.source': 'h-2' } };
    const n = { ...sampleGroup([web1, web2]), groupLabels: { alertname: 'cpu_high', 'vigil.category': 'host' } };
    const p = webhookPayload(n);
    expect(p.alerts.map((a) => a.labels.severity)).toEqual(['critical', 'warning']);
    expect(p.commonLabels).toEqual({ alertname: 'cpu_high', metric: 'system.cpu.utilization', vigil_category: 'host' });
    expect(p.groupLabels).toEqual({ alertname: 'cpu_high', vigil_category: 'host' });
    expect(p.commonAnnotations).toEqual({});
    expect(p.alerts[0]!.annotations).toEqual({ summary: 'hot', vigil_source: 'h-1' });
    for (const a of p.alerts) {
      for (const [k, v] of Object.entries(p.commonLabels)) expect(a.labels[k]).toBe(v);
      for (const k of Object.keys({ ...a.labels, ...a.annotations })) expect(k).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    }
    for (const [k, v] of Object.entries(p.groupLabels)) expect(p.commonLabels[k]).toBe(v);
    // Only what the alerts in the body share: cut to the first, the second's differences are gone.
    expect(webhookPayload(n, 1).commonLabels).toEqual(p.alerts[0]!.labels);
  });
});

describe('webhook channel', () => {
  it('POSTs the payload with Idempotency-Key and custom headers; reserved headers cannot be replaced', async () => {
    const ch = webhookChannel(options('/hook', { headers: { Authorization: 'Bearer t0k3n', 'Content-Type': 'text/plain', 'Idempotency-Key': 'mine' } }), { name: 'ops/webhook[0]', templates });
    await ch.send(sampleGroup(), ctx('ops/webhook[0]:abc'));
    const r = receiver.received[0]!;
    expect(r.headers['idempotency-key']).toBe('ops/webhook[0]:abc');
    expect(r.headers.authorization).toBe('Bearer t0k3n');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-vigil-signature']).toBeUndefined();
    expect(r.body).toBe(JSON.stringify(ch.render(sampleGroup()).json));
  });

  it('signs the raw body with the timestamp; the receiver verifies it', async () => {
    const ch = webhookChannel(options('/signed', { signingSecret: SECRET }), { name: 'ops/webhook[0]', templates, now: () => 1_714_564_800_000 });
    await ch.send(sampleGroup(), ctx());
    expect(receiver.received[0]!.headers['x-vigil-timestamp']).toBe('1714564800');
    // A wrong secret fails the receiver's check: 401, permanent.
    const wrong = webhookChannel(options('/signed', { signingSecret: 'other' }), { name: 'ops/webhook[0]', templates });
    const err = (await rejection(wrong.send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err.permanent).toBe(true);
    expect(err.status).toBe(401);
  });

  it('maps 5xx and 429 (with Retry-After) to transient, 4xx to permanent', async () => {
    const ch = webhookChannel(options('/hook'), { name: 'w', templates });
    script = [{ status: 503, headers: { 'Retry-After': '7' } }, { status: 429 }, { status: 422 }];
    const a = (await rejection(ch.send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([a.permanent, a.retryAfterMs]).toEqual([false, 7000]);
    const b = (await rejection(ch.send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([b.permanent, b.retryAfterMs]).toEqual([false, undefined]);
    const c = (await rejection(ch.send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(c.permanent).toBe(true);
  });

  it('a refused connection and a timeout are transient', async () => {
    const gone = await startReceiver(() => undefined);
    await gone.close();
    const refused = (await rejection(webhookChannel(options('', { url: `${gone.url}/x` }), { name: 'w', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(refused.permanent).toBe(false);
    expect(refused.message).toBe(`webhook "w" (${gone.url}): request failed (ECONNREFUSED) (will retry)`);
    const slow = await startReceiver(() => undefined);
    try {
      const timedOut = (await rejection(webhookChannel(options('', { url: `${slow.url}/x`, timeout: 100 }), { name: 'w', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
      expect(timedOut.permanent).toBe(false);
      expect(timedOut.message).toBe(`webhook "w" (${slow.url}): no answer within 100ms (will retry)`);
    } finally {
      await slow.close();
    }
  });

  it('options come from config: defaults filled, a bad header named', () => {
    const ch = createChannel('webhook', { url: `${receiver.url}/hook` }, { name: 'w', templates, source: 'f.yaml: notifier.receivers[0].webhook[0]' });
    expect(ch.kind).toBe('webhook');
    expect(() => createChannel('webhook', { url: `${receiver.url}/hook`, headers: { 'Bad Name': 'v' } }, { name: 'w', templates, source: 'f.yaml: r' })).toThrow(ConfigError);
    expect(() => createChannel('webhook', { url: `${receiver.url}/hook`, maxAlerts: -1 }, { name: 'w', templates, source: 'f.yaml: r' })).toThrow(/f\.yaml: r\.maxAlerts/);
  });
});
