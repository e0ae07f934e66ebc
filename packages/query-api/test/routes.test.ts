import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HealthRegistry,
  MemoryBus,
  createHttpServer,
  createTelemetry,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  type RoleContext,
  type Storage,
  type Telemetry,
} from '@vigil/platform';
import { queryApiRoutes, registerQueryApi } from '../src/index.js';

/** Route tests against the real embedded ClickHouse engine: rows go in with plain inserts, answers come out of app.inject(). */

// A whole hour (a multiple of every step used below), recent enough to be inside the 30-day TTL.
const NOW = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
/** DateTime64(9) as the exporter layout takes it: Unix nanoseconds in a string. */
const ns = (ms: number, extraNs = 0) => (BigInt(ms) * 1_000_000n + BigInt(extraNs)).toString();

const POS01 = { 'host.name': 'pos-01', 'host.id': 'id-01', 'os.type': 'linux', 'os.description': 'Ubuntu 24.04', 'service.name': 'vigil-collector' };
const POS02_OLD = { 'host.name': 'pos-02', 'host.id': 'id-02', 'os.type': 'windows', 'service.name': 'vigil-collector' };
const POS02_NEW = { 'host.name': 'pos-02', 'os.type': 'windows', 'service.name': 'vigil-collector' }; // a resource missing host.id

function gauge(resource: Record<string, string>, name: string, attributes: Record<string, string>, ms: number, value: number, extraNs = 0) {
  return { ResourceAttributes: resource, ServiceName: resource['service.name'] ?? '', MetricName: name, Attributes: attributes, TimeUnix: ns(ms, extraNs), Value: value };
}

function log(
  resource: Record<string, string>,
  ms: number,
  fields: { severityText?: string; severityNumber?: number; eventName?: string; body?: string; attributes?: Record<string, string> },
) {
  return {
    Timestamp: ns(ms),
    SeverityText: fields.severityText ?? '',
    SeverityNumber: fields.severityNumber ?? 0,
    ServiceName: resource['service.name'] ?? '',
    Body: fields.body ?? '',
    ResourceAttributes: resource,
    LogAttributes: fields.attributes ?? {},
    EventName: fields.eventName ?? '',
  };
}

interface AlertRowIn {
  fp: string;
  status: 'firing' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  startsAt: number;
  endsAt?: number;
  at: number;
  value: number;
}

function alertRow(a: AlertRowIn) {
  return {
    Fingerprint: a.fp,
    Status: a.status,
    Severity: a.severity,
    Rule: `rule-${a.fp}`,
    Labels: { alertname: `rule-${a.fp}`, host: 'pos-01' },
    Annotations: { summary: `${a.fp} is ${a.status}` },
    StartsAt: a.startsAt,
    EndsAt: a.endsAt ?? 0,
    EventTime: a.at,
    Value: a.value,
    WindowMs: 300_000,
  };
}

function alertItem(a: AlertRowIn) {
  return {
    fingerprint: a.fp,
    status: a.status,
    severity: a.severity,
    labels: { alertname: `rule-${a.fp}`, host: 'pos-01' },
    annotations: { summary: `${a.fp} is ${a.status}` },
    startsAt: iso(a.startsAt),
    ...(a.endsAt ? { endsAt: iso(a.endsAt) } : {}),
    value: a.value,
    rule: `rule-${a.fp}`,
    window: 300_000,
    at: iso(a.at),
  };
}

