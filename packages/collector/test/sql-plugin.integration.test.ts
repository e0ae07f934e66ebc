import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { ConfigError, checkSection, parseConfig } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../test/harness/postgres.js';
import { checkCollectorConfig } from '../src/index.js';
import type { PluginContext } from '../src/plugin.js';
import { rowsToSamples, runReadOnly, sqlPlugin } from '../src/plugins/sql/index.js';

class PullReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
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
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const ctx = { name: 'shop-db', meter: provider.getMeter('sql') } as unknown as PluginContext;
    const options = checkSection(
      sqlPlugin.schema,
      {
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
      },
      'collector.plugins[0]',
    );
    const instance = sqlPlugin.create(options, ctx) as ReturnType<typeof sqlPlugin.create> & { runNow(): Promise<void> };
    await instance.start();
    await instance.runNow();
    const { resourceMetrics } = await reader.collect();
    await instance.stop();
    await provider.shutdown();
    const metrics = new Map<string, MetricData>();
    for (const s of resourceMetrics.scopeMetrics) for (const m of s.metrics) metrics.set(m.descriptor.name, m);
    const points = (name: string) =>
      metrics
        .get(name)!
        .dataPoints.map((p) => [p.attributes.site ?? p.attributes['vigil.sql.query'], p.value])
        .sort();
    expect(points('app.orders.waiting_over_2h')).toEqual([['north', 12], ['south', 2]]);
    expect(metrics.get('app.orders.waiting_over_2h')!.descriptor.unit).toBe('{order}');
    expect(points('app.vehicles.utilization')).toEqual([['north', 0.2], ['south', 0.8]]);
    expect(points('vigil.sql.up')).toEqual([['broken', 0], ['orders_waiting', 1], ['vehicles', 1]]);
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
  });
});
