import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { accessPolicy, declaredRoutes, decideAccess, describeTokens, installAccessControl, requireAccessControl, type AccessPolicy, type RouteRequest } from '../src/access.js';
import { createHttpServer } from '../src/http.js';
import { HealthRegistry } from '../src/health.js';
import { createTelemetry } from '../src/telemetry/index.js';

const none = accessPolicy({});
const scoped = accessPolicy({
  token: 'main-secret',
  tokens: [
    { name: 'apps', token: 'apps-secret', scopes: ['ingest'] },
    { name: 'grafana', token: 'grafana-secret', scopes: ['read'] },
  ],
});
const route = (scope: RouteRequest['scope'], method = 'GET', url = '/api/v1/x', found = true): RouteRequest => ({ method, url, scope, found });
const bearer = (t: string) => `Bearer ${t}`;
const decide = (policy: AccessPolicy, r: RouteRequest, auth?: string) => decideAccess(policy, r, auth);

describe('decideAccess without tokens (the secure default)', () => {
  it('opens read, ingest and public routes, with or without an Authorization header', () => {
    for (const scope of ['read', 'ingest', 'public'] as const) {
      expect(decide(none, route(scope)).allow).toBe(true);
      expect(decide(none, route(scope), bearer('anything')).allow).toBe(true);
    }
  });

  it('refuses write with 403 naming VIGIL_API_TOKEN, whatever is sent', () => {
    for (const auth of [undefined, bearer('x')]) {
      const v = decide(none, route('write', 'POST', '/api/v1/silences'), auth);
      expect(v).toMatchObject({ allow: false, status: 403, error: 'forbidden' });
      expect(!v.allow && v.message).toMatch(/^POST \/api\/v1\/silences needs a token with the write scope and none is configured: set VIGIL_API_TOKEN/);
    }
  });

  it('lets an unknown path reach its 404', () => {
    expect(decide(none, route(undefined, 'GET', '', false)).allow).toBe(true);
  });
});

describe('decideAccess with tokens', () => {
  it('opens only public routes without a token', () => {
    expect(decide(scoped, route('public')).allow).toBe(true);
    for (const scope of ['read', 'write', 'ingest'] as const) {
      const v = decide(scoped, route(scope));
      expect(v).toMatchObject({ allow: false, status: 401, error: 'unauthorized' });
      expect(!v.allow && v.message).toBe(
        `GET /api/v1/x needs a token with the ${scope} scope: no Authorization header was sent; send it as "Authorization: Bearer <token>" (http.token or an http.tokens entry)`,
      );
    }
  });

  it('answers 401 to a wrong token and to another scheme, without echoing what was sent', () => {
    const wrong = decide(scoped, route('read'), bearer('guess'));
    expect(wrong).toMatchObject({ allow: false, status: 401 });
    expect(!wrong.allow && wrong.message).toMatch(/the token sent is neither http\.token nor one of http\.tokens/);
    expect(!wrong.allow && wrong.message).not.toContain('guess');
    const basic = decide(scoped, route('read'), 'Basic YWxhZGRpbjpvcGVuc2VzYW1l');
    expect(!basic.allow && basic.message).toMatch(/the Authorization header is not "Bearer <token>"/);
    expect(decide(scoped, route('read'), 'Bearer').allow).toBe(false);
    expect(decide(scoped, route('read'), bearer('main-secret-and-more')).allow).toBe(false);
    expect(decide(scoped, route('read'), bearer('main-secre')).allow).toBe(false);
  });

  it('gives http.token every scope', () => {
    for (const scope of ['read', 'write', 'ingest'] as const) expect(decide(scoped, route(scope), bearer('main-secret'))).toEqual({ allow: true, token: 'http.token' });
  });

  it('reads the scheme case-insensitively', () => {
    expect(decide(scoped, route('read'), 'bearer grafana-secret')).toEqual({ allow: true, token: 'grafana' });
  });

  it('answers 403 naming the scope needed and the token, never its secret', () => {
    expect(decide(scoped, route('ingest', 'POST', '/v1/logs'), bearer('apps-secret'))).toEqual({ allow: true, token: 'apps' });
    const v = decide(scoped, route('write', 'POST', '/api/v1/silences'), bearer('apps-secret'));
    expect(v).toEqual({
      allow: false,
      status: 403,
      error: 'forbidden',
      message: 'POST /api/v1/silences needs a token with the write scope; token "apps" has ingest: add write to its scopes in http.tokens, or use a token that has it',
    });
    expect(decide(scoped, route('read'), bearer('apps-secret'))).toMatchObject({ status: 403 });
    expect(decide(scoped, route('ingest'), bearer('grafana-secret'))).toMatchObject({ status: 403 });
  });

  it('asks a token even for a path that does not exist', () => {
    expect(decide(scoped, route(undefined, 'GET', '', false))).toMatchObject({ allow: false, status: 401 });
    expect(decide(scoped, route(undefined, 'GET', '', false), bearer('apps-secret'))).toEqual({ allow: true, token: 'apps' });
  });
});

