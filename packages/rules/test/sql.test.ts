import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry, createTelemetry, migrate, openStorage, parseConfig, type AlertTransition, type Storage } from '@vigil/platform';
import { RuleEngine } from '../src/engine.js';
import { createSqlRunner, queryParams, sqlRows } from '../src/sql.js';
import { rules } from './helpers.js';

describe('sql rows', () => {
  it('a row is a group: the value column, and the label columns (given, or all the others)', () => {
    const rule = { name: 'orders_waiting', value: 'value', groupBy: undefined, labels: { team: 'shop' } };
    expect(sqlRows([{ site: 'north', value: '12' }, { site: 'south', value: null }], rule)).toEqual([
      { labels: { alertname: 'orders_waiting', site: 'north', team: 'shop' }, value: 12 },
      { labels: { alertname: 'orders_waiting', site: 'south', team: 'shop' }, value: undefined },
    ]);
    expect(sqlRows([{ site: 'n', extra: 1, n: 3 }], { ...rule, value: 'n', groupBy: ['site'] })).toEqual([{ labels: { alertname: 'orders_waiting', site: 'n', team: 'shop' }, value: 3 }]);
  });
  it('binds only the parameters the query names', () => {
    expect(queryParams('SELECT 1 FROM {db:Identifier}.t WHERE ts > {now:DateTime64(3)} - toIntervalMillisecond({window:UInt64})', { now: 1_500, windowMs: 60_000, database: 'vigil' })).toEqual({
      db: 'vigil',
      now: '1.500',
      window: 60_000,
    });
    expect(queryParams('SELECT 1', { now: 1, windowMs: 1, database: 'x' })).toEqual({});
  });
});

/** sql rules against the real embedded ClickHouse. */
describe('sql rules on the embedded ClickHouse', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-sql-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
    const now = Date.now();
    const row = (service: string, severity: number, ago: number) => ({ Timestamp: String((now - ago) * 1_000_000), ServiceName: service, SeverityNumber: severity, Body: 'x' });
    await storage.client.insert({
      table: storage.table('otel_logs'),
      values: [row('shop', 17, 1_000), row('shop', 17, 2_000), row('shop', 17, 3_000), row('pos', 17, 1_000), row('pos', 9, 1_000), row('old', 17, 7_200_000)],
      format: 'JSONEachRow',
    });
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function runner(...raw: Record<string, unknown>[]) {
    const engine = new RuleEngine(rules(...raw));
    const config = parseConfig('', { env: {} });
    const out: AlertTransition[] = [];
    const r = createSqlRunner({ config, bus: undefined as never, storage, telemetry: createTelemetry('sql-test'), health: new HealthRegistry() }, { now: Date.now, engine: () => engine, emit: (t) => out.push(...t) });
    return { r, out };
  }

  const errorsPerService = {
    name: 'errors_per_service',
    kind: 'sql',
    query:
      'SELECT ServiceName AS service, count() AS value FROM {db:Identifier}.otel_logs WHERE SeverityNumber >= 17 AND Timestamp > {now:DateTime64(3)} - toIntervalMillisecond({window:UInt64}) GROUP BY service ORDER BY service',
    window: '1h',
    warning: 2,
    annotations: { summary: '{{value}} errors from {{labels.service}} in {{window}}' },
  };

  it('runs a parameterised query; each row is a group compared with the thresholds', async () => {
    const { r } = runner(errorsPerService);
    const ts = await r.runAll();
    expect(ts.map((t) => [t.labels, t.status, t.severity, t.value, t.annotations.summary])).toEqual([
      [{ alertname: 'errors_per_service', service: 'shop', severity: 'warning' }, 'firing', 'warning', 3, '3 errors from shop in 1h'],
    ]);
    expect(ts[0]!.threshold).toBe(2);
    expect(r.status()).toEqual([expect.objectContaining({ name: 'errors_per_service', health: 'ok', groups: [expect.objectContaining({ state: 'inactive' }), expect.objectContaining({ state: 'firing', value: 3 })] })]);
  });

  it('runs read-only: a query that writes fails and changes nothing', async () => {
    const { r } = runner({ name: 'sneaky', kind: 'sql', query: 'CREATE TABLE {db:Identifier}.sneaky (x UInt8) ENGINE = Memory', warning: 1 });
    expect(await r.runAll()).toEqual([]);
    const [s] = r.status();
    expect(s).toMatchObject({ name: 'sneaky', health: 'err' });
    // Run as a subquery, it can only be a SELECT; and a SELECT that reaches out (file, url, remote) is refused as read-only.
    expect(s!.lastError).toMatch(/Syntax error/);
    const { r: r2 } = runner({ name: 'reach', kind: 'sql', query: "SELECT count() AS value FROM file('/etc/hostname', LineAsString)", warning: 1 });
    expect(await r2.runAll()).toEqual([]);
    expect(r2.status()[0]!.lastError).toMatch(/readonly mode/);
    const tables = await (await storage.client.query({ query: "SELECT count() AS n FROM system.tables WHERE database = 'vigil' AND name = 'sneaky'", format: 'JSONEachRow' })).json<{ n: string }>();
    expect(Number(tables[0]!.n)).toBe(0);
  });

  it('more rows than maxRows fail the evaluation instead of flooding', async () => {
    const { r } = runner({ ...errorsPerService, name: 'few', maxRows: 1 });
    expect(await r.runAll()).toEqual([]);
    expect(r.status()[0]).toMatchObject({ health: 'err', lastError: expect.stringMatching(/limit|rows/i) });
  });

  it('a query that runs longer than its timeout fails', async () => {
    const { r } = runner({ name: 'slow', kind: 'sql', query: 'SELECT sum(sleepEachRow(0.3)) AS value FROM numbers(8)', timeout: '1s', warning: 1 });
    expect(await r.runAll()).toEqual([]);
    expect(r.status()[0]).toMatchObject({ health: 'err', lastError: expect.stringMatching(/timeout|time limit|exceeded/i) });
  });

  it('a rule whose query sets its own SETTINGS is refused when loaded', () => {
    expect(() => rules({ name: 'sly', kind: 'sql', query: 'SELECT 1 AS value SETTINGS readonly = 0', warning: 1 })).toThrow(/query: may not have SETTINGS, FORMAT or INTO OUTFILE/);
  });

  it('a group the query no longer returns resolves', async () => {
    const { r } = runner(errorsPerService);
    await r.runAll();
    await storage.client.command({ query: `ALTER TABLE ${storage.table('otel_logs')} DELETE WHERE ServiceName = 'shop'`, clickhouse_settings: { mutations_sync: '2' } });
    const ts = await r.runAll();
    expect(ts.map((t) => [t.labels.service, t.status])).toEqual([['shop', 'resolved']]);
  });
});
