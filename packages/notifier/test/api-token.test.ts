import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessPolicy, createHttpServer, createTelemetry, HealthRegistry, MemoryBus, migrate, openStorage, parseConfig, type Storage } from '@vigil/platform';
import { createNotifierRole, registerNotifierApi } from '../src/index.js';

/**
 * Access to the notifier API by scope: without any token it reads but never sends or changes
 * silences; with tokens, reads need `read` and changes need `write`. And input the schemas let
 * through (times, durations, bounds) is a 400 naming the field, never a 503.
 */

let dir: string;
let storage: Storage;
let open: ReturnType<typeof createHttpServer>;
let scoped: ReturnType<typeof createHttpServer>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-api-token-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
  const config = parseConfig(
    `dataDir: ${dir}\nhttp:\n  tokens:\n    - { name: grafana, token: "\${GRAFANA_TOKEN}", scopes: [read] }\n    - { name: oncall, token: "\${ONCALL_TOKEN}", scopes: [read, write] }\n`,
    { env: { GRAFANA_TOKEN: 'g-secret', ONCALL_TOKEN: 'o-secret', VIGIL_API_TOKEN: 'main-secret' } },
  );
  const health = new HealthRegistry();
  const telemetry = createTelemetry('test');
  const role = createNotifierRole({ config, bus: new MemoryBus(), storage, telemetry, health });
  open = createHttpServer(health, telemetry);
  registerNotifierApi(open, role.services, {});
  scoped = createHttpServer(health, telemetry, { access: accessPolicy(config.http) });
  registerNotifierApi(scoped, role.services, {});
  await Promise.all([open.ready(), scoped.ready()]);
});

afterAll(async () => {
  await open?.close();
  await scoped?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

const WRITES = [
  ['POST', '/api/v1/notify', { title: 't', message: 'm', level: 'info' }],
  ['POST', '/api/v1/notify/test/console', undefined],
  ['POST', '/api/v1/silences', { matchers: ['host="a"'], endsAt: new Date(Date.now() + 3_600_000).toISOString() }],
  ['DELETE', '/api/v1/silences/abc', undefined],
] as const;

describe('notifier API without a token', () => {
  it.each(WRITES)('refuses %s %s with 403 and says how to enable it', async (method, url, payload) => {
    const res = await open.inject({ method, url, ...(payload ? { payload } : {}) });
    expect(res.statusCode).toBe(403);
    expect(res.json<{ message: string }>().message).toMatch(/VIGIL_API_TOKEN/);
  });

  it('still reads: deliveries, silences and previews', async () => {
    const deliveries = await open.inject({ method: 'GET', url: '/api/v1/deliveries' });
    expect(deliveries.statusCode).toBe(200);
    expect(deliveries.json()).toHaveProperty('deliveries');
    expect((await open.inject({ method: 'GET', url: '/api/v1/silences' })).statusCode).toBe(200);
    expect((await open.inject({ method: 'POST', url: '/api/v1/notify/preview', payload: { title: 'p' } })).statusCode).toBe(200);
  });
});

describe('notifier API with scoped tokens', () => {
  const as = (token?: string) => (token ? { authorization: `Bearer ${token}` } : {});

  it('answers 401 to a missing or wrong token on every route', async () => {
    for (const [method, url, payload] of [...WRITES, ['GET', '/api/v1/deliveries', undefined], ['GET', '/api/v1/silences', undefined]] as const) {
      for (const token of [undefined, 'wrong']) {
        const res = await scoped.inject({ method, url, headers: as(token), ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${url} ${token}`).toBe(401);
      }
    }
  });

  it('lets a read token read and answers 403 naming write to its changes', async () => {
    expect((await scoped.inject({ method: 'GET', url: '/api/v1/silences', headers: as('g-secret') })).statusCode).toBe(200);
    const res = await scoped.inject({ method: 'POST', url: '/api/v1/silences', headers: as('g-secret'), payload: { matchers: ['a="b"'], duration: '1h' } });
    expect(res.statusCode).toBe(403);
    expect(res.json<{ message: string }>().message).toBe(
      'POST /api/v1/silences needs a token with the write scope; token "grafana" has read: add write to its scopes in http.tokens, or use a token that has it',
    );
  });

  it('lets a write token create and expire a silence', async () => {
    const created = await scoped.inject({ method: 'POST', url: '/api/v1/silences', headers: as('o-secret'), payload: { matchers: ['host.name="pos-1"'], duration: '2h' } });
    expect(created.statusCode).toBe(200);
    const id = created.json<{ silence: { id: string } }>().silence.id;
    const expired = await scoped.inject({ method: 'DELETE', url: `/api/v1/silences/${id}`, headers: as('main-secret') });
    expect(expired.json<{ silence: { state: string } }>().silence.state).toBe('expired');
  });
});

describe('notifier API input', () => {
  const silence = (payload: Record<string, unknown>) =>
    scoped.inject({ method: 'POST', url: '/api/v1/silences', headers: { authorization: 'Bearer o-secret' }, payload: { matchers: ['a="b"'], ...payload } });

  it.each([
    [{ startsAt: 'garbage', duration: '1h' }, 'startsAt: "garbage" is not an RFC 3339 time (RFC 3339, e.g. 2025-11-22T02:53:20Z)'],
    [{ endsAt: 'tomorrow' }, 'endsAt: "tomorrow" is not an RFC 3339 time (RFC 3339, e.g. 2025-11-22T02:53:20Z)'],
    [{ endsAt: '2025-02-30T00:00:00Z' }, 'endsAt: "2025-02-30T00:00:00Z" is not an RFC 3339 time (RFC 3339, e.g. 2025-11-22T02:53:20Z)'],
    [{ duration: '99999999999999999999w' }, 'duration: "99999999999999999999w" is longer than 3650d, the longest silence (give a shorter duration)'],
    [{ duration: `${'9'.repeat(400)}d` }, `duration: "${'9'.repeat(400)}d" is longer than 3650d, the longest silence (give a shorter duration)`],
    [{ endsAt: '9999-01-01T00:00:00Z' }, 'endsAt: "9999-01-01T00:00:00Z" is more than 3650d from now (silences end within 3650d)'],
    [{ startsAt: '1969-01-01T00:00:00Z', duration: '1h' }, 'startsAt: "1969-01-01T00:00:00Z" is before 1970-01-01T00:00:00.000Z (RFC 3339, e.g. 2025-11-22T02:53:20Z)'],
    [{ duration: '0s' }, 'duration: "0s" is not a duration longer than zero (e.g. 30m, 2h, 7d)'],
    [{}, 'endsAt: give endsAt (RFC 3339) or duration (e.g. 2h)'],
  ])('refuses silence %j with 400 naming the field', async (payload, message) => {
    const res = await silence(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_parameter', message });
  });

  it.each([
    ['since=99999999999999999999w', /^since: "99999999999999999999w" is not a duration reaching back no further than 1970/],
    ['since=100000d', /^since: "100000d"/],
    ['limit=1e400', /^limit: "Infinity" is not a whole number from 1 to 1000$/],
    ['limit=0', /^limit: /],
  ])('refuses deliveries?%s with 400 naming the parameter', async (query, message) => {
    const res = await open.inject({ method: 'GET', url: `/api/v1/deliveries?${query}` });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ message: string }>().message).toMatch(message);
  });
});
