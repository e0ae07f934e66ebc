import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry, createHttpServer, createTelemetry, migrate, openStorage, type Storage, type Telemetry } from '@vigil/platform';
import { queryApiRoutes } from '../src/index.js';
import { readAll } from '../src/read-rows.js';

/**
 * The dashboard APIs (dashboard, health summary, metrics summary, clients, entities, events search,
 * SQL, OpenAPI) against the real embedded ClickHouse: rows go in with plain inserts (the rollups
 * fill through their materialized views), answers come out of app.inject().
 */

const NOW = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
const iso = (ms: number) => new Date(ms).toISOString();

const WEB1 = { 'host.name': 'web-1', 'host.id': 'hid-web-1', 'os.type': 'linux', 'os.description': 'Debian 13', 'service.name': 'vigil-collector' };
const WEB2 = { 'host.name': 'web-2', 'host.id': 'hid-web-2', 'os.type': 'linux', 'service.name': 'vigil-collector' };
const SHOP = { 'host.name': 'web-1', 'service.name': 'shop' };
const POS1 = { 'host.name': 'POS-1', 'host.id': 'hid-pos-1', 'service.instance.id': 'mac-aa', 'service.name': 'pos-app', 'service.version': '2.4.1', 'os.type': 'windows', 'os.description': 'Windows 11' };
const POS2 = { 'host.name': 'POS-2', 'host.id': 'hid-pos-2', 'service.name': 'pos-app', 'os.type': 'windows' };

const point = (resource: Record<string, string>, name: string, attributes: Record<string, string>, ms: number, value: number) => ({
  ResourceAttributes: resource,
  ServiceName: resource['service.name'] ?? '',
  MetricName: name,
  Attributes: attributes,
  TimeUnix: ns(ms),
  StartTimeUnix: ns(NOW - 10 * HOUR),
  Value: value,
});
const sum = (...a: Parameters<typeof point>) => ({ ...point(...a), IsMonotonic: true, AggregationTemporality: 2 });

function log(resource: Record<string, string>, ms: number, f: { sev?: number; text?: string; event?: string; body?: string; attrs?: Record<string, string> }) {
  return {
    Timestamp: ns(ms),
    SeverityText: f.text ?? '',
    SeverityNumber: f.sev ?? 0,
    ServiceName: resource['service.name'] ?? '',
    Body: f.body ?? '',
    ResourceAttributes: resource,
    LogAttributes: f.attrs ?? {},
    EventName: f.event ?? '',
  };
}

const STACK = 'TypeError: total is undefined\n    at pay (/app/checkout.js:88:13)\n    at main (/app/index.js:10:3)';

let dir: string;
let storage: Storage;
let telemetry: Telemetry;
let app: FastifyInstance;
const health = new HealthRegistry();

async function insert(table: string, values: Record<string, unknown>[]) {
  await storage.client.insert({ table: storage.table(table), values, format: 'JSONEachRow' });
}