// Alert history. A: fired and resolved. B: firing (critical), its row replayed in a later insert.
// C: firing for two days. D: resolved, then fired again at the instant of the resolve.
// E: resolved, but its firing was re-published (later Kafka timestamp) after the resolve.
const A_FIRE: AlertRowIn = { fp: 'A', status: 'firing', severity: 'warning', startsAt: NOW - 30 * MIN, at: NOW - 30 * MIN, value: 91 };
const A_RESOLVE: AlertRowIn = { fp: 'A', status: 'resolved', severity: 'warning', startsAt: NOW - 30 * MIN, endsAt: NOW - 10 * MIN, at: NOW - 10 * MIN, value: 40 };
const B_FIRE: AlertRowIn = { fp: 'B', status: 'firing', severity: 'critical', startsAt: NOW - 20 * MIN, at: NOW - 20 * MIN, value: 99.5 };
const C_FIRE: AlertRowIn = { fp: 'C', status: 'firing', severity: 'warning', startsAt: NOW - 2 * DAY, at: NOW - 2 * DAY, value: 75 };
const D_FIRE1: AlertRowIn = { fp: 'D', status: 'firing', severity: 'info', startsAt: NOW - 50 * MIN, at: NOW - 50 * MIN, value: 5 };
const D_RESOLVE1: AlertRowIn = { fp: 'D', status: 'resolved', severity: 'info', startsAt: NOW - 50 * MIN, endsAt: NOW - 5 * MIN, at: NOW - 5 * MIN, value: 1 };
const D_FIRE2: AlertRowIn = { fp: 'D', status: 'firing', severity: 'info', startsAt: NOW - 5 * MIN, at: NOW - 5 * MIN, value: 6 };
const E_RESOLVE: AlertRowIn = { fp: 'E', status: 'resolved', severity: 'warning', startsAt: NOW - 40 * MIN, endsAt: NOW - 35 * MIN, at: NOW - 35 * MIN, value: 2 };
const E_FIRE_REPUBLISHED: AlertRowIn = { fp: 'E', status: 'firing', severity: 'warning', startsAt: NOW - 40 * MIN, at: NOW - 3 * MIN, value: 80 };

let dir: string;
let storage: Storage;
let telemetry: Telemetry;
let app: FastifyInstance;

async function insert(table: string, values: Record<string, unknown>[]) {
  await storage.client.insert({ table: storage.table(table), values, format: 'JSONEachRow' });
}

