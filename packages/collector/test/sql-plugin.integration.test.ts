import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { ConfigError, checkSection, parseConfig } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type TestMariadb } from '../../../test/harness/mariadb.js';
import { startPostgres, type TestPostgres } from '../../../test/harness/postgres.js';
import { checkCollectorConfig } from '../src/index.js';
import type { PluginContext } from '../src/plugin.js';
import { mysqlCheck, planProbes } from '../src/plugins/probe/index.js';
import { rowsToSamples, runReadOnly, sqlPlugin } from '../src/plugins/sql/index.js';

class PullReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

/** Runs a sql plugin once with these options; its gauges as [label or query, value] pairs by metric name. */
async function collect(raw: Record<string, unknown>): Promise<{ of(name: string): [unknown, unknown][]; unit(name: string): string | undefined }> {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const ctx = { name: 'shop-db', meter: provider.getMeter('sql') } as unknown as PluginContext;
  const options = checkSection(sqlPlugin.schema, raw, 'collector.plugins[0]');
  const instance = sqlPlugin.create(options, ctx) as ReturnType<typeof sqlPlugin.create> & { runNow(): Promise<void> };
  await instance.start();
  await instance.runNow();
  const { resourceMetrics } = await reader.collect();
  await instance.stop();
  await provider.shutdown();
  const metrics = new Map<string, MetricData>();
  for (const s of resourceMetrics.scopeMetrics) for (const m of s.metrics) metrics.set(m.descriptor.name, m);
  return {
    of: (name) => (metrics.get(name)?.dataPoints ?? []).map((p) => [p.attributes.site ?? p.attributes['vigil.sql.query'], p.value] as [unknown, unknown]).sort(),
    unit: (name) => metrics.get(name)?.descriptor.unit,
  };
}

describe('rowsToSamples', () => {
  it('one sample per row and metric, labels from the label columns; a value that is not a number is reported', () => {
    const q = { metrics: [{ name: 'app.orders.waiting', value: 'waiting', unit: '{order}', description: '' }], labels: ['site'] };
    expect(rowsToSamples(q, [{ site: 'north', waiting: '12' }, { site: 'south', waiting: 3 }, { site: 'x', waiting: null }])).toEqual({
      samples: [
        { metric: 'app.orders.waiting', value: 12, attributes: { site: 'north' } },
        { metric: 'app.orders.waiting', value: 3, attributes: { site: 'south' } },
      ],
      problems: ['row 2: column "waiting" is null, not a number'],
    });
  });
});