async function get(url: string) {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

async function sql(body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/sql', payload: body });
  return { status: res.statusCode, text: res.body, type: String(res.headers['content-type']), body: String(res.headers['content-type'] ?? '').includes('json') ? (res.json() as Record<string, any>) : {} };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-console-api-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 24 * HOUR);
  const cpu = (r: Record<string, string>, ms: number, user: number, system: number) => [
    point(r, 'system.cpu.utilization', { 'cpu.mode': 'user' }, ms, user),
    point(r, 'system.cpu.utilization', { 'cpu.mode': 'system' }, ms, system),
    point(r, 'system.cpu.utilization', { 'cpu.mode': 'idle' }, ms, 1 - user - system),
  ];
  await insert('otel_metrics_gauge', [
    ...cpu(WEB1, NOW - 30 * MIN, 0.1, 0.1),
    ...cpu(WEB1, NOW - 2 * MIN, 0.6, 0.35),
    point(WEB1, 'system.memory.utilization', { 'system.memory.state': 'used' }, NOW - 2 * MIN, 0.75),
    point(WEB1, 'system.memory.utilization', { 'system.memory.state': 'free' }, NOW - 2 * MIN, 0.25),
    point(WEB1, 'system.filesystem.utilization', { 'system.filesystem.mountpoint': '/' }, NOW - 2 * MIN, 0.5),
    point(WEB1, 'system.filesystem.utilization', { 'system.filesystem.mountpoint': '/var' }, NOW - 2 * MIN, 0.85),
    point(WEB1, 'system.cpu.load_average.1m', {}, NOW - 2 * MIN, 1.5),
    point(WEB1, 'system.uptime', {}, NOW - 2 * MIN, 1000),
    ...cpu(WEB2, NOW - 20 * MIN, 0.1, 0),
    point(WEB2, 'system.uptime', {}, NOW - 20 * MIN, 50),
    point(SHOP, 'orders.count', { status: 'waiting' }, NOW - 30 * MIN, 5),
    point(SHOP, 'orders.count', { status: 'waiting' }, NOW - 2 * MIN, 12),
    point(SHOP, 'orders.count', { status: 'shipped' }, NOW - 2 * MIN, 30),
    point(WEB1, 'vigil.tunnel.last_activity', { 'tunnel.id': 't1' }, NOW - MIN, (NOW - MIN) / 1000),
  ]);
  await insert('otel_metrics_sum', [
    { ...sum(WEB1, 'system.filesystem.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'free' }, NOW - 2 * MIN, 1e9), IsMonotonic: false },
    sum(WEB1, 'system.network.io', { 'network.io.direction': 'receive' }, NOW - 50 * MIN, 1000),
    sum(WEB1, 'system.network.io', { 'network.io.direction': 'receive' }, NOW - 2 * MIN, 361_000),
    sum(WEB1, 'vigil.tunnel.connections', { 'tunnel.id': 't1' }, NOW - 3 * MIN, 3),
    sum(WEB1, 'vigil.tunnel.connections', { 'tunnel.id': 't1' }, NOW - MIN, 5),
    sum(WEB1, 'vigil.tunnel.received', { 'tunnel.id': 't1' }, NOW - MIN, 2048),
    sum(WEB1, 'vigil.tunnel.errors', { 'tunnel.id': 't1' }, NOW - MIN, 1),
    sum(WEB1, 'vigil.tunnel.connections', { 'tunnel.id': 't2' }, NOW - 40 * MIN, 1),
    // Not an entity: no <kind>.id attribute.
    sum(WEB1, 'vigil.log.errors', { 'vigil.category': 'x' }, NOW - MIN, 4),
  ]);
  await insert('otel_logs', [
    log(POS1, NOW - 50 * MIN, { sev: 9, text: 'INFO', event: 'app.startup', body: 'started' }),
    log(POS1, NOW - 4 * MIN, {
      sev: 17,
      text: 'ERROR',
      event: 'app.error',
      body: 'Payment FAILED for order 17',
      attrs: { 'exception.stacktrace': STACK, 'vigil.error.fingerprint': 'fp1', 'vigil.category': 'application_error' },
    }),
    log(POS1, NOW - 3 * MIN, { sev: 17, text: 'ERROR', event: 'app.error', body: 'payment failed for order 18', attrs: { 'vigil.error.fingerprint': 'fp1', 'vigil.category': 'application_error' } }),
    log(POS1, NOW - 2 * MIN, { sev: 9, text: 'INFO', event: 'app.shutdown', body: 'stopping' }),
    log(POS2, NOW - 3 * HOUR, { sev: 9, event: 'app.startup', body: 'started' }),
    log(POS2, NOW - 3 * HOUR + 1, { sev: 21, body: 'database unreachable', attrs: { 'vigil.error.fingerprint': 'fp2', 'vigil.category': 'database_connection' } }),
    // Five records at the same instant: the cursor must page through them without loss or repeat.
    ...[1, 2, 3, 4, 5].map((n) => log(SHOP, NOW - 10 * MIN, { sev: 9, body: `tick ${n}` })),
  ]);
  const alert = (fp: string, status: string, severity: string, at: number) => ({
    Fingerprint: fp,
    Status: status,
    Severity: severity,
    Rule: `rule-${fp}`,
    Labels: { alertname: `rule-${fp}`, 'host.name': 'web-1' },
    Annotations: { summary: `${fp} ${status}` },
    StartsAt: at,
    EndsAt: status === 'resolved' ? at : 0,
    EventTime: at,
    Value: 1,
    WindowMs: 60_000,
  });
  await insert('vigil_alerts', [alert('a1', 'firing', 'critical', NOW - 5 * MIN), alert('a2', 'firing', 'warning', NOW - 6 * MIN), alert('a3', 'firing', 'info', NOW - 20 * MIN)]);
  await insert('vigil_alerts', [alert('a3', 'resolved', 'info', NOW - 10 * MIN)]);
  const delivery = (key: string, status: string, error: string) => ({
    DeliveryKey: key,
    Channel: 'ops/slack[0]',
    Fingerprint: 'a1',
    Transition: 'firing',
    Severity: 'critical',
    Rule: 'rule-a1',
    Status: status,
    Attempts: status === 'failed' ? 7 : 1,
    Error: error,
    Time: NOW - 4 * MIN,
    Receiver: 'ops',
  });
  await insert('vigil_deliveries', [delivery('k1', 'failed', 'HTTP 500 from hooks.slack.test'), delivery('k2', 'sent', '')]);

  health.register('clickhouse', () => storage.status());
  health.register('bus', () => ({ status: 'degraded', detail: 'ingest has lag' }));
  telemetry = createTelemetry('test');
  app = createHttpServer(health, telemetry);
  await app.register(queryApiRoutes, { storage, now: () => NOW, health, sqlLimits: { timeoutMs: 1_000, maxRows: 50 } });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await telemetry?.shutdown();
  await storage?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/health/summary', () => {
  it("judges each host's latest readings and the dependencies: unhealthy with every finding named", async () => {
    const { status, body } = await get('/api/v1/health/summary');
    expect(status).toBe(200);
    expect(body.status).toBe('unhealthy');
    expect(body.database.status).toBe('up');
    expect(body.dependencies.bus).toEqual({ status: 'degraded', detail: 'ingest has lag' });
    expect(body.findings.map((f: any) => [f.check, f.subject, f.level])).toEqual([
      ['dependency', 'bus', 'warning'],
      ['cpu', 'web-1', 'critical'],
      ['memory', 'web-1', 'warning'],
      ['disk', 'web-1:/var', 'warning'],
    ]);
    expect(body.findings[1].message).toBe('CPU busy on web-1 at 95.0 % (critical at 90.0 %)');
    // web-2's last reading is 20 minutes old: not a current reading.
    expect(body.resources.map((r: any) => r.host)).toEqual(['web-1']);
    const web1 = body.resources[0];
    expect(web1).toMatchObject({ host: 'web-1', status: 'up', memory: 0.75, load1: 1.5 });
    expect(web1.cpu).toBeCloseTo(0.95, 10);
    expect(web1.disks).toEqual([
      { mountpoint: '/', utilization: 0.5, freeBytes: 1e9 },
      { mountpoint: '/var', utilization: 0.85, freeBytes: null },
    ]);
    expect(body.application.counters).toEqual([
      { name: 'orders.count', attributes: { status: 'shipped' }, value: 30 },
      { name: 'orders.count', attributes: { status: 'waiting' }, value: 12 },
    ]);
  });
});

describe('GET /api/v1/dashboard', () => {
  it('health, hosts with status, counts, alerts by level, the last errors and failed deliveries in one call', async () => {
    const { status, body } = await get('/api/v1/dashboard');
    expect(status).toBe(200);
    expect(body.health.status).toBe('unhealthy');
    expect(body.hosts.map((h: any) => [h.name, h.status, h.os, h.id])).toEqual([
      ['web-1', 'up', 'linux', 'hid-web-1'],
      ['web-2', 'stale', 'linux', 'hid-web-2'],
    ]);
    expect(body.hosts[0].disk).toBe(0.85);
    expect(body.metrics).toEqual({ hostsUp: 1, hostsTotal: 2, events5m: 3, errors1h: 2 });
    expect(body.alerts.counts).toEqual({ critical: 1, warning: 1, info: 0 });
    expect(body.alerts.active.map((a: any) => a.fingerprint)).toEqual(['a1', 'a2']);
    expect(body.alerts.recent[0].fingerprint).toBe('a1');
    expect(body.errors.map((e: any) => e.body)).toEqual(['payment failed for order 18', 'Payment FAILED for order 17', 'database unreachable']);
    expect(body.deliveries.failed24h).toBe(1);
    expect(body.deliveries.recentFailed).toEqual([
      { key: 'k1', channel: 'ops/slack[0]', receiver: 'ops', rule: 'rule-a1', severity: 'critical', attempts: 7, lastError: 'HTTP 500 from hooks.slack.test', time: iso(NOW - 4 * MIN) },
    ]);
  });
});

describe('readAll', () => {
  it('answers several queries in one statement as each alone: rows, types, order, parameters of the same name', async () => {
    const reads = {
      logs: { sql: `SELECT Body AS body, LogAttributes AS attrs, SeverityNumber AS sev, toUnixTimestamp64Nano(Timestamp) AS ns FROM ${storage.table('otel_logs')} WHERE Timestamp >= fromUnixTimestamp64Milli({from:Int64}) ORDER BY Timestamp DESC, Body LIMIT {n:UInt32}`, params: { from: NOW - HOUR, n: 6 } },
      again: { sql: `SELECT Body AS body FROM ${storage.table('otel_logs')} WHERE Timestamp >= fromUnixTimestamp64Milli({from:Int64}) ORDER BY Timestamp, Body LIMIT {n:UInt32}`, params: { from: NOW - 24 * HOUR, n: 3 } },
      none: { sql: `SELECT 1 AS x FROM ${storage.table('otel_logs')} WHERE Body = {body:String}`, params: { body: 'no such body' } },
      plain: { sql: 'SELECT number AS n, [number, 2] AS a, map(toString(number), 1.5) AS m FROM system.numbers LIMIT 3' },
    };
    const apart = await readAll(storage, 'test', reads, false);
    const together = await readAll(storage, 'test', reads, true);
    expect(together).toEqual(apart);
    expect(apart.logs.length).toBe(6);
    expect(apart.again.length).toBe(3);
    expect(apart.none).toEqual([]);
    expect(apart.plain[2]).toEqual({ n: 2, a: [2, 2], m: { '2': 1.5 } });
    await expect(readAll(storage, 'broken', { a: { sql: 'SELECT 1' }, b: { sql: 'SELECT nope FROM nowhere' } }, true)).rejects.toThrow('broken');
  });
});

describe('GET /api/v1/dashboard: the last errors', () => {
  it('are the 10 newest, read from the minutes the log counts point to', async () => {
    // A database of its own in the same engine: errors by minute, newest first, 5 (one with text
    // only), 4 and 3, then 2 older. The 10 newest are the first 9 and the newest of the third minute.
    const own = openStorage({ database: 'vigil_last_errors', dataDir: dir });
    await migrate(own, 30 * 24 * HOUR);
    const err = (ms: number, n: number, textOnly = false) =>
      log(POS1, ms, { sev: textOnly ? 0 : 17, text: 'ERROR', body: `error ${n}`, attrs: { 'vigil.error.fingerprint': `fp${n}` } });
    const rows = [
      ...[0, 1, 2, 3].map((i) => err(NOW - 2 * MIN + (4 - i) * 1000, i)),
      err(NOW - 2 * MIN, 4, true),
      ...[5, 6, 7, 8].map((i) => err(NOW - 5 * MIN + (9 - i) * 1000, i)),
      ...[9, 10, 11].map((i) => err(NOW - 9 * MIN + (12 - i) * 1000, i)),
      ...[12, 13].map((i) => err(NOW - 40 * MIN - i * 1000, i)),
      log(POS1, NOW - MIN, { sev: 9, body: 'fine' }),
    ];
    await own.client.insert({ table: own.table('otel_logs'), values: rows, format: 'JSONEachRow' });
    const ownApp = createHttpServer(new HealthRegistry(), telemetry);
    await ownApp.register(queryApiRoutes, { storage: own, now: () => NOW });
    try {
      const res = await ownApp.inject({ method: 'GET', url: '/api/v1/dashboard' });
      expect(res.statusCode).toBe(200);
      expect(res.json().errors.map((e: any) => e.body)).toEqual(Array.from({ length: 10 }, (_, i) => `error ${i}`));
      expect(res.json().metrics.errors1h).toBe(14);
    } finally {
      await ownApp.close();
      await own.close();
    }
  });
});

describe('GET /api/v1/metrics/summary', () => {
  it('averages, maxima and rates per host and for all over the period, counters by status', async () => {
    const { status, body } = await get('/api/v1/metrics/summary?period_hours=1');
    expect(status).toBe(200);
    expect(body).toMatchObject({ periodHours: 1, resolution: '1m', to: NOW + MIN, from: NOW + MIN - HOUR });
    const web1 = body.hosts.find((h: any) => h.host === 'web-1');
    expect(web1.cpu.avg).toBeCloseTo((0.2 + 0.95) / 2, 10);
    expect(web1.cpu.max).toBeCloseTo(0.95, 10);
    expect(web1.memory).toEqual({ avg: 0.75, max: 0.75 });
    expect(web1.disk).toEqual({ avg: 0.85, max: 0.85 });
    expect(web1.networkReceiveBytesPerSecond).toBe(100); // 360,000 bytes over 3,600 s
    expect(body.hosts.map((h: any) => h.host)).toEqual(['web-1', 'web-2']);
    expect(body.all.cpu.max).toBeCloseTo(0.95, 10);
    expect(body.all.cpu.avg).toBeCloseTo((0.2 + 0.95 + 0.1) / 3, 10);
    expect(body.counters).toEqual([
      { name: 'orders.count', group: 'shipped', latest: 30, avg: 30, max: 30, ratePerSecond: null },
      { name: 'orders.count', group: 'waiting', latest: 12, avg: 8.5, max: 12, ratePerSecond: null },
    ]);
  });

  it('reads the hourly rollup beyond two hours, and one host', async () => {
    const { body } = await get('/api/v1/metrics/summary?period_hours=48&host=web-2');
    expect(body.resolution).toBe('1h');
    expect(body.hosts.map((h: any) => h.host)).toEqual(['web-2']);
    expect(body.hosts[0].cpu.avg).toBeCloseTo(0.1, 10);
  });

  it('hourly, the same averages, and the highest memory, disk and load recorded', async () => {
    const [minute, hour] = await Promise.all([get('/api/v1/metrics/summary?period_hours=2'), get('/api/v1/metrics/summary?period_hours=3')]);
    expect([minute.body.resolution, hour.body.resolution]).toEqual(['1m', '1h']);
    const web1 = (b: any) => b.hosts.find((h: any) => h.host === 'web-1');
    for (const k of ['memory', 'disk', 'load1']) expect(web1(hour.body)[k], k).toEqual(web1(minute.body)[k]);
    expect(web1(hour.body).cpu.avg).toBeCloseTo(web1(minute.body).cpu.avg, 10);
    expect(web1(hour.body).load1).toEqual({ avg: 1.5, max: 1.5 });
  });

  it.each([
    ['period_hours=0', 'period_hours: 0 must be >= 1'],
    ['period_hours=169', 'period_hours: 169 must be <= 168'],
    ['period_hours=week', 'period_hours: "week" must be integer'],
    ['group_by=a%20b', 'group_by: "a b" must match pattern'],
  ])('%s is a 400 naming the parameter', async (query, start) => {
    const { status, body } = await get(`/api/v1/metrics/summary?${query}`);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message.startsWith(start), body.message).toBe(true);
  });
});