async function get(url: string) {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-query-api-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * DAY);

  const T0 = NOW - 10 * MIN; // bucket boundary for 10s and 1m steps
  await insert('otel_metrics_gauge', [
    // pos-01 cpu 0/user: bucket T0 has 10 and 30 (avg 20); bucket T0+10s has 90, 50 and 70 (avg 70). Written
    // out of time order so `last` must use the timestamp, not insertion order.
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 + 5_000, 30),
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0, 10),
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 + 15_000, 50, 1), // 1 ns after the point below
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 + 10_000, 90),
    // Same attribute set written in the other key order: the same series.
    gauge(POS01, 'system.cpu.utilization', { state: 'user', cpu: '0' }, T0 + 15_000, 70),
    // Another attribute set: another series.
    gauge(POS01, 'system.cpu.utilization', { cpu: '1', state: 'user' }, T0, 0.25),
    // Another host.
    gauge(POS02_NEW, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 + 2_000, 0.5),
    gauge(POS02_OLD, 'system.cpu.utilization', { cpu: '0', state: 'user' }, NOW - 3 * HOUR, 0.75),
    // Outside [from, to) of the explicit range queries below.
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 - 1, 1000),
    gauge(POS01, 'system.cpu.utilization', { cpu: '0', state: 'user' }, T0 + 20_000, 2000),
    // A host seen two days ago only.
    gauge({ 'host.name': 'pos-old', 'service.name': 'vigil-collector' }, 'system.cpu.utilization', {}, NOW - 2 * DAY, 1),
    // A resource without host.name is not a host.
    gauge({ 'service.name': 'batch-job' }, 'system.cpu.utilization', {}, NOW - MIN, 1),
  ]);
  await insert('otel_metrics_sum', [
    { ...gauge(POS01, 'system.network.io', { direction: 'transmit' }, T0, 1000), IsMonotonic: true, AggregationTemporality: 2 },
    { ...gauge(POS01, 'system.network.io', { direction: 'transmit' }, T0 + 30_000, 1600), IsMonotonic: true, AggregationTemporality: 2 },
  ]);
  const APP01 = { ...POS01, 'service.name': 'pos-app' };
  const APP02 = { 'host.name': 'pos-02', 'service.name': 'pos-app' };
  const APP03 = { 'host.name': 'pos-03', 'host.id': 'id-03', 'os.type': 'windows', 'os.description': 'Windows 11', 'service.name': 'pos-app' };
  await insert('otel_logs', [
    log(APP01, NOW - 4 * MIN, { severityText: 'INFO', severityNumber: 9, eventName: 'app.startup', body: 'started', attributes: { 'app.version': '2.4.1' } }),
    log(APP01, NOW - 2 * MIN, {
      severityText: 'ERROR',
      severityNumber: 17,
      eventName: 'app.error',
      body: 'payment failed',
      attributes: { 'code.function': 'pay', 'code.lineno': '88' },
    }),
    log(APP02, NOW - MIN, { severityText: 'WARNING', body: 'disk almost full' }), // text only, no SeverityNumber
    log(APP03, NOW - 30 * MIN, { severityNumber: 5, body: 'debug detail' }), // number only, no text
    log(APP01, NOW - 2 * HOUR, { severityText: 'FATAL', severityNumber: 21, eventName: 'app.crash', body: 'old crash' }),
  ]);

  // Merges stopped so the replayed row of B stays a duplicate in its own part, as right after a replay.
  await storage.client.command({ query: `SYSTEM STOP MERGES ${storage.table('vigil_alerts')}` });
  await insert('vigil_alerts', [A_FIRE, A_RESOLVE, B_FIRE, C_FIRE, D_FIRE1, D_RESOLVE1, D_FIRE2, E_RESOLVE, E_FIRE_REPUBLISHED].map(alertRow));
  await insert('vigil_alerts', [alertRow(B_FIRE)]);

  telemetry = createTelemetry('test');
  app = createHttpServer(new HealthRegistry(), telemetry);
  await app.register(queryApiRoutes, { storage, now: () => NOW, telemetry });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await telemetry?.shutdown();
  await storage?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/metrics/series', () => {
  const T0 = NOW - 10 * MIN;
  const range = `from=${T0}&to=${T0 + 20_000}`;

  it('averages each step bucket, one series per host and attribute set', async () => {
    const { status, body } = await get(`/api/v1/metrics/series?name=system.cpu.utilization&${range}&step=10s`);
    expect(status).toBe(200);
    expect(body).toEqual({
      name: 'system.cpu.utilization',
      from: T0,
      to: T0 + 20_000,
      step: 10_000,
      agg: 'avg',
      series: [
        { host: 'pos-01', attributes: { cpu: '0', state: 'user' }, points: [[T0, 20], [T0 + 10_000, 70]] },
        { host: 'pos-01', attributes: { cpu: '1', state: 'user' }, points: [[T0, 0.25]] },
        { host: 'pos-02', attributes: { cpu: '0', state: 'user' }, points: [[T0, 0.5]] },
      ],
    });
  });

  it.each([
    ['min', [[T0, 10], [T0 + 10_000, 50]]],
    ['max', [[T0, 30], [T0 + 10_000, 90]]],
    ['sum', [[T0, 40], [T0 + 10_000, 210]]],
    ['last', [[T0, 30], [T0 + 10_000, 50]]], // 50 is 1 ns later than 70
  ])('aggregates by %s', async (agg, points) => {
    const { body } = await get(`/api/v1/metrics/series?name=system.cpu.utilization&host=pos-01&${range}&step=10s&agg=${agg}`);
    expect(body.agg).toBe(agg);
    expect(body.series.find((s: any) => s.attributes.cpu === '0').points).toEqual(points);
  });

  it('filters by host', async () => {
    const { body } = await get(`/api/v1/metrics/series?name=system.cpu.utilization&host=pos-02&${range}&step=10s`);
    expect(body.series).toEqual([{ host: 'pos-02', attributes: { cpu: '0', state: 'user' }, points: [[T0, 0.5]] }]);
  });

  it('buckets on multiples of step since the epoch, counting only points in [from, to)', async () => {
    const { body } = await get(`/api/v1/metrics/series?name=system.cpu.utilization&host=pos-01&from=${T0 + 3_000}&to=${T0 + 20_000}&step=10s`);
    // The first bucket starts at T0 but holds only the point at T0+5s.
    expect(body.series.find((s: any) => s.attributes.cpu === '0').points).toEqual([[T0, 30], [T0 + 10_000, 70]]);
  });

  it('reads sums from otel_metrics_sum', async () => {
    const { body } = await get(`/api/v1/metrics/series?name=system.network.io&from=${T0}&to=${T0 + MIN}&step=1m`);
    expect(body.series).toEqual([{ host: 'pos-01', attributes: { direction: 'transmit' }, points: [[T0, 1300]] }]);
  });

  it('defaults to the last hour at a 15s step', async () => {
    const { body } = await get('/api/v1/metrics/series?name=system.cpu.utilization&host=pos-01');
    expect([body.from, body.to, body.step]).toEqual([NOW - HOUR, NOW, 15_000]);
    // 15s buckets: T0-1 is in the one before T0; T0, T0+5s and T0+10s share one; T0+15s and T0+20s the next.
    expect(body.series.find((s: any) => s.attributes.cpu === '0').points).toEqual([
      [T0 - 15_000, 1000],
      [T0, (10 + 30 + 90) / 3],
      [T0 + 15_000, (50 + 70 + 2000) / 3],
    ]);
  });

  it('answers an unknown metric with no series', async () => {
    const { status, body } = await get(`/api/v1/metrics/series?name=no.such.metric&${range}`);
    expect(status).toBe(200);
    expect(body.series).toEqual([]);
  });

  it('names a missing name', async () => {
    const { status, body } = await get('/api/v1/metrics/series?from=1');
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_parameter', message: 'name: is required (the metric name, e.g. system.cpu.utilization)' });
  });

  it.each([
    ['from=yesterday', 'from: "yesterday" is not a time (use Unix milliseconds or RFC 3339, e.g. 1763780000000 or 2025-11-22T02:53:20Z)'],
    [`from=${NOW}&to=${NOW - 1}`, `from: ${iso(NOW)} is not before to (${iso(NOW - 1)}); give a from earlier than to`],
    ['step=5x', 'step: "5x" is not a duration (use 10s, 1m, 1h)'],
    ['step=100ms', 'step: "100ms" is below the minimum of 1s'],
    [`from=${NOW - DAY}&step=1s`, 'step: "1s" over 1d gives 86400 points, more than the 11000 allowed (use a step of at least 10s, or omit step)'],
    ['agg=median', 'agg: "median" is not allowed (use avg, min, max, sum, last)'],
  ])('refuses %s with 400 naming the parameter', async (query, message) => {
    const { status, body } = await get(`/api/v1/metrics/series?name=system.cpu.utilization&${query}`);
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_parameter', message });
  });
});

