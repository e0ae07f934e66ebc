import { accessPolicy, createHttpServer, createTelemetry, HealthRegistry, parseConfig } from '@vigil/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { registerRulesApi } from '../src/api.js';
import type { RulesRole } from '../src/role.js';

/** The rules API answers failures in the vocabulary every Vigil API speaks. */
describe('rules API errors', () => {
  const config = parseConfig('', { env: { VIGIL_API_TOKEN: 'tok' } });
  const telemetry = createTelemetry('rules-api-test');
  const app = createHttpServer(new HealthRegistry(), telemetry, { access: accessPolicy(config.http) });
  const role = {
    reload: async () => {
      throw new Error('the rule files vanished');
    },
    engine: {
      status: () => {
        throw new Error('boom');
      },
    },
  } as unknown as RulesRole;
  registerRulesApi(app, role);
  afterAll(async () => {
    await app.close();
    await telemetry.shutdown();
  });

  it('an unexpected failure is a 500 `internal` naming where to look, without the error text', async () => {
    for (const [method, url] of [['POST', '/api/v1/rules/reload'], ['GET', '/api/v1/rules']] as const) {
      const res = await app.inject({ method, url, headers: { authorization: 'Bearer tok' } });
      expect(res.statusCode, url).toBe(500);
      expect(res.json(), url).toEqual({ error: 'internal', message: 'unexpected error while answering; see the rules API logs' });
    }
  });

  it('a write without the token is refused before the route runs', async () => {
    expect((await app.inject({ method: 'POST', url: '/api/v1/rules/reload' })).statusCode).toBe(401);
  });
});
