import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_NAMES, runVigil, type RunningVigil } from '@vigil/cli';
import { loadDist } from '@vigil/console';
import { declaredRoutes, parseConfig, SCOPES, type DeclaredRoute, type RouteScope, type Scope } from '@vigil/platform';

/**
 * The auth matrix: every route of the all-in-one's HTTP server, as the server lists them (so a
 * route added later is in it), called with no token, a wrong token and a token of each scope.
 * A route without a scope, or one missing from EXPECTED, fails here.
 */

/** What each route must declare. A new route goes here, with the scope its data or effect needs. */
const EXPECTED: Record<string, RouteScope> = {
  'GET /health': 'public',
  'GET /health/live': 'public',
  'GET /metrics': 'public',
  'GET /api/v1/hosts': 'read',
  'GET /api/v1/metrics/series': 'read',
  'GET /api/v1/alerts': 'read',
  'GET /api/v1/events': 'read',
  'GET /api/v1/metrics/summary': 'read',
  'GET /api/v1/dashboard': 'read',
  'GET /api/v1/health/summary': 'read',
  'GET /api/v1/clients': 'read',
  'GET /api/v1/clients/:id/lifecycle': 'read',
  'GET /api/v1/entities': 'read',
  'POST /api/v1/sql': 'read',
  'GET /openapi.json': 'public',
  'GET /': 'public',
  'GET /assets/*': 'public',
  'GET /api/v1/deliveries': 'read',
  'GET /api/v1/silences': 'read',
  'POST /api/v1/notify/preview': 'read',
  'POST /api/v1/notify': 'write',
  'POST /api/v1/notify/test/:channel': 'write',
  'POST /api/v1/silences': 'write',
  'DELETE /api/v1/silences/:id': 'write',
  'POST /api/v2/alerts': 'ingest',
  'GET /api/v2/alerts': 'read',
  'GET /api/v2/alerts/groups': 'read',
  'GET /api/v2/silences': 'read',
  'POST /api/v2/silences': 'write',
  'GET /api/v2/silence/:id': 'read',
  'DELETE /api/v2/silence/:id': 'write',
  'GET /api/v2/receivers': 'read',
  'GET /api/v2/status': 'read',
  'GET /api/v1/rules': 'read',
  'POST /api/v1/rules/reload': 'write',
  'POST /v1/metrics': 'ingest',
  'POST /v1/logs': 'ingest',
  'POST /v1/events': 'ingest',
};

const TOKENS: Record<Scope | 'all', string> = { all: 'main-secret', read: 'read-secret', write: 'write-secret', ingest: 'ingest-secret' };

const key = (r: Pick<DeclaredRoute, 'method' | 'url'>) => `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`;

let dir: string;

/** An all-in-one process on port 0 (one at a time: the embedded engine is one per process); `http` holds more lines under `http:`. */
async function start(http: string[], env: NodeJS.ProcessEnv): Promise<RunningVigil> {
  const yaml = [`dataDir: ${dir}`, 'http:', '  port: 0', ...http, 'collector:', '  host:', '    enabled: false', ''].join('\n');
  const vigil = await runVigil(parseConfig(yaml, { env, source: 'vigil.yaml' }), { mode: 'all-in-one', roles: [...ROLE_NAMES] });
  await vigil.started;
  return vigil;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-auth-matrix-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A file of the built console, for `/assets/*` (public like the page). */
const CONSOLE_ASSET = [...loadDist().keys()].find((k) => k.startsWith('/assets/')) ?? '/assets/console-not-built';

/** A concrete request for a route: path parameters filled, a JSON body where one is taken. */
function request(r: DeclaredRoute, authorization?: string) {
  const url = r.url.replace(':channel', 'console').replace(':id', 'no-such-silence').replace('/assets/*', CONSOLE_ASSET);
  const body = r.method === 'POST' ? { payload: '{}', headers: { 'content-type': 'application/json' } } : { headers: {} };
  return { method: r.method as 'GET', url, payload: body.payload, headers: { ...body.headers, ...(authorization ? { authorization } : {}) } };
}

describe('auth matrix with tokens configured', () => {
  let vigil: RunningVigil;
  beforeAll(async () => {
    vigil = await start(
      [
        '  tokens:',
        '    - { name: reader, token: "${READ_TOKEN}", scopes: [read] }',
        '    - { name: writer, token: "${WRITE_TOKEN}", scopes: [write] }',
        '    - { name: apps, token: "${INGEST_TOKEN}", scopes: [ingest] }',
      ],
      { VIGIL_API_TOKEN: TOKENS.all, READ_TOKEN: TOKENS.read, WRITE_TOKEN: TOKENS.write, INGEST_TOKEN: TOKENS.ingest },
    );
  }, 120_000);
  afterAll(async () => {
    await vigil?.stop();
  });

  it('every route declares the scope expected of it, and nothing else is public', () => {
    const routes = declaredRoutes(vigil.app);
    expect(routes.filter((r) => r.scope === undefined).map(key), 'routes without a scope (declare config.scope)').toEqual([]);
    expect(Object.fromEntries(routes.map((r) => [key(r), r.scope]))).toEqual(EXPECTED);
  });

  it('401 without or with a wrong token, 403 without the scope, through with it', async () => {
    let checked = 0;
    for (const r of declaredRoutes(vigil.app)) {
      const ask = async (authorization?: string) => (await vigil.app.inject(request(r, authorization))).statusCode;
      const at = `${r.method} ${r.url}`;
      if (r.scope === 'public') {
        expect([200, 503], at).toContain(await ask());
        continue;
      }
      expect(await ask(), `${at} without a token`).toBe(401);
      expect(await ask('Bearer wrong-secret'), `${at} with a wrong token`).toBe(401);
      expect(await ask(TOKENS.all), `${at} with a bare token (no Bearer)`).toBe(401);
      expect(await ask(`Bearer ${TOKENS.all}`), `${at} with http.token`).not.toBeOneOf([401, 403]);
      for (const s of SCOPES) {
        const status = await ask(`Bearer ${TOKENS[s]}`);
        if (s === r.scope) expect(status, `${at} with a ${s} token`).not.toBeOneOf([401, 403]);
        else expect(status, `${at} with a ${s} token`).toBe(403);
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(Object.values(EXPECTED).filter((s) => s !== 'public').length);
  });

  it('asks a token of a path that does not exist', async () => {
    expect((await vigil.app.inject({ method: 'GET', url: '/api/v1/nothing' })).statusCode).toBe(401);
    expect((await vigil.app.inject({ method: 'GET', url: '/api/v1/nothing', headers: { authorization: `Bearer ${TOKENS.read}` } })).statusCode).toBe(404);
  });
});

describe('auth matrix with no token configured', () => {
  let vigil: RunningVigil;
  beforeAll(async () => {
    vigil = await start([], {});
  }, 120_000);
  afterAll(async () => {
    await vigil?.stop();
  });

  it('reads and ingest open, writes 403 naming VIGIL_API_TOKEN, a sent token ignored', async () => {
    for (const r of declaredRoutes(vigil.app)) {
      for (const authorization of [undefined, 'Bearer anything']) {
        const res = await vigil.app.inject(request(r, authorization));
        const at = `${r.method} ${r.url}`;
        if (r.scope === 'write') {
          expect(res.statusCode, at).toBe(403);
          expect(res.json<{ message: string }>().message, at).toMatch(/VIGIL_API_TOKEN/);
        } else expect(res.statusCode, at).not.toBeOneOf([401, 403]);
      }
    }
    expect((await vigil.app.inject({ method: 'GET', url: '/api/v1/nothing' })).statusCode).toBe(404);
  });
});