describe('sql plugin against a real PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql('CREATE DATABASE shop');
    pg.psql(
      `CREATE TABLE orders (id serial PRIMARY KEY, site text, status text, created_at timestamptz);
       INSERT INTO orders (site, status, created_at) SELECT 'north', 'waiting', now() - interval '3 hours' FROM generate_series(1, 12);
       INSERT INTO orders (site, status, created_at) SELECT 'south', 'waiting', now() - interval '3 hours' FROM generate_series(1, 2);
       INSERT INTO orders (site, status, created_at) SELECT 'south', 'waiting', now() FROM generate_series(1, 5);
       CREATE TABLE vehicles (site text, busy int, total int);
       INSERT INTO vehicles VALUES ('north', 2, 10), ('south', 8, 10);`,
      'shop',
    );
  }, 60_000);
  afterAll(() => pg?.close());

  it('runs the queries read-only with the statement timeout', async () => {
    await expect(runReadOnly(pg.url('shop'), '', "INSERT INTO orders (site) VALUES ('x')", 2_000)).rejects.toThrow(/read-only transaction/);
    await expect(runReadOnly(pg.url('shop'), '', 'SELECT pg_sleep(3)', 500)).rejects.toThrow(/statement timeout/);
    expect(await runReadOnly(pg.url('shop'), '', 'SELECT count(*)::int AS n FROM orders', 2_000)).toEqual([{ n: 19 }]);
  });

  it('reports each row as gauges with its label columns: orders waiting over 2 hours, vehicle utilisation', async () => {
    const points = await collect({
      url: pg.url('shop'),
      interval: '1h',
      queries: [
        {
          name: 'orders_waiting',
          sql: "SELECT site, count(*) AS waiting FROM orders WHERE status = 'waiting' AND created_at < now() - interval '2 hours' GROUP BY site",
          labels: ['site'],
          metrics: [{ name: 'app.orders.waiting_over_2h', value: 'waiting', unit: '{order}' }],
        },
        { name: 'vehicles', sql: 'SELECT site, busy::float / total AS utilisation FROM vehicles', labels: ['site'], metrics: [{ name: 'app.vehicles.utilization', value: 'utilisation', unit: '1' }] },
        { name: 'broken', sql: 'SELECT nope FROM nowhere', metrics: [{ name: 'app.never', value: 'nope' }] },
      ],
    });
    expect(points.of('app.orders.waiting_over_2h')).toEqual([['north', 12], ['south', 2]]);
    expect(points.unit('app.orders.waiting_over_2h')).toBe('{order}');
    expect(points.of('app.vehicles.utilization')).toEqual([['north', 0.2], ['south', 0.8]]);
    expect(points.of('vigil.sql.up')).toEqual([['broken', 0], ['orders_waiting', 1], ['vehicles', 1]]);
  });

  it('a password written in the file is refused; names and units are checked', () => {
    const problems = (text: string) => {
      try {
        checkCollectorConfig(parseConfig(text, { env: {} }), 'c.yaml');
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return [];
    };
    expect(problems('collector:\n  plugins:\n    - { type: sql, url: "postgres://u@h/db", password: hunter2, queries: [{ name: q, sql: "SELECT 1 AS v", metrics: [{ name: m, value: v }] }] }\n')[0]).toMatch(/password: secrets must come from the environment/);
    expect(
      problems('collector:\n  plugins:\n    - { type: sql, url: "postgres://u@h/db", queries: [{ name: q, sql: "SELECT 1 AS v", metrics: [{ name: m, value: v, unit: s }] }, { name: q, sql: "SELECT 1 AS v", metrics: [{ name: m, value: v, unit: ms }] }] }\n'),
    ).toEqual([
      'c.yaml: collector.plugins[0].queries[1].name: "q" is used twice (give each query its own name)',
      'c.yaml: collector.plugins[0].queries[1].metrics[0].unit: "m" has unit "s" elsewhere (one metric, one unit)',
    ]);
    // A malformed escape is named at the start, not found by the driver at the first run.
    expect(problems('collector:\n  plugins:\n    - { type: sql, url: "mysql://shop%g@db/shop", queries: [{ name: q, sql: "SELECT 1 AS v", metrics: [{ name: m, value: v }] }] }\n')).toEqual([
      'c.yaml: collector.plugins[0].url: its user has a malformed %-escape (write a literal % as %25)',
    ]);
  });
});

