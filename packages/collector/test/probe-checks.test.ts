import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { SeverityNumber, type Attributes } from '@opentelemetry/api';
import { checkSection } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from '../../../test/harness/index.js';
import { httpCheck, postgresCheck, probePlugin, redisCheck, tcpCheck } from '../src/plugins/probe/index.js';
import type { PluginContext } from '../src/plugin.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const REDIS = '/usr/bin/redis-server';

const dir = mkdtempSync(join(tmpdir(), 'vigil-probe-'));
let http: Server;
let https: Server;
let tcp: TcpServer;
let httpPort = 0;
let httpsPort = 0;
let tcpPort = 0;
let pgPort = 0;
let pgDir = '';
let redisPort = 0;
let redis: ChildProcess | undefined;
let pgStarted = false;
let toggle = 200;

function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  const u = new URL(req.url ?? '/', 'http://x');
  const delay = Number(u.searchParams.get('delay') ?? 0);
  setTimeout(() => {
    if (u.pathname === '/ok') return res.end('{"status":"ok"}');
    if (u.pathname === '/down') return res.writeHead(503).end('{"status":"down"}');
    if (u.pathname === '/toggle') return res.writeHead(toggle).end('toggle');
    res.writeHead(404).end();
  }, delay);
}

beforeAll(async () => {
  // A self-signed certificate valid 42 days, made now with the openssl CLI.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '42', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  http = createHttpServer(handler);
  https = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, handler);
  tcp = createTcpServer((s) => s.end());
  [httpPort, httpsPort, tcpPort, pgPort, redisPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  await Promise.all([
    new Promise<void>((r) => http.listen(httpPort, '127.0.0.1', r)),
    new Promise<void>((r) => https.listen(httpsPort, '127.0.0.1', r)),
    new Promise<void>((r) => tcp.listen(tcpPort, '127.0.0.1', r)),
  ]);

  if (!existsSync(REDIS)) throw new Error(`${REDIS} is missing: install the Debian package redis-server`);
  redis = spawn(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });

  // A throwaway PostgreSQL cluster; we are root, so initdb and postgres run as the postgres user.
  if (!existsSync(`${PG_BIN}/initdb`)) throw new Error(`${PG_BIN}/initdb is missing: install the Debian package postgresql-15`);
  pgDir = join(dir, 'pg');
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length > 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (args: string[]) => execFileSync(asPostgres[0] ?? args[0]!, (asPostgres.length > 0 ? asPostgres.slice(1).concat(args) : args.slice(1)), { stdio: 'pipe' });
  run([`${PG_BIN}/initdb`, '-D', pgDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  run([`${PG_BIN}/pg_ctl`, '-D', pgDir, '-w', '-l', join(dir, 'pg.log'), '-o', `-p ${pgPort} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  pgStarted = true;
  await eventually('redis answering', () => redisCheck(`redis://127.0.0.1:${redisPort}`, 1000), (o) => o.error === undefined, 10_000, 100);
}, 60_000);

afterAll(async () => {
  if (pgStarted) {
    const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    const args = [`${PG_BIN}/pg_ctl`, '-D', pgDir, '-m', 'immediate', 'stop'];
    execFileSync(asPostgres[0] ?? args[0]!, asPostgres.length > 0 ? asPostgres.slice(1).concat(args) : args.slice(1), { stdio: 'ignore' });
  }
  redis?.kill('SIGTERM');
  await Promise.all([http, https].map((s) => new Promise<void>((r) => s.close(() => r()))));
  tcp.close();
  rmSync(dir, { recursive: true, force: true });
});

const HTTP = { method: 'GET', headers: {}, timeoutMs: 2000, expectStatus: [] as number[], insecureSkipVerify: false };

describe('probe checks against real servers', () => {
  it('HTTP: status, body match, expected statuses, latency, timeout', async () => {
    const ok = await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/ok`, bodyMatch: /"status":"ok"/ });
    expect(ok.error).toBeUndefined();
    expect(ok.statusCode).toBe(200);
    expect(ok.latencyMs).toBeGreaterThan(0);
    expect(ok.latencyMs).toBeLessThan(500);
    expect((await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/ok`, bodyMatch: /"status":"fine"/ })).error).toBe('the body does not match /"status":"fine"/');
    const down = await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/down` });
    expect([down.error, down.statusCode]).toEqual(['HTTP 503 (expected 2xx or 3xx)', 503]);
    expect((await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/down`, expectStatus: [503] })).error).toBeUndefined();
    const slow = await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/ok?delay=300` });
    expect(slow.error).toBeUndefined();
    expect(slow.latencyMs).toBeGreaterThanOrEqual(295);
    const late = await httpCheck({ ...HTTP, url: `http://127.0.0.1:${httpPort}/ok?delay=1000`, timeoutMs: 200 });
    expect(late.error).toBe('no answer within 200 ms');
  });

  it('HTTPS: the certificate is verified, and its days left are read from the handshake', async () => {
    const url = `https://127.0.0.1:${httpsPort}/ok`;
    const untrusted = await httpCheck({ ...HTTP, url });
    expect(untrusted.error).toMatch(/self[- ]signed/i);
    const trusted = await httpCheck({ ...HTTP, url, ca: readFileSync(join(dir, 'cert.pem'), 'utf8') });
    expect(trusted.error).toBeUndefined();
    expect(trusted.tlsDaysLeft).toBeGreaterThanOrEqual(41);
    expect(trusted.tlsDaysLeft).toBeLessThanOrEqual(42);
    expect((await httpCheck({ ...HTTP, url, insecureSkipVerify: true })).tlsDaysLeft).toBe(trusted.tlsDaysLeft);
  });

  it('TCP: connects to a listener; a closed port is refused', async () => {
    expect((await tcpCheck(`tcp://127.0.0.1:${tcpPort}`, 1000)).error).toBeUndefined();
    const closed = await freePort();
    expect((await tcpCheck(`tcp://127.0.0.1:${closed}`, 1000)).error).toBe('connection refused');
    expect((await httpCheck({ ...HTTP, url: `http://127.0.0.1:${closed}/` })).error).toBe('connection refused');
  });

  it('PostgreSQL: connect and SELECT 1 on a real server; a wrong database or a closed port fails', async () => {
    const ok = await postgresCheck(`postgres://postgres@127.0.0.1:${pgPort}/postgres`, 3000);
    expect(ok.error).toBeUndefined();
    expect(ok.latencyMs).toBeGreaterThan(0);
    expect((await postgresCheck(`postgres://postgres@127.0.0.1:${pgPort}/nosuchdb`, 3000)).error).toMatch(/database "nosuchdb" does not exist/);
    const closed = await freePort();
    expect((await postgresCheck(`postgres://postgres@127.0.0.1:${closed}/postgres`, 3000)).error).toBe('connection refused');
  });

  it('Redis: PING on a real server; a closed port fails', async () => {
    expect((await redisCheck(`redis://127.0.0.1:${redisPort}`, 2000)).error).toBeUndefined();
    const closed = await freePort();
    const r = await redisCheck(`redis://127.0.0.1:${closed}`, 2000);
    expect(r.error).toMatch(/refused/);
  });
});

class PullReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

describe('probe plugin', () => {
  it('reports metrics per target and an event at the first state and at each change, with severity by state', async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const events: { name: string; body: string; attributes: Attributes; severity?: number }[] = [];
    const ctx = {
      name: 'probe',
      meter: provider.getMeter('probe'),
      event: async (name: string, body: string, attributes: Attributes = {}, severity?: number) => {
        events.push({ name, body, attributes, severity });
      },
    } as unknown as PluginContext;
    const closed = await freePort();
    const options = checkSection(
      probePlugin.schema,
      {
        targets: [
          { name: 'toggle', url: `http://127.0.0.1:${httpPort}/toggle`, interval: '50ms' },
          { name: 'db', url: `postgresql://postgres:secret@127.0.0.1:${pgPort}/postgres`, interval: '10s' },
          { name: 'cache', url: `redis://127.0.0.1:${redisPort}`, interval: '10s' },
          { name: 'gone', url: `tcp://127.0.0.1:${closed}`, interval: '10s' },
          { name: 'tls', url: `https://127.0.0.1:${httpsPort}/ok?delay=150`, interval: '10s', degraded: '100ms', unhealthy: '1s', tls: { ca: join(dir, 'cert.pem') } },
        ],
      },
      'collector.plugins[0]',
    );
    toggle = 200;
    const instance = probePlugin.create(options, ctx);
    await instance.start();
    await eventually('first states of all five', () => events.length, (n) => n >= 5, 10_000, 20);
    toggle = 500;
    await eventually('toggle unhealthy', () => events.filter((e) => e.attributes['vigil.probe.name'] === 'toggle').length, (n) => n >= 2, 5_000, 20);
    toggle = 200;
    await eventually('toggle healthy again', () => events.filter((e) => e.attributes['vigil.probe.name'] === 'toggle').length, (n) => n >= 3, 5_000, 20);

    const { resourceMetrics } = await reader.collect();
    await instance.stop();
    await provider.shutdown();

    const first = (name: string) => events.find((e) => e.attributes['vigil.probe.name'] === name)!;
    expect(events.every((e) => e.name === 'probe.state_changed')).toBe(true);
    expect(first('db')).toMatchObject({ severity: SeverityNumber.INFO, attributes: { 'vigil.probe.state': 'healthy', 'vigil.probe.kind': 'postgres', 'vigil.probe.target': `postgresql://127.0.0.1:${pgPort}/postgres` } });
    expect(JSON.stringify(events)).not.toContain('secret');
    expect(first('cache')).toMatchObject({ severity: SeverityNumber.INFO, attributes: { 'vigil.probe.state': 'healthy', 'vigil.probe.kind': 'redis' } });
    expect(first('gone')).toMatchObject({ severity: SeverityNumber.ERROR, body: 'probe gone: unhealthy: connection refused', attributes: { 'vigil.probe.state': 'unhealthy', 'error.message': 'connection refused' } });
    expect(first('tls')).toMatchObject({ severity: SeverityNumber.WARN, attributes: { 'vigil.probe.state': 'degraded' } });
    expect(first('tls').attributes['vigil.probe.tls.days_left']).toBeGreaterThanOrEqual(41);
    const toggles = events.filter((e) => e.attributes['vigil.probe.name'] === 'toggle');
    expect(toggles.map((e) => [e.attributes['vigil.probe.previous_state'], e.attributes['vigil.probe.state'], e.severity])).toEqual([
      [undefined, 'healthy', SeverityNumber.INFO],
      ['healthy', 'unhealthy', SeverityNumber.ERROR],
      ['unhealthy', 'healthy', SeverityNumber.INFO],
    ]);
    expect(toggles[1]!.body).toBe('probe toggle: healthy → unhealthy: HTTP 500 (expected 2xx or 3xx)');

    const metrics = new Map<string, MetricData>();
    for (const s of resourceMetrics.scopeMetrics) for (const m of s.metrics) metrics.set(m.descriptor.name, m);
    const value = (metric: string, probe: string) => metrics.get(metric)?.dataPoints.find((p) => p.attributes['vigil.probe.name'] === probe)?.value;
    expect([value('vigil.probe.up', 'db'), value('vigil.probe.state', 'db')]).toEqual([1, 0]);
    expect([value('vigil.probe.up', 'gone'), value('vigil.probe.state', 'gone')]).toEqual([0, 2]);
    expect(value('vigil.probe.state', 'tls')).toBe(1);
    expect(value('vigil.probe.duration', 'tls') as number).toBeGreaterThanOrEqual(0.15);
    expect(metrics.get('vigil.probe.duration')?.descriptor.unit).toBe('s');
    expect(value('vigil.probe.tls.days_left', 'tls') as number).toBeGreaterThanOrEqual(41);
    expect(value('vigil.probe.tls.days_left', 'db')).toBeUndefined();
  });
});