describe('GET /api/v1/metrics/series from the rollups', () => {
  it('whole-hour steps read the hourly rollup, whole-minute steps the per-minute one, with the same aggregations', async () => {
    const q = `name=system.cpu.utilization&host=web-1&from=${NOW - 2 * HOUR}&to=${NOW}`;
    const user = (body: any) => body.series.find((x: any) => x.attributes['cpu.mode'] === 'user').points;
    expect(user((await get(`/api/v1/metrics/series?${q}&step=1h`)).body)).toEqual([[NOW - HOUR, 0.35]]);
    expect(user((await get(`/api/v1/metrics/series?${q}&step=1h&agg=max`)).body)).toEqual([[NOW - HOUR, 0.6]]);
    expect(user((await get(`/api/v1/metrics/series?${q}&step=1h&agg=last`)).body)).toEqual([[NOW - HOUR, 0.6]]);
    expect(user((await get(`/api/v1/metrics/series?${q}&step=1m`)).body)).toEqual([
      [NOW - 30 * MIN, 0.1],
      [NOW - 2 * MIN, 0.6],
    ]);
  });
});

describe('GET /api/v1/clients', () => {
  it('clients active in the last hour with last activity, version, OS, recent activity and errors', async () => {
    const { status, body } = await get('/api/v1/clients');
    expect(status).toBe(200);
    expect(body.clients).toEqual([
      {
        id: 'mac-aa',
        name: 'POS-1',
        service: 'pos-app',
        version: '2.4.1',
        os: 'windows',
        osDescription: 'Windows 11',
        lastActivity: iso(NOW - 2 * MIN),
        lastEvent: 'app.shutdown',
        events5m: 3,
        errors: 2,
      },
      // web-1's shop service logs too: a client by its host.name.
      expect.objectContaining({ id: 'web-1', service: 'shop', errors: 0, events5m: 0 }),
    ]);
  });

  it('looks further back with since, identifying a client by host.id without service.instance.id', async () => {
    const { body } = await get('/api/v1/clients?since=24h');
    expect(body.clients.map((c: any) => [c.id, c.errors])).toEqual([
      ['mac-aa', 2],
      ['web-1', 0],
      ['hid-pos-2', 1],
    ]);
    expect((await get('/api/v1/clients?since=24h&errors_since=1h')).body.clients.at(-1).errors).toBe(0);
  });

  it('answers the same from the sources rollup (8 days) and from the raw records (beyond them)', async () => {
    const strip = (clients: any[]) => clients.map(({ events5m: _recent, ...c }) => c);
    const rollup = (await get('/api/v1/clients?since=24h&errors_since=24h')).body.clients;
    const raw = (await get('/api/v1/clients?since=30d&errors_since=24h')).body.clients;
    expect(raw.length).toBeGreaterThan(0);
    expect(strip(rollup)).toEqual(strip(raw));
    const hosts = (await get('/api/v1/hosts?since=24h')).body.hosts;
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts).toEqual((await get('/api/v1/hosts?since=30d')).body.hosts);
  });

  it('start/stop history of one client, newest first', async () => {
    const { status, body } = await get('/api/v1/clients/mac-aa/lifecycle');
    expect(status).toBe(200);
    expect(body.id).toBe('mac-aa');
    expect(body.events.map((e: any) => [e.eventName, e.timestamp])).toEqual([
      ['app.shutdown', iso(NOW - 2 * MIN)],
      ['app.startup', iso(NOW - 50 * MIN)],
    ]);
    expect((await get('/api/v1/clients/nobody/lifecycle')).body.events).toEqual([]);
  });

  it('names errors_since when it is not a duration', async () => {
    const { status, body } = await get('/api/v1/clients?errors_since=soon');
    expect(status).toBe(400);
    expect(body.message).toBe('errors_since: "soon" is not a duration (use a duration such as 10s, 5m, 1h)');
  });
});

