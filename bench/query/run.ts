/**
 * bench/query: the dashboard routes on the embedded engine with a week of data.
 *
 *   pnpm bench:query [--scale 1] [--runs 100] [--warmup 3] [--keep DIR]
 *
 * Writes 10 million log records and 10 million metric points from 50 hosts over 7 days (times
 * --scale) with INSERT ... SELECT (the rollups fill through their views, as with ingest), then
 * for each dashboard route, after `warmup` requests: p50 and p95 of `runs` requests through the
 * query API (fastify inject, JSON serialisation included), beside p50 and p95 of the same SQL run
 * directly on the engine in the same run, alternating with them (the queries the route sent,
 * recorded, replayed with the same concurrency). The engine answers a statement's first few runs
 * in a new process, or of a new shape, up to 3-4 times slower (seen on 2026-12-01: 128 ms against
 * 35 ms); the warm-up keeps them out of a p95 that 30 runs would take from their second slowest. Then
 * the console's first render of the overview in headless Chromium against the same data. Prints
 * the load average beside each figure: the machine is shared.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { HealthRegistry, createHttpServer, createTelemetry, migrate, openStorage, type Storage } from '@vigil/platform';
import { queryApiRoutes } from '@vigil/query-api';

const { values: args } = parseArgs({ options: { scale: { type: 'string', default: '1' }, runs: { type: 'string', default: '100' }, warmup: { type: 'string', default: '3' }, keep: { type: 'string' } } });
const SCALE = Number(args.scale);
const RUNS = Number(args.runs);
const WARMUP = Math.max(1, Math.trunc(Number(args.warmup)) || 1);
const HOSTS = 50;
const POINTS = Math.round(10_000_000 * SCALE);
const LOGS = Math.round(10_000_000 * SCALE);
const WEEK_S = 7 * 86_400;

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const say = (s: string) => process.stdout.write(`${s}\n`);

/** Ten series per host: cpu by mode, memory, two filesystems, load, uptime, an application counter by status. */
const SERIES = `[
  ('system.cpu.utilization', map('cpu.mode', 'user')), ('system.cpu.utilization', map('cpu.mode', 'system')),
  ('system.cpu.utilization', map('cpu.mode', 'idle')), ('system.memory.utilization', map('system.memory.state', 'used')),
  ('system.filesystem.utilization', map('system.filesystem.mountpoint', '/')), ('system.filesystem.utilization', map('system.filesystem.mountpoint', '/var')),
  ('system.cpu.load_average.1m', map()), ('system.uptime', map()),
  ('orders.count', map('status', 'waiting')), ('orders.count', map('status', 'shipped'))]`;