describe('GET /api/v1/hosts', () => {
  it('lists each host.name seen in the last 24h with its newest id, OS, last activity and services', async () => {
    const { status, body } = await get('/api/v1/hosts');
    expect(status).toBe(200);
    expect(body).toEqual({
      hosts: [
        // Newest record is the error log at NOW-2m; services from metrics and logs.
        { name: 'pos-01', id: 'id-01', os: 'linux', osDescription: 'Ubuntu 24.04', lastSeen: iso(NOW - 2 * MIN), services: ['pos-app', 'vigil-collector'] },
        // Its newest resources lack host.id: the older one's id is kept.
        { name: 'pos-02', id: 'id-02', os: 'windows', osDescription: '', lastSeen: iso(NOW - MIN), services: ['pos-app', 'vigil-collector'] },
        { name: 'pos-03', id: 'id-03', os: 'windows', osDescription: 'Windows 11', lastSeen: iso(NOW - 30 * MIN), services: ['pos-app'] },
      ],
    });
  });

  it('looks further back with since', async () => {
    const { body } = await get('/api/v1/hosts?since=3d');
    expect(body.hosts.map((h: any) => h.name)).toEqual(['pos-01', 'pos-02', 'pos-03', 'pos-old']);
    expect(body.hosts[3]).toEqual({ name: 'pos-old', id: '', os: '', osDescription: '', lastSeen: iso(NOW - 2 * DAY), services: ['vigil-collector'] });
    const recent = await get('/api/v1/hosts?since=5m');
    expect(recent.body.hosts.map((h: any) => h.name)).toEqual(['pos-01', 'pos-02']);
    // Services seen in the window only (their collectors last reported ~10 minutes ago); identity from before it.
    expect(recent.body.hosts.map((h: any) => [h.services, h.id])).toEqual([[['pos-app'], 'id-01'], [['pos-app'], 'id-02']]);
  });

  it('refuses a since that is not a duration', async () => {
    const { status, body } = await get('/api/v1/hosts?since=today');
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_parameter', message: 'since: "today" is not a duration (use a duration such as 10s, 5m, 1h)' });
  });
});