describe('sql plugin and probe against a real MariaDB (the MySQL protocol)', () => {
  let db: TestMariadb;
  beforeAll(async () => {
    db = await startMariadb();
    db.sql(
      `CREATE DATABASE shop; USE shop;
       CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, site VARCHAR(20), status VARCHAR(20), created_at DATETIME);
       INSERT INTO shop.orders (site, status, created_at) SELECT 'north', 'waiting', NOW() - INTERVAL 3 HOUR FROM seq_1_to_12;
       INSERT INTO shop.orders (site, status, created_at) SELECT 'south', 'waiting', NOW() - INTERVAL 3 HOUR FROM seq_1_to_2;
       INSERT INTO shop.orders (site, status, created_at) SELECT 'south', 'waiting', NOW() FROM seq_1_to_5;
       CREATE TABLE shop.vehicles (site VARCHAR(20), busy INT, total INT);
       INSERT INTO shop.vehicles VALUES ('north', 2, 10), ('south', 8, 10);
       CREATE USER 'reporter'@'%' IDENTIFIED BY 'r3p0rt-pw';
       GRANT SELECT, INSERT ON shop.* TO 'reporter'@'%';`,
    );
  }, 60_000);
  afterAll(() => db?.close());

  it('runs the queries read-only (even for a user who may write), one statement, with the statement timeout', async () => {
    const url = db.url('shop', 'reporter');
    await expect(runReadOnly(url, 'r3p0rt-pw', "INSERT INTO orders (site) VALUES ('x')", 2_000)).rejects.toThrow(/READ ONLY transaction/);
    await expect(runReadOnly(url, 'r3p0rt-pw', 'SELECT 1 AS v; DELETE FROM orders', 2_000)).rejects.toThrow(/SQL syntax/);
    await expect(runReadOnly(url, 'r3p0rt-pw', 'SELECT SLEEP(3) AS s FROM orders LIMIT 1', 500)).rejects.toThrow(/max_statement_time|interrupted|timeout/i);
    await expect(runReadOnly(url, 'wrong', 'SELECT 1', 2_000)).rejects.toThrow(/Access denied for user 'reporter'/);
    expect(await runReadOnly(url, 'r3p0rt-pw', 'SELECT count(*) AS n FROM orders', 2_000)).toEqual([{ n: 19 }]);
    expect(db.sql('SELECT count(*) FROM shop.orders').trim()).toBe('19');
  });

  it('reports each row as gauges: counts, decimals and the query health', async () => {
    const points = await collect({
      url: db.url('shop', 'reporter'),
      password: 'r3p0rt-pw',
      interval: '1h',
      queries: [
        {
          name: 'orders_waiting',
          sql: "SELECT site, count(*) AS waiting FROM orders WHERE status = 'waiting' AND created_at < NOW() - INTERVAL 2 HOUR GROUP BY site",
          labels: ['site'],
          metrics: [{ name: 'app.orders.waiting_over_2h', value: 'waiting', unit: '{order}' }],
        },
        { name: 'vehicles', sql: 'SELECT site, busy / total AS utilisation FROM vehicles', labels: ['site'], metrics: [{ name: 'app.vehicles.utilization', value: 'utilisation', unit: '1' }] },
        { name: 'broken', sql: 'SELECT nope FROM nowhere', metrics: [{ name: 'app.never', value: 'nope' }] },
      ],
    });
    expect(points.of('app.orders.waiting_over_2h')).toEqual([['north', 12], ['south', 2]]);
    expect(points.of('app.vehicles.utilization')).toEqual([['north', 0.2], ['south', 0.8]]);
    expect(points.of('vigil.sql.up')).toEqual([['broken', 0], ['orders_waiting', 1], ['vehicles', 1]]);
  });

  it('a mysql:// probe is healthy while the server answers SELECT 1 and names the failure when it does not', async () => {
    const [planned] = planProbes([{ name: 'db', url: db.url('shop'), interval: 30_000, timeout: 2_000, degraded: 500, unhealthy: 1_000, method: 'GET', headers: {}, expectStatus: [], tls: { insecureSkipVerify: false } }]);
    expect(planned!.kind).toBe('mysql');
    expect(planned!.attrs['vigil.probe.target']).toBe(`mysql://127.0.0.1:${db.port}/shop`);
    const ok = await planned!.check();
    expect(ok.error).toBeUndefined();
    expect(ok.latencyMs).toBeLessThan(2_000);
    expect((await mysqlCheck(db.url('nosuchdb'), 2_000)).error).toMatch(/Unknown database 'nosuchdb'/);
    await db.stop();
    try {
      expect((await mysqlCheck(db.url('shop'), 2_000)).error).toBe('connection refused');
    } finally {
      await db.start();
    }
    expect((await mysqlCheck(db.url('shop'), 2_000)).error).toBeUndefined();
  });
});