async function fill(storage: Storage): Promise<void> {
  const db = storage.database;
  const chunk = 1_000_000;
  const perSeriesEvery = (WEEK_S * HOSTS * 10) / POINTS; // seconds between points of one series
  let t0 = performance.now();
  for (let from = 0; from < POINTS; from += chunk) {
    const n = Math.min(chunk, POINTS - from);
    await storage.client.command({
      query: `INSERT INTO ${db}.otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, Attributes, TimeUnix, Value)
SELECT map('host.name', concat('host-', toString(h)), 'host.id', concat('id-', toString(h)), 'os.type', 'linux', 'os.description', 'Debian 12', 'service.name', 'vigil-collector'),
  'vigil-collector', s.1, s.2, fromUnixTimestamp64Milli(toInt64((toUnixTimestamp(now()) - k * ${perSeriesEvery}) * 1000)),
  if(s.1 = 'system.uptime', k * 30, (sin(k / 97 + h) + 1) / 2 * if(s.1 = 'orders.count', 40, 0.45))
FROM (SELECT number AS i, i % ${HOSTS} AS h, intDiv(i, ${HOSTS}) % 10 AS si, intDiv(i, ${HOSTS * 10}) AS k, ${SERIES}[si + 1] AS s FROM numbers(${from}, ${n}))`,
    });
    process.stdout.write(`\rmetric points ${from + n} of ${POINTS}`);
  }
  say(`\nmetric points written in ${((performance.now() - t0) / 1000).toFixed(0)} s (load ${load()})`);
  t0 = performance.now();
  const logEvery = (WEEK_S * HOSTS) / LOGS;
  for (let from = 0; from < LOGS; from += chunk) {
    const n = Math.min(chunk, LOGS - from);
    await storage.client.command({
      query: `INSERT INTO ${db}.otel_logs (Timestamp, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes, EventName)
SELECT fromUnixTimestamp64Milli(toInt64((toUnixTimestamp(now()) - k * ${logEvery}) * 1000) - i % 1000),
  if(err, 'ERROR', 'INFO'), if(err, 17, 9), 'pos-app',
  if(err, concat('payment failed: code ', toString(i % 20)), concat('request handled in ', toString(i % 500), ' ms')),
  map('host.name', concat('host-', toString(h)), 'service.instance.id', concat('pos-', toString(h)), 'service.version', '2.4.1', 'os.type', 'windows'),
  if(err, map('vigil.error.fingerprint', concat('fp-', toString(i % 20)), 'exception.stacktrace', 'Error: payment failed\\n    at pay (/app/pay.js:88:13)'), map('http.route', '/pay')),
  if(i % 5000 = 0, 'app.startup', '')
FROM (SELECT number AS i, i % ${HOSTS} AS h, intDiv(i, ${HOSTS}) AS k, i % 100 = 7 AS err FROM numbers(${from}, ${n}))`,
    });
    process.stdout.write(`\rlog records ${from + n} of ${LOGS}`);
  }
  say(`\nlog records written in ${((performance.now() - t0) / 1000).toFixed(0)} s (load ${load()})`);
  t0 = performance.now();
  for (const table of ['otel_metrics_gauge', 'otel_logs', 'vigil_metrics_1m', 'vigil_metrics_1h', 'vigil_log_counts_1m', 'vigil_log_counts_1h']) {
    await storage.client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
  }
  say(`merged in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

interface Recorded {
  query: string;
  query_params?: Record<string, unknown>;
  format?: string;
}

/** The storage the API is given: the real one, with each query recorded while `recording` is set. */
function recordingStorage(storage: Storage) {
  const state = { recording: undefined as Recorded[] | undefined };
  const client = new Proxy(storage.client, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (p: Recorded) => {
          state.recording?.push({ query: p.query, query_params: p.query_params, format: p.format });
          return target.query(p as Parameters<typeof target.query>[0]);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { storage: { ...storage, client, table: storage.table, status: storage.status, ping: storage.ping, close: storage.close } as Storage, state };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main(): Promise<void> {
  const dir = args.keep ?? mkdtempSync(join(tmpdir(), 'vigil-bench-query-'));
  const real = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(real, 30 * 86_400_000);
  const [row] = await (await real.client.query({ query: 'SELECT count() AS n FROM vigil.otel_logs', format: 'JSONEachRow' })).json<{ n: number | string }>();
  const n = row?.n ?? 0;
  say(`bench/query: ${HOSTS} hosts, ${POINTS} metric points and ${LOGS} log records over 7 days (scale ${SCALE}), ${RUNS} runs per route after ${WARMUP} warm-up; load ${load()}`);
  if (Number(n) === 0) await fill(real);
  else say(`reusing the data in ${dir} (${n} log records)`);

  const { storage, state } = recordingStorage(real);
  const telemetry = createTelemetry('bench');
  const app = createHttpServer(new HealthRegistry(), telemetry);
  await app.register(queryApiRoutes, { storage });
  await app.ready();

  const routes = [
    '/api/v1/dashboard',
    '/api/v1/health/summary',
    '/api/v1/metrics/summary?period_hours=24',
    '/api/v1/metrics/summary?period_hours=168',
    '/api/v1/metrics/series?name=system.cpu.utilization&host=host-7&from=' + (Date.now() - 7 * 86_400_000) + '&step=1h',
    '/api/v1/metrics/series?name=system.cpu.utilization&host=host-7&step=30s',
    '/api/v1/hosts',
    '/api/v1/clients',
    '/api/v1/entities',
    '/api/v1/alerts',
    '/api/v1/events?since=1h&limit=100',
    '/api/v1/events?since=24h&severity=error&q=payment&limit=100',
    '/api/v1/events?since=24h&group=fingerprint',
  ];
  say(`\n${'route'.padEnd(92)} ${'API p50'.padStart(9)} ${'API p95'.padStart(9)} ${'SQL p50'.padStart(9)} ${'SQL p95'.padStart(9)} ${'ratio'.padStart(6)}  load`);
  for (const url of routes) {
    // Warm-up, the last one's queries recorded.
    let recorded: Recorded[] = [];
    for (let i = 0; i < WARMUP; i++) {
      state.recording = recorded = [];
      const res = await app.inject({ method: 'GET', url });
      if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode} ${res.body}`);
      await Promise.all(recorded.map(async (q) => (await real.client.query({ query: q.query, query_params: q.query_params, format: 'JSONEachRow' })).json()));
    }
    state.recording = undefined;
    const api: number[] = [];
    const sql: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      const res = await app.inject({ method: 'GET', url });
      if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
      api.push(performance.now() - t);
      t = performance.now();
      await Promise.all(recorded.map(async (q) => (await real.client.query({ query: q.query, query_params: q.query_params, format: 'JSONEachRow' })).json()));
      sql.push(performance.now() - t);
    }
    const a95 = pct(api, 95);
    const s95 = pct(sql, 95);
    say(`${url.slice(0, 92).padEnd(92)} ${pct(api, 50).toFixed(1).padStart(7)}ms ${a95.toFixed(1).padStart(7)}ms ${pct(sql, 50).toFixed(1).padStart(7)}ms ${s95.toFixed(1).padStart(7)}ms ${(a95 / s95).toFixed(2).padStart(6)}  ${load()}`);
  }

  // First render of the overview in Chromium, served by the same API with the console.
  await app.close();
  const server = createHttpServer(new HealthRegistry(), telemetry);
  await server.register(queryApiRoutes, { storage: real });
  const base = (await server.listen({ host: '127.0.0.1', port: 0 })).replace('[::1]', '127.0.0.1');
  const profile = mkdtempSync(join(tmpdir(), 'vigil-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const renders: number[] = [];
  for (let i = 0; i < 6; i++) {
    if (i > 0) await context.clearCookies();
    const t = performance.now();
    await page.goto(`${base}/`, { waitUntil: 'commit' });
    await page.waitForSelector('#main a[href^="#/host/"]', { timeout: 30_000 });
    renders.push(performance.now() - t);
    await page.goto('about:blank');
  }
  const js = await (await fetch(`${base}/`)).text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(js)?.[1];
  const gz = asset ? (await fetch(`${base}${asset}`, { headers: { 'accept-encoding': 'gzip' } })).headers.get('content-length') : null;
  say(`\nconsole: JavaScript ${gz ? `${(Number(gz) / 1024).toFixed(1)} KB gzipped` : 'not built'}; overview first render (navigation to hosts table drawn): first ${renders[0]!.toFixed(0)} ms, then median ${pct(renders.slice(1), 50).toFixed(0)} ms, max ${Math.max(...renders.slice(1)).toFixed(0)} ms; load ${load()}`);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await server.close();
  await telemetry.shutdown();
  await real.close();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

await main();