describe('GET /api/v1/alerts', () => {
  it('the replayed row of B is still two rows in storage (the case the query must collapse)', async () => {
    const rows = await queryRows<{ n: number | string }>(storage, `SELECT count() AS n FROM ${storage.table('vigil_alerts')} WHERE Fingerprint = {fp:String}`, { fp: 'B' });
    expect(Number(rows[0]?.n)).toBe(2);
  });

  it('active: latest transition per fingerprint is firing, most severe first', async () => {
    const { status, body } = await get('/api/v1/alerts');
    expect(status).toBe(200);
    expect(body.active).toEqual([alertItem(B_FIRE), alertItem(C_FIRE), alertItem(D_FIRE2)]);
  });

  it('recent: transitions of the last 24h, newest first, duplicates collapsed', async () => {
    const { body } = await get('/api/v1/alerts');
    // C fired two days ago; D's re-fire sorts before its resolve at the same instant (newer episode).
    expect(body.recent).toEqual([E_FIRE_REPUBLISHED, D_FIRE2, D_RESOLVE1, A_RESOLVE, B_FIRE, A_FIRE, E_RESOLVE, D_FIRE1].map(alertItem));
  });

  it('limits recent and narrows it with since', async () => {
    const limited = await get('/api/v1/alerts?limit=2');
    expect(limited.body.recent).toEqual([alertItem(E_FIRE_REPUBLISHED), alertItem(D_FIRE2)]);
    const lastQuarter = await get('/api/v1/alerts?since=15m');
    expect(lastQuarter.body.recent).toEqual([E_FIRE_REPUBLISHED, D_FIRE2, D_RESOLVE1, A_RESOLVE].map(alertItem));
    expect(lastQuarter.body.active).toHaveLength(3);
    const all = await get('/api/v1/alerts?since=3d');
    expect(all.body.recent.at(-1)).toEqual(alertItem(C_FIRE));
    expect(all.body.recent).toHaveLength(9);
  });

  it.each([
    ['limit=5000', 'limit: 5000 must be <= 1000'],
    ['limit=0', 'limit: 0 must be >= 1'],
    ['limit=many', 'limit: "many" must be integer'],
    ['since=forever', 'since: "forever" is not a duration (use a duration such as 10s, 5m, 1h)'],
  ])('refuses %s with 400', async (query, message) => {
    const { status, body } = await get(`/api/v1/alerts?${query}`);
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_parameter', message });
  });
});

describe('GET /api/v1/events', () => {
  /** What these tests compare: the record without its cursor id, resource and trace id (tested in events.test.ts). */
  const shown = ({ id: _id, resource: _r, traceId: _t, ...e }: Record<string, unknown>) => e;
  const events = async (url: string) => ((await get(url)).body.events as Record<string, unknown>[]).map(shown);
  const startup = {
    timestamp: iso(NOW - 4 * MIN),
    severity: 'INFO',
    severityNumber: 9,
    eventName: 'app.startup',
    body: 'started',
    host: 'pos-01',
    service: 'pos-app',
    attributes: { 'app.version': '2.4.1' },
  };
  const error = {
    timestamp: iso(NOW - 2 * MIN),
    severity: 'ERROR',
    severityNumber: 17,
    eventName: 'app.error',
    body: 'payment failed',
    host: 'pos-01',
    service: 'pos-app',
    attributes: { 'code.function': 'pay', 'code.lineno': '88' },
  };
  const warning = { timestamp: iso(NOW - MIN), severity: 'WARNING', severityNumber: 0, eventName: '', body: 'disk almost full', host: 'pos-02', service: 'pos-app', attributes: {} };
  const debug = { timestamp: iso(NOW - 30 * MIN), severity: 'debug', severityNumber: 5, eventName: '', body: 'debug detail', host: 'pos-03', service: 'pos-app', attributes: {} };

  it('what happened in the last 5 minutes, newest first', async () => {
    const { status, body } = await get('/api/v1/events?since=5m');
    expect(status).toBe(200);
    expect(body.events.map(shown)).toEqual([warning, error, startup]);
    expect(body.next).toBeUndefined();
  });

  it('defaults to the last hour', async () => {
    expect(await events('/api/v1/events')).toEqual([warning, error, startup, debug]);
  });

  it('filters by minimum severity, by number or by text when there is no number', async () => {
    expect(await events('/api/v1/events?severity=warn')).toEqual([warning, error]);
    expect(await events('/api/v1/events?severity=error')).toEqual([error]);
    expect((await get('/api/v1/events?severity=fatal&since=1d')).body.events.map((e: any) => e.body)).toEqual(['old crash']);
  });

  it('filters by host and limits', async () => {
    expect(await events('/api/v1/events?host=pos-01')).toEqual([error, startup]);
    expect(await events('/api/v1/events?limit=1')).toEqual([warning]);
  });

  it('refuses an unknown severity, naming the allowed ones', async () => {
    const { status, body } = await get('/api/v1/events?severity=loud');
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_parameter', message: 'severity: "loud" is not allowed (use trace, debug, info, warn, error, fatal)' });
  });
});