describe('GET /api/v1/entities', () => {
  it('each counted entity with its newest counters, last activity and uptime', async () => {
    const { status, body } = await get('/api/v1/entities');
    expect(status).toBe(200);
    expect(body.entities).toEqual([
      {
        kind: 'tunnel',
        id: 't1',
        host: 'web-1',
        counters: { connections: 5, errors: 1, last_activity: (NOW - MIN) / 1000, received: 2048 },
        firstSeen: iso(NOW - 3 * MIN),
        lastSeen: iso(NOW - MIN),
        lastActivity: iso(NOW - MIN),
        uptimeSeconds: 120,
      },
      { kind: 'tunnel', id: 't2', host: 'web-1', counters: { connections: 1 }, firstSeen: iso(NOW - 40 * MIN), lastSeen: iso(NOW - 40 * MIN), uptimeSeconds: 0 },
    ]);
    expect((await get('/api/v1/entities?kind=printer')).body.entities).toEqual([]);
    expect((await get('/api/v1/entities?since=30m')).body.entities.map((e: any) => e.id)).toEqual(['t1']);
  });
});

describe('GET /api/v1/events: search, filters, cursor, fingerprint groups', () => {
  const bodies = async (q: string) => (await get(`/api/v1/events?since=24h&${q}`)).body.events.map((e: any) => e.body);

  it('finds text case-insensitively, and filters by category, fingerprint, service, event and host', async () => {
    expect(await bodies('q=payment%20failed')).toEqual(['payment failed for order 18', 'Payment FAILED for order 17']);
    expect(await bodies('category=database_connection')).toEqual(['database unreachable']);
    expect(await bodies('fingerprint=fp1&q=17')).toEqual(['Payment FAILED for order 17']);
    expect(await bodies('event=app.startup')).toEqual(['started', 'started']);
    expect(await bodies('event=app.startup&host=POS-2')).toEqual(['started']);
    expect((await bodies('service=shop')).length).toBe(5);
  });

  it('carries all attributes, the stack trace and the resource of a record', async () => {
    const { body } = await get('/api/v1/events?fingerprint=fp1&q=17');
    expect(body.events[0].attributes['exception.stacktrace']).toBe(STACK);
    expect(body.events[0].resource['service.instance.id']).toBe('mac-aa');
  });

  it('pages with a cursor through records of the same instant, in a stable order, without loss or repeat', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await get(`/api/v1/events?service=shop&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      seen.push(...body.events.map((e: any) => e.body));
      cursor = body.next;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5']);
    // Same pages again: the order is stable.
    const again = await get('/api/v1/events?service=shop&limit=2');
    expect(again.body.events.map((e: any) => e.body)).toEqual(seen.slice(0, 2));
  });

  it('pages a long window newest first across the slices it is searched in, the same as one page', async () => {
    const all = (await get('/api/v1/events?since=24h&limit=100')).body.events.map((e: any) => e.id);
    expect(all.length).toBe(11);
    for (const limit of [2, 3]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const { body } = await get(`/api/v1/events?since=24h&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...body.events.map((e: any) => e.id));
        cursor = body.next;
      } while (cursor && seen.length < 50);
      expect(seen).toEqual(all);
    }
    // The last hour holds 9 of them: a page of 10 takes the first from the next slice (3 hours ago).
    const ten = (await get('/api/v1/events?since=24h&limit=10')).body.events;
    expect(ten.map((e: any) => e.id)).toEqual(all.slice(0, 10));
    expect(ten[9].timestamp).toBe(iso(NOW - 3 * HOUR + 1));
  });

  it('groups errors by fingerprint: which, how often, since when', async () => {
    const { body } = await get('/api/v1/events?since=24h&group=fingerprint');
    expect(body.events).toEqual([]);
    expect(body.groups).toEqual([
      {
        fingerprint: 'fp1',
        count: 2,
        firstSeen: iso(NOW - 4 * MIN),
        lastSeen: iso(NOW - 3 * MIN),
        body: 'payment failed for order 18',
        eventName: 'app.error',
        severity: 'error',
        hosts: ['POS-1'],
        services: ['pos-app'],
      },
      expect.objectContaining({ fingerprint: 'fp2', count: 1, severity: 'fatal', hosts: ['POS-2'] }),
    ]);
  });

  it.each([
    ['cursor=abc', 'cursor: "abc" is not a cursor of this API'],
    [`cursor=${Buffer.from('99999999999999999999.1').toString('base64url')}`, 'cursor: '],
    ['group=host', 'group: "host" is not allowed (use fingerprint)'],
    [`q=${'x'.repeat(201)}`, 'q: '],
    [`from=${NOW}&to=${NOW - 1}`, 'from: '],
  ])('%s is a 400 naming the parameter', async (query, start) => {
    const { status, body } = await get(`/api/v1/events?${query}`);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message.startsWith(start)).toBe(true);
  });
});

