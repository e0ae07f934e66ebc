import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../channel.js';
import { templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, rejection, sampleGroup, startReceiver, type Receiver } from '../../../test/providers.js';
import { discordChannel, discordError } from './discord.js';

/**
 * A loopback Discord webhook: POST /api/webhooks/<id>/<token>, JSON with content or embeds within
 * Discord's limits; 204 on success (200 with the message on ?wait=true), 400 with a JSON error
 * code, 401/404 for a bad or deleted webhook, 429 with retry_after (seconds) and Retry-After.
 */
let discord: Receiver;
let script: { status: number; body: unknown; headers?: Record<string, string> }[] = [];
const templates = templateRegistryFromConfig();

beforeAll(async () => {
  discord = await startReceiver((req, res) => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const reply = script.shift();
    if (reply) return json(reply.status, reply.body, reply.headers);
    const m = /^\/api\/webhooks\/(\d+)\/([A-Za-z0-9_-]+)(\?wait=true)?$/.exec(req.url);
    if (req.method !== 'POST' || !m) return json(404, { message: 'Unknown Webhook', code: 10015 });
    if (m[2] !== 'goodtoken') return json(401, { message: 'Invalid Webhook Token', code: 50027 });
    if (req.headers['content-type'] !== 'application/json') return json(400, { message: 'Cannot send an empty message', code: 50006 });
    const body = JSON.parse(req.body) as { content?: string; embeds?: { title?: string; description?: string; color?: unknown; fields?: { name: string; value: string }[] }[] };
    if (!body.content && !(body.embeds && body.embeds.length > 0)) return json(400, { message: 'Cannot send an empty message', code: 50006 });
    for (const e of body.embeds ?? []) {
      const tooLong = (e.title?.length ?? 0) > 256 || (e.description?.length ?? 0) > 4096 || (e.fields ?? []).some((f) => f.name.length > 256 || f.value.length > 1024 || f.value === '');
      if (tooLong || (e.color !== undefined && !Number.isInteger(e.color))) return json(400, { code: 50035, message: 'Invalid Form Body', errors: { embeds: {} } });
    }
    if (m[3]) return json(200, { id: '1234567890123456789', type: 0 });
    res.writeHead(204).end();
  });
});
afterAll(() => discord.close());
beforeEach(() => {
  discord.received.length = 0;
  script = [];
});

const hook = (path = '/api/webhooks/42/goodtoken') => discordChannel({ url: `${discord.url}${path}`, timeout: 2_000 }, { name: 'ops/discord[0]', templates });
const asDelivery = (e: Error) => e as unknown as DeliveryError;

describe('discord channel', () => {
  it('posts one embed: integer colour by level, fields, timestamp, no mentions; 204 is delivered', async () => {
    expect(await hook().send(sampleGroup(), ctx())).toEqual({});
    const body = JSON.parse(discord.received[0]!.body) as { embeds: Record<string, unknown>[]; allowed_mentions: unknown };
    expect(body.allowed_mentions).toEqual({ parse: [] });
    const e = body.embeds[0]!;
    expect(e.color).toBe(0xd00000);
    expect(e.title).toBe('🚨 [FIRING:1:CRITICAL] 2 alerts');
    expect(e.timestamp).toBe('2024-05-01T12:00:10.000Z');
    expect(e.url).toBe('http://vigil.local:8080');
    expect(e.fields).toEqual([
      { name: 'Level', value: 'critical', inline: true },
      { name: 'Category', value: 'host', inline: true },
      { name: 'Alerts', value: '1 firing, 1 resolved', inline: true },
    ]);
    expect(e.description).toContain('cpu_high on web-1: 93.1%');
  });

  it('resolved is green; a very long text is cut to Discord’s limit and still accepted', async () => {
    const long = { ...diskResolved, annotations: { summary: 'x'.repeat(6000) } };
    await hook().send(sampleGroup([long]), ctx());
    const e = (JSON.parse(discord.received[0]!.body) as { embeds: { color: number; description: string }[] }).embeds[0]!;
    expect(e.color).toBe(0x2eb67d);
    expect(e.description.length).toBe(4096);
    expect(e.description.endsWith('…')).toBe(true);
  });

  it('with ?wait=true the message id is the receipt', async () => {
    expect(await hook('/api/webhooks/42/goodtoken?wait=true').send(sampleGroup([cpuHigh]), ctx())).toEqual({ providerId: '1234567890123456789' });
  });

  it('a deleted webhook (404 Unknown Webhook) and a bad token (401) are permanent, with Discord’s message and code', async () => {
    const gone = asDelivery(await rejection(hook('/api/webhooks/42').send(sampleGroup(), ctx())));
    expect(gone.permanent).toBe(true);
    expect(gone.message).toBe(`discord "ops/discord[0]" (${discord.url}) answered HTTP 404: Unknown Webhook (code 10015) (not retried: the webhook was deleted or its URL is wrong; configure a valid webhook URL)`);
    const bad = asDelivery(await rejection(hook('/api/webhooks/42/wrongtoken').send(sampleGroup(), ctx())));
    expect(bad.permanent).toBe(true);
    expect(bad.status).toBe(401);
    expect(bad.message).not.toContain('wrongtoken');
  });

  it('400 Invalid Form Body is permanent', async () => {
    script = [{ status: 400, body: { code: 50035, message: 'Invalid Form Body', errors: {} } }];
    const err = asDelivery(await rejection(hook().send(sampleGroup(), ctx())));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain('HTTP 400: Invalid Form Body (code 50035) (not retried: Discord refused the message)');
  });

  it('429: transient, waiting retry_after seconds from the body (the larger of body and header)', async () => {
    script = [{ status: 429, body: { message: 'You are being rate limited.', retry_after: 1.337, global: false }, headers: { 'Retry-After': '1' } }];
    const err = asDelivery(await rejection(hook().send(sampleGroup(), ctx())));
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(1337);
    script = [{ status: 429, body: { message: 'You are being rate limited.', retry_after: 0.5, global: true }, headers: { 'Retry-After': '3' } }];
    const global = asDelivery(await rejection(hook().send(sampleGroup(), ctx())));
    expect(global.retryAfterMs).toBe(3000);
    expect(global.message).toContain('(global rate limit)');
  });

  it('discordError reads what it can: no JSON, header only, 5xx', () => {
    expect(discordError('d', 429, 'oops', '2', 0).retryAfterMs).toBe(2000);
    expect(discordError('d', 502, '<html>', null, 0)).toMatchObject({ permanent: false, status: 502, message: 'd answered HTTP 502 (will retry)' });
  });
});
