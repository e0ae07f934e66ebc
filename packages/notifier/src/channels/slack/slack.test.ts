import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../channel.js';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, rejection, sampleGroup, startReceiver, type Receiver } from '../../../test/providers.js';
import { slackChannel, slackEscape, slackPayload } from './slack.js';

/**
 * A loopback Slack incoming webhook: POST to /services/T/B/token, JSON with text or attachments,
 * answering as Slack documents (200 "ok"; 400 invalid_payload; 403 invalid_token; 404 no_service;
 * 410 channel_is_archived; 429 with Retry-After; 500 rollup_error).
 */
let slack: Receiver;
let script: { status: number; body: string; headers?: Record<string, string> }[] = [];
const templates = templateRegistryFromConfig();

beforeAll(async () => {
  slack = await startReceiver((req, res) => {
    const reply = script.shift();
    if (reply) return void res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.body);
    if (req.method !== 'POST' || !/^\/services\/T0001\/B0001\/[A-Za-z0-9]+$/.test(req.url)) return void res.writeHead(404).end('no_service');
    if (!String(req.headers['content-type']).startsWith('application/json')) return void res.writeHead(400).end('invalid_payload');
    let body: { text?: unknown; attachments?: unknown; blocks?: unknown };
    try {
      body = JSON.parse(req.body) as typeof body;
    } catch {
      return void res.writeHead(400).end('invalid_payload');
    }
    if (typeof body.text !== 'string' && !Array.isArray(body.attachments) && !Array.isArray(body.blocks)) return void res.writeHead(400).end('no_text');
    res.writeHead(200, { 'content-type': 'text/html' }).end('ok');
  });
});
afterAll(() => slack.close());
beforeEach(() => {
  slack.received.length = 0;
  script = [];
});

const hook = (path = '/services/T0001/B0001/s3cr3tT0k3n') => slackChannel({ url: `${slack.url}${path}`, timeout: 2_000 }, { name: 'ops/slack[0]', templates });

describe('slack channel', () => {
  it('posts one attachment coloured by level, with emoji, category, counts and timestamp', async () => {
    const n = sampleGroup();
    const receipt = await hook().send(n, ctx());
    expect(receipt).toEqual({ detail: 'ok' });
    expect(slack.received).toHaveLength(1);
    const body = JSON.parse(slack.received[0]!.body) as { text: string; attachments: Record<string, unknown>[] };
    expect(body.text).toBe('🚨 [FIRING:1:CRITICAL] 2 alerts');
    const a = body.attachments[0]!;
    expect(a.color).toBe('#D00000');
    expect(a.title).toBe('🚨 [FIRING:1:CRITICAL] 2 alerts');
    expect(a.title_link).toBe('http://vigil.local:8080');
    expect(a.ts).toBe(Date.parse('2024-05-01T12:00:10.000Z') / 1000);
    expect(a.fields).toEqual([
      { title: 'Level', value: 'critical', short: true },
      { title: 'Category', value: 'host', short: true },
      { title: 'Alerts', value: '1 firing, 1 resolved', short: true },
    ]);
    expect(a.text).toContain('🚨 [FIRING:CRITICAL] cpu_high on web-1: 93.1% - CPU on web-1 is at 93%');
    expect(a.text).toContain('✅ [RESOLVED] disk_full on web-2: 0.85');
  });

  it('colours by level: warning amber, info blue, resolved green', () => {
    const colour = (n: ReturnType<typeof sampleGroup>) => (slackPayload(n, 't', 'x').attachments as { color: string }[])[0]!.color;
    expect(colour(sampleGroup([{ ...cpuHigh, severity: 'warning' }]))).toBe('#F2A900');
    expect(colour(sampleGroup([{ ...cpuHigh, severity: 'info' }]))).toBe('#439FE0');
    expect(colour(sampleGroup([diskResolved]))).toBe('#2EB67D');
  });

  it('escapes &, < and > so alert texts cannot mention or link', () => {
    expect(slackEscape('<!channel> a & b > c')).toBe('&lt;!channel&gt; a &amp; b &gt; c');
    const n = sampleGroup([{ ...cpuHigh, annotations: { summary: '<!here> disk & more' } }]);
    const text = (slackPayload(n, 't', hook().render(n).text!).attachments as { text: string }[])[0]!.text;
    expect(text).toContain('&lt;!here&gt; disk &amp; more');
    expect(text).not.toContain('<!here>');
  });

  it('render gives the exact body send posts', async () => {
    const n = sampleGroup([cpuHigh]);
    await hook().send(n, ctx());
    expect(JSON.parse(slack.received[0]!.body)).toEqual(hook().render(n).json);
  });

  it.each([
    [400, 'invalid_payload', true],
    [403, 'invalid_token', true],
    [404, 'no_service', true],
    [410, 'channel_is_archived', true],
    [500, 'rollup_error', false],
    [503, 'service_unavailable', false],
  ])('HTTP %i %s → permanent %s, naming the code and not the token', async (status, code, permanent) => {
    script = [{ status, body: code }];
    const err = await rejection(hook().send(sampleGroup(), ctx()));
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as unknown as DeliveryError).permanent).toBe(permanent);
    expect((err as unknown as DeliveryError).status).toBe(status);
    expect(err.message).toContain(`slack "ops/slack[0]" (${slack.url}) answered HTTP ${status}: ${code} (`);
    expect(err.message).not.toContain('s3cr3t');
  });

  it('a wrong webhook path is what Slack calls no_service: permanent', async () => {
    const err = await rejection(hook('/services/T0001/B0001/bad-token!').send(sampleGroup(), ctx()));
    expect((err as unknown as DeliveryError).permanent).toBe(true);
    expect(err.message).toContain('HTTP 404: no_service');
  });

  it('429 is transient and carries Retry-After', async () => {
    script = [{ status: 429, body: 'rate_limited', headers: { 'Retry-After': '30' } }];
    const err = (await rejection(hook().send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(30_000);
  });

  it('is built from config options by createChannel, which checks them', () => {
    const ch = createChannel('slack', { url: `${slack.url}/services/T0001/B0001/x`, timeout: '3s' }, { name: 'ops/slack[0]', templates, source: 'vigil.yaml: notifier.receivers[0].slack[0]' });
    expect(ch.kind).toBe('slack');
    expect(() => createChannel('slack', { url: 'ftp://x', extra: 1 }, { name: 'x', templates, source: 'vigil.yaml: notifier.receivers[0].slack[0]' })).toThrow(
      /vigil\.yaml: notifier\.receivers\[0\]\.slack\[0\]\.url: "ftp:\/\/x" does not have the expected form/,
    );
  });
});
