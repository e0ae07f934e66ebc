import { gzipSync } from 'node:zlib';
import { HealthRegistry, accessPolicy, createHttpServer, createTelemetry } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { registerIntake, type IntakeSink } from '../src/plugins/otlp/intake.js';
import type { Pressure } from '../src/plugin.js';

const gauge = (n = 1) =>
  JSON.stringify({
    resourceMetrics: [{ resource: { attributes: [{ key: 'host.id', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: Array.from({ length: n }, (_, i) => ({ asInt: String(i) })) } }] }] }],
  });

function server(sink: Partial<IntakeSink> & { pressure?: () => Pressure | undefined }, maxInFlightBytes?: number) {
  const app = createHttpServer(new HealthRegistry(), createTelemetry('test'), { access: accessPolicy({}) });
  const received: Buffer[] = [];
  const full: IntakeSink = {
    otlp: async (_s, payload) => void received.push(payload),
    logs: async () => undefined,
    ...sink,
  };
  registerIntake(app, { sink: () => full, ...(maxInFlightBytes ? { maxInFlightBytes } : {}) });
  return { app, received };
}

describe('intake backpressure', () => {
  it('answers 429 with Retry-After while the pipeline says it cannot keep up, and takes records again after', async () => {
    let pressure: Pressure | undefined = { retryAfterSeconds: 5, reason: '300000000 bytes wait to be stored' };
    const { app, received } = server({ pressure: () => pressure });
    const refused = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: gauge() });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ error: 'too_many_requests', message: expect.stringMatching(/300000000 bytes wait to be stored/) });
    const events = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: { message: 'x' } });
    expect(events.statusCode).toBe(429);
    expect(received).toHaveLength(0);
    pressure = undefined;
    const ok = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: gauge() });
    expect(ok.statusCode).toBe(200);
    expect(received).toHaveLength(1);
  });

  it('bounds the bytes handled at once: a request beyond the budget waits its turn (429), one alone always goes', async () => {
    const body = gauge(1_000); // ~30 kB
    const zipped = gzipSync(body);
    // Room for one plain body and four times the compressed one: a gzip body counts as 8x its size.
    const budget = Buffer.byteLength(body) + 4 * zipped.length;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { app } = server({ otlp: () => held }, budget);
    const json = { 'content-type': 'application/json' };
    const first = app.inject({ method: 'POST', url: '/v1/metrics', headers: json, payload: body });
    await new Promise((r) => setTimeout(r, 50));
    const second = await app.inject({ method: 'POST', url: '/v1/metrics', headers: json, payload: body });
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json<{ message: string }>().message).toMatch(/the intake is handling \d+ bytes of requests/);
    const third = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { ...json, 'content-encoding': 'gzip' }, payload: zipped });
    expect(third.statusCode).toBe(429);
    release();
    expect((await first).statusCode).toBe(200);
    // Nothing in flight: the same requests go.
    expect((await app.inject({ method: 'POST', url: '/v1/metrics', headers: { ...json, 'content-encoding': 'gzip' }, payload: zipped })).statusCode).toBe(200);
    const tiny = server({}, 10).app;
    expect((await tiny.inject({ method: 'POST', url: '/v1/metrics', headers: json, payload: body })).statusCode).toBe(200);
  });

  it('answers a partly storable request with OTLP partial success, naming what it left out', async () => {
    const { app, received } = server({});
    const body = JSON.stringify({ resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asInt: '1' }, { timeUnixNano: 'abc', asInt: '2' }] } }] }] }] });
    const r = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: body });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      partialSuccess: { rejectedDataPoints: '1', errorMessage: '1 record left out: resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1].timeUnixNano: "abc" is not a time in Unix nanoseconds (a whole number >= 0)' },
    });
    expect(JSON.parse(received[0]!.toString()).resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints).toHaveLength(1);
    const none = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { 'content-type': 'application/json' }, payload: body.replace('{"asInt":"1"},', '') });
    expect(none.statusCode).toBe(400);
    expect(none.json<{ message: string }>().message).toMatch(/timeUnixNano: "abc"/);
  });
});
