import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, createTelemetry, HealthRegistry, MemoryBus, migrate, openStorage, parseConfig, type Storage } from '@vigil/platform';
import { createNotifierRole, registerNotifierApi } from '../src/index.js';

/** Without `http.token` the notifier API reads but never sends or changes silences. */

let dir: string;
let storage: Storage;
let app: ReturnType<typeof createHttpServer>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-api-token-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
  const config = parseConfig(`dataDir: ${dir}\n`, { env: {} });
  const health = new HealthRegistry();
  const telemetry = createTelemetry('test');
  const role = createNotifierRole({ config, bus: new MemoryBus(), storage, telemetry, health });
  app = createHttpServer(health, telemetry);
  registerNotifierApi(app, role.services, {});
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('notifier API without a token', () => {
  it.each([
    ['POST', '/api/v1/notify', { title: 't', message: 'm', level: 'info' }],
    ['POST', '/api/v1/notify/test/console', {}],
    ['POST', '/api/v1/silences', { matchers: ['host="a"'], endsAt: new Date(Date.now() + 3_600_000).toISOString() }],
    ['DELETE', '/api/v1/silences/abc', undefined],
  ] as const)('refuses %s %s with 403 and says how to enable it', async (method, url, payload) => {
    const res = await app.inject({ method, url, ...(payload ? { payload } : {}) });
    expect(res.statusCode).toBe(403);
    expect(res.json<{ message: string }>().message).toMatch(/VIGIL_API_TOKEN/);
  });

  it('still reads: deliveries and silences', async () => {
    const deliveries = await app.inject({ method: 'GET', url: '/api/v1/deliveries' });
    expect(deliveries.statusCode).toBe(200);
    expect(deliveries.json()).toHaveProperty('deliveries');
    const silences = await app.inject({ method: 'GET', url: '/api/v1/silences' });
    expect(silences.statusCode).toBe(200);
  });
});