describe('a route without a scope', () => {
  it('is refused with and without tokens, and with every token', () => {
    for (const [policy, auth] of [[none, undefined], [scoped, undefined], [scoped, bearer('main-secret')]] as const) {
      const v = decide(policy, route(undefined, 'GET', '/new'), auth);
      expect(v).toMatchObject({ allow: false, status: 403, error: 'forbidden' });
      expect(!v.allow && v.message).toMatch(/^GET \/new declares no access scope, so it is refused/);
    }
  });
});

describe('describeTokens', () => {
  it('lists names and scopes, never secrets', () => {
    expect(describeTokens(scoped)).toEqual([
      { name: 'http.token', scopes: ['read', 'write', 'ingest'] },
      { name: 'apps', scopes: ['ingest'] },
      { name: 'grafana', scopes: ['read'] },
    ]);
    expect(JSON.stringify(describeTokens(scoped))).not.toMatch(/secret/);
  });
});

describe('installAccessControl on a fastify server', () => {
  it('checks routes of encapsulated plugins, HEAD routes included, and lists them', async () => {
    const app = Fastify();
    installAccessControl(app, scoped);
    await app.register(async (child) => {
      child.get('/data', { config: { scope: 'read' } }, async () => ({ ok: true }));
      child.post('/forgot', async () => ({ ok: true }));
    }, { prefix: '/api' });
    await app.ready();
    expect(declaredRoutes(app)).toEqual(
      expect.arrayContaining([
        { method: 'GET', url: '/api/data', scope: 'read' },
        { method: 'HEAD', url: '/api/data', scope: 'read' },
        { method: 'POST', url: '/api/forgot', scope: undefined },
      ]),
    );
    const get = (headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => app.inject({ method, url: '/api/data', headers });
    const denied = await get();
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="vigil"');
    expect((await get({}, 'HEAD')).statusCode).toBe(401);
    expect((await get({ authorization: bearer('grafana-secret') })).statusCode).toBe(200);
    expect((await get({ authorization: bearer('grafana-secret') }, 'HEAD')).statusCode).toBe(200);
    expect((await get({ authorization: bearer('apps-secret') })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/forgot', headers: { authorization: bearer('main-secret') } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/nowhere', headers: { authorization: bearer('apps-secret') } })).statusCode).toBe(404);
    await app.close();
  });

  it('is required before an API is added, and installed once', () => {
    const bare = Fastify();
    expect(() => requireAccessControl(bare, 'the query API')).toThrow('the query API: the HTTP server has no access hook');
    const server = createHttpServer(new HealthRegistry(), createTelemetry('access-test'));
    expect(() => requireAccessControl(server, 'x')).not.toThrow();
    expect(() => installAccessControl(server, none)).toThrow(/already has its access hook/);
  });

  it('keeps /health, /health/live and /metrics open when tokens are configured', async () => {
    const server = createHttpServer(new HealthRegistry(), createTelemetry('access-test'), { access: scoped });
    for (const url of ['/health', '/health/live', '/metrics']) expect((await server.inject({ method: 'GET', url })).statusCode).toBe(200);
    expect(declaredRoutes(server).filter((r) => r.method === 'GET').map((r) => [r.url, r.scope])).toEqual([
      ['/health', 'public'],
      ['/health/live', 'public'],
      ['/metrics', 'public'],
    ]);
    await server.close();
  });
});