describe('POST /api/v1/sql', () => {
  it('leaves the engine writable: its limits hold for its own query only (the embedded engine has one session)', async () => {
    expect((await sql({ query: 'SELECT 1 AS one' })).status).toBe(200);
    await storage.client.command({ query: `CREATE TABLE IF NOT EXISTS ${storage.table('sql_probe')} (x UInt8) ENGINE = Memory` });
    await storage.client.insert({ table: storage.table('sql_probe'), values: [{ x: 1 }], format: 'JSONEachRow' });
    await storage.client.command({ query: `DROP TABLE ${storage.table('sql_probe')}` });
    // A query over the row limit is still refused by the limits in its own SETTINGS.
    const big = await sql({ query: 'SELECT number FROM system.numbers LIMIT 100000000' });
    expect(big.status).toBe(400);
  });

  it("answers a SELECT over Vigil's tables as JSON, and as CSV", async () => {
    const q = "SELECT Body AS body, SeverityNumber AS sev FROM vigil.otel_logs WHERE ServiceName = 'pos-app' AND SeverityNumber >= 17 ORDER BY Timestamp";
    const { status, body } = await sql({ query: `${q};` });
    expect(status).toBe(200);
    expect(body.columns).toEqual([{ name: 'body', type: 'String' }, { name: 'sev', type: 'UInt8' }]);
    expect(body.rows).toEqual([
      { body: 'database unreachable', sev: 21 },
      { body: 'Payment FAILED for order 17', sev: 17 },
      { body: 'payment failed for order 18', sev: 17 },
    ]);
    expect(body.rowCount).toBe(3);
    const csv = await sql({ query: q, format: 'csv' });
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    expect(csv.text.split('\n').slice(0, 2)).toEqual(['"body","sev"', '"database unreachable",21']);
    expect((await sql({ query: 'SELECT 1 AS one' })).body.rows).toEqual([{ one: 1 }]);
  });

  it.each([
    ["INSERT INTO vigil.vigil_alerts (Fingerprint) VALUES ('x')", 'query: starts with "INSERT": only SELECT'],
    ['SYSTEM STOP MERGES', 'query: starts with "SYSTEM": only SELECT'],
    ['DROP TABLE vigil.otel_logs', 'query: starts with "DROP"'],
    ['SELECT 1; DROP TABLE vigil.otel_logs', 'query: holds more than one statement'],
    ['SELECT name FROM system.tables', "query: reads system.tables: only Vigil's tables (vigil.*)"],
    ["SELECT count() FROM vigil.otel_logs WHERE Body IN (SELECT name FROM system.users)", 'query: reads system.users'],
  ])('refuses %s naming why', async (query, start) => {
    const { status, body } = await sql({ query });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message.startsWith(start), body.message).toBe(true);
  });

  it.each([
    ['SELECT * FROM otel_logs', /Unknown table.*; name tables with their database, e\.g\. vigil\.otel_logs$/],
  ])('the engine refuses %s, saying why', async (query, message) => {
    const { status, body } = await sql({ query });
    expect(status).toBe(400);
    expect(body.error).toBe('query_refused');
    expect(body.message).toMatch(message);
  });

  it.each([
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", /^query: uses the table function file\(\)/],
    ["SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')", /^query: uses the table function url\(\)/],
  ])('refuses %s before the engine runs it, saying why', async (query, message) => {
    const { status, body } = await sql({ query });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message).toMatch(message);
  });

  it('runs with readonly=1: a query may not lift its own limits', async () => {
    const { status, body } = await sql({ query: 'SELECT 1 SETTINGS readonly = 0' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_parameter');
    expect(body.message).toMatch(/^query: has a SETTINGS clause/);
    // A setting's name in a string is data, not a clause.
    expect((await sql({ query: "SELECT 'SETTINGS' AS s" })).body.rows).toEqual([{ s: 'SETTINGS' }]);
  });

  it('stops a runaway query at the time limit and a result over the row limit', async () => {
    const started = Date.now();
    const slow = await sql({ query: 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 42' });
    expect(slow.status).toBe(400);
    expect(slow.body).toMatchObject({ error: 'query_refused' });
    expect(slow.body.message).toMatch(/^the query ran longer than 1 s and was stopped/);
    expect(Date.now() - started).toBeLessThan(15_000);
    const big = await sql({ query: 'SELECT number FROM numbers(1000)' });
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/^the result is larger than 50 rows/);
  });

  it('names the missing query and an unknown format', async () => {
    expect((await sql({})).body.message).toMatch(/^query: is required/);
    expect((await sql({ query: 'SELECT 1', format: 'xml' })).body.message).toBe('format: "xml" is not allowed (use json, csv)');
  });
});

describe('GET /openapi.json', () => {
  it('describes every route from its schemas, with its scope, and no data', async () => {
    const { status, body } = await get('/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    const paths = Object.keys(body.paths);
    for (const p of [
      '/api/v1/dashboard',
      '/api/v1/health/summary',
      '/api/v1/metrics/summary',
      '/api/v1/metrics/series',
      '/api/v1/clients',
      '/api/v1/clients/{id}/lifecycle',
      '/api/v1/entities',
      '/api/v1/events',
      '/api/v1/sql',
      '/api/v1/hosts',
      '/api/v1/alerts',
      '/health',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(paths).not.toContain('/openapi.json');
    const summary = body.paths['/api/v1/metrics/summary'].get;
    expect(summary['x-vigil-scope']).toBe('read');
    expect(summary.parameters.find((p: any) => p.name === 'period_hours')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 168 } });
    expect(body.paths['/api/v1/clients/{id}/lifecycle'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
    expect(body.paths['/api/v1/sql'].post.requestBody.content['application/json'].schema.required).toEqual(['query']);
    expect(body.paths['/health'].get.security).toEqual([]);
  });
});
