import { describe, expect, it } from 'vitest';
import { HealthRegistry } from '../src/health.js';
import { createHttpServer } from '../src/http.js';
import { createTelemetry } from '../src/telemetry/index.js';

describe('health', () => {
  it('is ready when every dependency is up or degraded, and not while one is starting or down', () => {
    const states: Record<string, 'up' | 'degraded' | 'down' | 'starting'> = { kafka: 'up', spool: 'up' };
    const health = new HealthRegistry();
    for (const name of Object.keys(states)) health.register(name, () => ({ status: states[name]! }));
    expect(health.report().status).toBe('ok');
    states.spool = 'degraded';
    expect(health.report().status).toBe('degraded');
    states.kafka = 'starting';
    expect(health.report().status).toBe('starting');
    states.kafka = 'down';
    expect(health.report().status).toBe('unavailable');
  });

  it('a check that throws is down, with its message', () => {
    const health = new HealthRegistry();
    health.register('storage', () => {
      throw new Error('no answer');
    });
    expect(health.report()).toEqual({ status: 'unavailable', checks: { storage: { status: 'down', detail: 'no answer' } } });
  });

  it('/health answers 200 while degraded and 503 while down', async () => {
    let status: 'degraded' | 'down' = 'degraded';
    const health = new HealthRegistry();
    health.register('spool', () => ({ status, detail: '12 records wait on disk' }));
    const app = createHttpServer(health, createTelemetry('test'));
    const degraded = await app.inject({ url: '/health' });
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json()).toEqual({ status: 'degraded', checks: { spool: { status: 'degraded', detail: '12 records wait on disk' } } });
    status = 'down';
    expect((await app.inject({ url: '/health' })).statusCode).toBe(503);
    await app.close();
  });
});
