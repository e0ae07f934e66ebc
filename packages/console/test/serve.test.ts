import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthRegistry, accessPolicy, createHttpServer, createTelemetry } from '@vigil/platform';
import { consoleRoutes } from '../src/index.js';

/** The console's files as the query API serves them: public, gzipped when asked, hashed assets cached. */

const dir = mkdtempSync(join(tmpdir(), 'vigil-console-dist-'));
mkdirSync(join(dir, 'dist', 'assets'), { recursive: true });
writeFileSync(join(dir, 'dist', 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc.js"></script>');
writeFileSync(join(dir, 'dist', 'assets', 'index-abc.js'), 'console.log("vigil");'.repeat(50));
const telemetry = createTelemetry('test');

afterAll(async () => {
  await telemetry.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function server(distDir: string) {
  // Tokens configured: the console's files must still answer without one.
  const app = createHttpServer(new HealthRegistry(), telemetry, { access: accessPolicy({ token: 'secret' }) });
  await app.register(consoleRoutes, { dir: distDir });
  return app;
}

describe('consoleRoutes', () => {
  it('serves the page and its assets without a token, gzipped when the browser takes it', async () => {
    const app = await server(join(dir, 'dist'));
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).toContain('/assets/index-abc.js');
    const js = await app.inject({ method: 'GET', url: '/assets/index-abc.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gunzipSync(js.rawPayload).toString()).toBe('console.log("vigil");'.repeat(50));
    expect(js.rawPayload.length).toBeLessThan(200);
    const missing = await app.inject({ method: 'GET', url: '/assets/index-old.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ message: string }>().message).toMatch(/no console asset index-old\.js/);
    // The data stays behind the token.
    expect((await app.inject({ method: 'GET', url: '/api/v1/anything' })).statusCode).toBe(401);
    await app.close();
  });

  it('says how to build the console when it is not built', async () => {
    const app = await server(join(dir, 'nothing'));
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('Run <code>pnpm install</code>');
    await app.close();
  });
});