describe('input out of what ClickHouse stores', () => {
  // Each reached the engine and came back as a 503 blaming storage; now a 400 naming the parameter.
  it.each([
    ['/api/v1/metrics/series?name=x&from=9999999999999999', 'from: "9999999999999999" is after any time stored'],
    ['/api/v1/metrics/series?name=x&to=9999-01-01T00:00:00Z', 'to: "9999-01-01T00:00:00Z" is after any time stored'],
    ['/api/v1/metrics/series?name=x&from=1969-12-31T00:00:00Z', 'from: "1969-12-31T00:00:00Z" is before any time stored'],
    ['/api/v1/metrics/series?name=x&step=99999999999999999999w', 'step: "99999999999999999999w" is above the maximum of 3650d'],
    ['/api/v1/hosts?since=99999d', 'since: "99999d" reaches back before 1970-01-01T00:00:00.000Z'],
    [`/api/v1/events?since=${'9'.repeat(400)}d`, 'since: "'],
    ['/api/v1/alerts?since=999999999999999w', 'since: "999999999999999w" is longer than any time stored'],
    ['/api/v1/alerts?limit=1e400', 'limit: '],
    ['/api/v1/events?limit=-1', 'limit: '],
  ])('%s is a 400 naming the parameter', async (url, start) => {
    const { status, body } = await get(url);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message.startsWith(start)).toBe(true);
  });
});

describe('the server around the API', () => {
  it('keeps /health and counts API requests on /metrics', async () => {
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    await get('/api/v1/hosts');
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    const line = metrics.body.split('\n').find((l) => l.startsWith('vigil_query_api_requests_total{') && l.includes('route="/api/v1/hosts"') && l.includes('status="200"'));
    expect(line).toBeDefined();
    expect(Number(line!.split(' ').at(-1))).toBeGreaterThanOrEqual(1);
    expect(metrics.body).toMatch(/^vigil_query_api_request_duration_seconds_count\{route="\/api\/v1\/hosts"\} \d+$/m);
  });
});

describe('when ClickHouse cannot answer', () => {
  it('answers 503 unavailable without the SQL', async () => {
    // Same engine, a database that does not exist: every query fails in ClickHouse itself.
    const broken = openStorage({ database: 'vigil_missing', dataDir: dir });
    const other = createHttpServer(new HealthRegistry(), telemetry);
    await other.register(queryApiRoutes, { storage: broken, now: () => NOW });
    try {
      for (const url of ['/api/v1/hosts', '/api/v1/metrics/series?name=x', '/api/v1/alerts', '/api/v1/events']) {
        const res = await other.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        const body = res.json() as { error: string; message: string };
        expect(body.error).toBe('unavailable');
        expect(body.message).toMatch(/^ClickHouse could not answer the (hosts|metric series|active alerts|recent alerts|events) query; check \/health/);
        expect(body.message).not.toMatch(/SELECT|vigil_missing/);
      }
    } finally {
      await other.close();
      await broken.close();
    }
  });
});

describe('registerQueryApi', () => {
  function context(withStorage: boolean): RoleContext {
    const health = new HealthRegistry();
    return { config: parseConfig('', { env: {} }), bus: new MemoryBus(), telemetry, health, ...(withStorage ? { storage } : {}) };
  }

  it("serves the API on the process's server from the role context", async () => {
    const ctx = context(true);
    const server = createHttpServer(ctx.health, ctx.telemetry);
    registerQueryApi(server, ctx);
    try {
      const res = await server.inject({ method: 'GET', url: '/api/v1/events?since=2h&limit=1' /* real clock: NOW is up to an hour ago */ });
      expect(res.statusCode).toBe(200);
      expect((res.json() as { events: { body: string }[] }).events.map((e) => e.body)).toEqual(['disk almost full']);
    } finally {
      await server.close();
    }
  });

  it('refuses a context without storage, saying so', () => {
    const ctx = context(false);
    const server = createHttpServer(ctx.health, ctx.telemetry);
    expect(() => registerQueryApi(server, ctx)).toThrow('query-api needs ClickHouse storage, but none was opened');
  });
});
