import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, transitionKey, type AlertTransition } from '@vigil/platform';
import type { Notification } from '../channel.js';
import { DeliveryError } from '../channel.js';
import { sendWithRetry, type RetryPolicy } from '../../pipeline/retry.js';
import { legacyWebhookBody as webhookBody, legacyWebhookChannel as webhookChannel, webhookTarget } from './legacy.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A loopback receiver answering each request with the next scripted reply (200 when the script is used up). */
let server: Server;
let base: string;
let received: Received[] = [];
let script: { status: number; headers?: Record<string, string>; delayMs?: number }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString(), at: performance.now() });
      const reply = script.shift() ?? { status: 200 };
      setTimeout(() => {
        res.writeHead(reply.status, reply.headers).end('{"ok":false}');
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  received = [];
  script = [];
});

const alert: AlertTransition = {
  fingerprint: '1234123412341234',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'cpu_high', 'host.name': 'web-1' },
  annotations: { summary: 'CPU high' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.95,
  rule: 'cpu_high',
  window: 60_000,
};
const n: Notification = { key: transitionKey(alert), alert, title: '[FIRING:CRITICAL] cpu_high on web-1', text: 'CPU high' };
const fast: RetryPolicy = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 20, budgetMs: 10_000 };
const hook = (path = '/hook?token=s3cret', extra: Partial<{ headers: Record<string, string>; timeout: number }> = {}) =>
  webhookChannel({ name: 'ops', url: `${base}${path}`, headers: extra.headers ?? { Authorization: 'Bearer t0k3n', 'X-Team': 'sre' }, timeout: extra.timeout ?? 2_000 });

describe('webhook channel', () => {
  it('POSTs the transition and the rendered texts as JSON with its headers and the Idempotency-Key', async () => {
    const ch = hook();
    expect(ch.name).toBe('webhook:ops');
    await ch.send(n);
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/hook?token=s3cret');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['idempotency-key']).toBe('1234123412341234:2024-05-01T12:00:00.000Z:firing:critical');
    expect(r.headers.authorization).toBe('Bearer t0k3n');
    expect(r.headers['x-team']).toBe('sre');
    expect(JSON.parse(r.body)).toEqual({ ...alert, title: n.title, text: n.text });
    expect(r.body).toBe(webhookBody(n));
  });

  it('a configured header cannot replace the Content-Type or the Idempotency-Key', async () => {
    await hook('/h', { headers: { 'content-type': 'text/plain', 'Idempotency-Key': 'mine' } }).send(n);
    expect(received[0]!.headers['content-type']).toBe('application/json');
    expect(received[0]!.headers['idempotency-key']).toBe(n.key);
  });

  it('retries after a 503 and then succeeds, with the same Idempotency-Key each time', async () => {
    script = [{ status: 503 }];
    const out = await sendWithRetry("webhook:ops", () => hook().send(n), { policy: fast, deadline: Date.now() + 10_000 });
    expect(out).toEqual({ status: 'sent', attempts: 2, error: '' });
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual([n.key, n.key]);
  });

  it('does not retry a 400, and the error names the receiver without its path or query', async () => {
    script = [{ status: 400 }];
    const out = await sendWithRetry("webhook:ops", () => hook().send(n), { policy: fast, deadline: Date.now() + 10_000 });
    expect(received).toHaveLength(1);
    expect(out.status).toBe('failed');
    expect(out.attempts).toBe(1);
    expect(out.error).toBe(`webhook "ops" (${base}) answered HTTP 400 (not retried: check the URL, the headers and what the receiver accepts); permanent error`);
    expect(out.error).not.toContain('s3cret');
  });

  it('honours Retry-After on a 429', async () => {
    script = [{ status: 429, headers: { 'Retry-After': '1' } }];
    const out = await sendWithRetry("webhook:ops", () => hook().send(n), { policy: fast, deadline: Date.now() + 10_000 });
    expect(out).toEqual({ status: 'sent', attempts: 2, error: '' });
    const waited = received[1]!.at - received[0]!.at;
    // The backoff alone would wait at most 10ms.
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(2_000);
  });

  it('gives up after the attempts on a receiver that keeps failing', async () => {
    script = [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 504 }, { status: 500 }];
    const out = await sendWithRetry("webhook:ops", () => hook().send(n), { policy: fast, deadline: Date.now() + 10_000 });
    expect(out).toEqual({ status: 'failed', attempts: 4, error: `webhook "ops" (${base}) answered HTTP 504 (will retry); gave up after 4 attempts` });
    expect(received).toHaveLength(4);
  });

  it('a slow receiver is a timeout, which is retried', async () => {
    script = [{ status: 200, delayMs: 500 }];
    const ch = hook('/slow', { timeout: 100 });
    const err = await ch.send(n).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).permanent).toBe(false);
    expect((err as Error).message).toBe(`webhook "ops" (${base}): no answer within 100ms (will retry)`);
  });

  it('a refused connection is a transient error naming the receiver', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const ch = webhookChannel({ name: 'gone', url: `http://127.0.0.1:${port}/x`, headers: {}, timeout: 1_000 });
    const err = await ch.send(n).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).permanent).toBe(false);
    expect((err as Error).message).toBe(`webhook "gone" (http://127.0.0.1:${port}): request failed (ECONNREFUSED) (will retry)`);
  });

  it('refuses a header that cannot be sent, at creation, naming the key', () => {
    expect(() => webhookChannel({ name: 'bad', url: `${base}/x`, headers: { 'X-A': 'line1\nline2' }, timeout: 1_000 }, { source: 'notifier.webhooks[0]' })).toThrow(ConfigError);
    try {
      webhookChannel({ name: 'bad', url: `${base}/x`, headers: { 'Bad Name': 'v' }, timeout: 1_000 }, { source: 'notifier.webhooks[0]' });
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatch(/^notifier\.webhooks\[0\]\.headers: /);
    }
    expect.assertions(2);
  });

  it('webhookTarget shows the origin only', () => {
    expect(webhookTarget('ops', 'https://hooks.example.com:8443/services/T0/B0/XXXX?x=1')).toBe('webhook "ops" (https://hooks.example.com:8443)');
  });
});
