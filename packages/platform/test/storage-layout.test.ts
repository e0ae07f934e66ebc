import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_DEFAULTS,
  MIGRATIONS,
  RETAINED_TABLES,
  bootstrapStatements,
  layoutMismatch,
  migrate,
  migrationStatements,
  openStorage,
  queryRows,
  retentionStatements,
  schemaLayout,
  type SchemaLayout,
  type Storage,
} from '@vigil/platform';

/**
 * The schema's DDL for both layouts, rendered as one SQL text per layout and compared to the
 * files under fixtures/. The single-node file was rendered from the migrations as they were
 * before the layout existed, so an install already migrated meets no changed statement; the
 * cluster file is the expected text of what a cluster is sent. No ClickHouse server or cluster
 * runs here: each cluster statement is parsed by the embedded engine's own parser (chDB's
 * formatQuery), which is ClickHouse's, and its structure checked from the parsed text.
 * UPDATE_FIXTURES=1 rewrites the cluster file (never the single-node one).
 */

const TTL = 2_592_000;
const CLUSTER = { name: 'vigil_cluster', ...CLUSTER_DEFAULTS };
const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);

function render(layout: SchemaLayout): string {
  const sections: [string, string[]][] = [['bootstrap', bootstrapStatements(layout)]];
  for (const m of MIGRATIONS) sections.push([`migration ${m.version} ${m.name}`, migrationStatements(m, layout, TTL)]);
  sections.push(['retention of otel_logs', retentionStatements(layout, 'otel_logs', TTL)]);
  return sections.map(([title, st]) => `-- ${title}\n` + st.map((s) => `${s};\n`).join('')).join('\n');
}

function allStatements(layout: SchemaLayout): string[] {
  return [
    ...bootstrapStatements(layout),
    ...MIGRATIONS.flatMap((m) => migrationStatements(m, layout, TTL)),
    ...Object.keys(RETAINED_TABLES).flatMap((t) => retentionStatements(layout, t, TTL)),
  ];
}

describe('schema layout: text', () => {
  it('writes the single-node schema byte for byte as before clusters existed', () => {
    expect(render(schemaLayout('vigil'))).toBe(readFileSync(fixture('migrations.single.sql'), 'utf8'));
  });

  it('writes the cluster schema as expected (fixtures/migrations.cluster.sql)', () => {
    const text = render(schemaLayout('vigil', CLUSTER));
    if (process.env.UPDATE_FIXTURES === '1') writeFileSync(fixture('migrations.cluster.sql'), text);
    expect(text).toBe(readFileSync(fixture('migrations.cluster.sql'), 'utf8'));
  });

  it('turns each MergeTree engine into its replicated form with the Keeper path and replica name', () => {
    const layout = schemaLayout('db1', { name: 'c', replicaPath: '/ch/{shard}/', replicaName: '{host}' });
    const spec = { columns: '\n    a UInt8,\n    t DateTime', keys: 'ORDER BY a', shardBy: 'a' };
    expect(layout.createTable('t', { ...spec, engine: 'MergeTree' })[0]).toContain("ENGINE = ReplicatedMergeTree('/ch/{shard}/db1/t_local', '{host}')");
    expect(layout.createTable('t', { ...spec, engine: 'ReplacingMergeTree(t)' })[0]).toContain("ENGINE = ReplicatedReplacingMergeTree('/ch/{shard}/db1/t_local', '{host}', t)");
    expect(layout.createTable('t', { ...spec, engine: 'SummingMergeTree' })[0]).toContain("ENGINE = ReplicatedSummingMergeTree('/ch/{shard}/db1/t_local', '{host}')");
    expect(layout.createTable('t', { ...spec, engine: 'AggregatingMergeTree' })[1]).toBe('CREATE TABLE IF NOT EXISTS db1.t ON CLUSTER c AS db1.t_local\nENGINE = Distributed(c, db1, t_local, a)');
    expect(() => layout.createTable('t', { ...spec, engine: 'Log' })).toThrow('table t: engine Log is not of the MergeTree family');
    expect(() => schemaLayout('db1').createTable('t', { ...spec, engine: 'Memory' })).toThrow('not of the MergeTree family');
  });

  it('alters columns on the stored and Distributed tables, storage on the stored one only', () => {
    const cluster = schemaLayout('db1', { name: 'c', ...CLUSTER_DEFAULTS });
    expect(cluster.alter('t', { columns: ['ADD COLUMN x UInt8'], storage: ['MODIFY ORDER BY (a, x)'] })).toEqual([
      'ALTER TABLE db1.t_local ON CLUSTER c ADD COLUMN x UInt8, MODIFY ORDER BY (a, x)',
      'ALTER TABLE db1.t ON CLUSTER c ADD COLUMN x UInt8',
    ]);
    expect(cluster.alter('t', { storage: ['MODIFY TTL t + INTERVAL 1 DAY'] })).toEqual(['ALTER TABLE db1.t_local ON CLUSTER c MODIFY TTL t + INTERVAL 1 DAY']);
    expect(schemaLayout('db1').alter('t', { columns: ['ADD COLUMN x UInt8'], storage: ['MODIFY ORDER BY (a, x)'] })).toEqual(['ALTER TABLE db1.t ADD COLUMN x UInt8, MODIFY ORDER BY (a, x)']);
    expect(() => cluster.alter('t', {})).toThrow('table t: an ALTER needs at least one change');
  });

  it('refuses to migrate a database laid out the other way, naming what to set', () => {
    const cluster = schemaLayout('vigil', CLUSTER);
    const single = schemaLayout('vigil');
    expect(layoutMismatch(cluster, undefined)).toBeUndefined();
    expect(layoutMismatch(single, undefined)).toBeUndefined();
    expect(layoutMismatch(cluster, 'Distributed')).toBeUndefined();
    expect(layoutMismatch(single, 'MergeTree')).toBeUndefined();
    expect(layoutMismatch(cluster, 'MergeTree')).toMatch(/^database vigil holds a single-node schema .* set clickhouse\.database to a new database for the cluster/);
    expect(layoutMismatch(single, 'Distributed')).toMatch(/^database vigil holds a cluster's schema .*: set clickhouse\.cluster/);
  });

  it('names the same tables for reads and inserts in both layouts', () => {
    expect(schemaLayout('vigil', CLUSTER).table('otel_logs')).toBe('vigil.otel_logs');
    expect(schemaLayout('vigil').table('otel_logs')).toBe('vigil.otel_logs');
    expect(schemaLayout('vigil', CLUSTER).local('otel_logs')).toBe('vigil.otel_logs_local');
    expect(schemaLayout('vigil').local('otel_logs')).toBe('vigil.otel_logs');
  });
});

describe('schema layout: parsed by the embedded engine', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-layout-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** ClickHouse's parser on one statement: its canonical text, or the parser's error. */
  const format = async (query: string): Promise<string> => {
    const [row] = await queryRows<{ f: string }>(storage, 'SELECT formatQuery({q:String}) AS f', { q: query });
    return row!.f;
  };

  it('refuses a malformed statement (the check can fail)', async () => {
    await expect(format('CREATE TABLE vigil.t ON CLUSTER c AS vigil.t_local ENGINE = Distributed(c, vigil, t_local, cityHash64(a)')).rejects.toThrow(/Syntax error/);
  });

  it('parses every cluster statement, each ON CLUSTER, with replicated local tables under Distributed ones', async () => {
    const layout = schemaLayout('vigil', CLUSTER);
    const statements = allStatements(layout);
    const distributed = new Map<string, string>();
    const stored = new Set<string>();
    let views = 0;
    for (const statement of statements) {
      const f = await format(statement);
      const head = f.split('\n')[0]!;
      if (f.startsWith('INSERT INTO')) {
        // Backfills: one statement through the Distributed tables, run once by the migrating process.
        expect(f).not.toMatch(/_local\b/);
        continue;
      }
      expect(head, f).toContain(' ON CLUSTER vigil_cluster');
      const table = /^CREATE TABLE IF NOT EXISTS vigil\.(\w+)/.exec(head)?.[1];
      if (table?.endsWith('_local')) {
        const name = table.slice(0, -'_local'.length);
        expect(f).toMatch(new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/vigil/${table}', '\\{replica\\}'`));
        expect(f).toContain('replicated_deduplication_window = 10000, replicated_deduplication_window_seconds = 604800');
        expect(f).not.toContain('non_replicated_deduplication_window');
        stored.add(name);
      } else if (table) {
        const m = /AS vigil\.(\w+)\nENGINE = Distributed\(vigil_cluster, vigil, (\w+), (.+)\)$/.exec(f);
        expect(m, f).not.toBeNull();
        expect(m![1]).toBe(`${table}_local`);
        expect(m![2]).toBe(`${table}_local`);
        expect(m![3]).not.toMatch(/rand/i);
        expect(stored.has(table), `${table}: its stored table comes first`).toBe(true);
        distributed.set(table, m![3]!);
      } else if (head.startsWith('CREATE MATERIALIZED VIEW')) {
        // A view reads and writes stored tables on its own node, never through Distributed ones.
        expect(head).toMatch(/ TO vigil\.\w+_local$/);
        const froms = [...f.matchAll(/FROM vigil\.(\w+)/g)].map((x) => x[1]!);
        expect(froms.length).toBeGreaterThan(0);
        for (const from of froms) expect(from).toMatch(/_local$/);
        views++;
      } else if (head.startsWith('ALTER TABLE')) {
        expect(head).toMatch(/^ALTER TABLE vigil\.\w+ ON CLUSTER vigil_cluster$/);
      } else {
        expect(head).toBe('CREATE DATABASE IF NOT EXISTS vigil ON CLUSTER vigil_cluster');
      }
    }
    // Every table users query keeps its name, as a Distributed table over a replicated one.
    for (const name of ['otel_logs', 'otel_metrics_gauge', 'otel_metrics_sum', 'otel_metrics_histogram', 'otel_metrics_exponential_histogram', 'otel_metrics_summary', 'vigil_alerts', 'vigil_deliveries', 'vigil_schema_migrations']) {
      expect(distributed.has(name), name).toBe(true);
    }
    expect([...stored].sort()).toEqual([...distributed.keys()].sort());
    expect(views).toBe(12);
    // The raw rows' sharding key is made of what every rollup key holds (Host and ServiceName).
    expect(distributed.get('otel_logs')).toBe("cityHash64(ResourceAttributes['host.name'], ServiceName)");
    expect(distributed.get('vigil_metrics_1m')).toBe('cityHash64(Host, ServiceName)');
  });

  it('parses every single-node statement to the same text as before (no new ON CLUSTER, no new engine)', async () => {
    for (const statement of allStatements(schemaLayout('vigil'))) {
      const f = await format(statement);
      expect(f).not.toContain('ON CLUSTER');
      expect(f).not.toMatch(/Replicated|Distributed|_local\b/);
    }
  });

  /**
   * The cluster's stored side executed on the embedded engine, replication stripped by the test:
   * ON CLUSTER dropped, each Replicated engine back to its plain form (Keeper path and replica
   * name removed), the Distributed tables and their ALTERs left out (there is no cluster to point
   * them at), and the backfills aimed at the local tables as a one-shard Distributed table would
   * send them. What runs is the cluster's own text otherwise: columns, engine arguments, keys,
   * TTLs, the views over `_local` tables and the ALTERs of `_local` tables.
   */
  it("runs the cluster's local tables and views (replication stripped) with the single node's columns, keys and TTLs", async () => {
    const layout = schemaLayout('vigilc', CLUSTER);
    const distributed = new Set<string>();
    for (const statement of allStatements(layout)) {
      if (/ENGINE = Distributed\(/.test(statement)) {
        distributed.add(/vigilc\.(\w+) ON CLUSTER/.exec(statement)![1]!);
        continue;
      }
      const alterOf = /^ALTER TABLE vigilc\.(\w+) ON CLUSTER/.exec(statement)?.[1];
      if (alterOf && distributed.has(alterOf)) continue;
      const stripped = statement
        .replaceAll(' ON CLUSTER vigil_cluster', '')
        .replace(/Replicated(\w*)MergeTree\('[^']*', '[^']*'(?:, )?/, '$1MergeTree(')
        .replace('MergeTree()', 'MergeTree')
        .replace('replicated_deduplication_window = 10000, replicated_deduplication_window_seconds = 604800', 'non_replicated_deduplication_window = 10000')
        .replace(/^INSERT INTO vigilc\.(\w+) /, 'INSERT INTO vigilc.$1_local ')
        .replace(/^(INSERT INTO [\s\S]*?FROM vigilc\.)(\w+)/, (all, head: string, from: string) => (from.endsWith('_local') ? all : `${head}${from}_local`));
      expect(stripped).not.toMatch(/Replicated|ON CLUSTER/);
      await storage.client.command({ query: stripped });
    }
    expect(distributed.size).toBe(20);

    // The same columns, sorting keys and TTLs as the single-node tables.
    await migrate(storage, TTL * 1000);
    const shape = (db: string, suffix: string) =>
      queryRows<{ name: string; columns: string; sorting_key: string; ttl: string }>(
        storage,
        `SELECT replaceRegexpOne(t.name, {suffix:String}, '') AS name, sorting_key,
           extract(engine_full, 'TTL [^\\n]*? SETTINGS') AS ttl,
           (SELECT arrayStringConcat(groupArray(concat(c.name, ' ', c.type)), ', ') FROM system.columns c WHERE c.database = {db:String} AND c.table = t.name) AS columns
         FROM system.tables t WHERE t.database = {db:String} AND t.engine LIKE '%MergeTree' ORDER BY name`,
        { db, suffix: `${suffix}$` },
      );
    const single = await shape('vigil', '');
    const cluster = await shape('vigilc', '_local');
    expect(cluster.map((t) => t.name)).toEqual([...distributed].sort());
    expect(cluster).toEqual(single);
    // Not an empty comparison: every table has columns and a key, and all but the migrations ledger a TTL.
    expect(single.every((t) => t.columns.includes(' ') && t.sorting_key !== '')).toBe(true);
    expect(single.filter((t) => t.ttl === '').map((t) => t.name)).toEqual(['vigil_schema_migrations']);

    // Views on the local tables: rows stored on a node reach that node's rollups.
    await storage.client.insert({
      table: 'vigilc.otel_metrics_gauge_local',
      values: [{ ResourceAttributes: { 'host.name': 'h1' }, ServiceName: 's', MetricName: 'cpu', Attributes: {}, TimeUnix: '2026-11-30 10:00:00', Value: 0.5 }],
      format: 'JSONEachRow',
    });
    for (const table of ['vigil_metrics_1m_local', 'vigil_metrics_1h_local', 'vigil_sources_1m_local', 'vigil_metrics_latest_local', 'vigil_hosts_local']) {
      const [row] = await queryRows<{ n: string }>(storage, `SELECT count() AS n FROM vigilc.${table} WHERE Host = 'h1'`);
      expect(Number(row!.n), table).toBe(1);
    }
  });

  it('migrates the embedded engine once; a second start applies nothing and changes no TTL', async () => {
    const fresh = openStorage({ database: 'vigil_fresh', dataDir: dir });
    expect(await migrate(fresh, TTL * 1000)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(fresh, TTL * 1000)).toEqual([]);
    await fresh.close();
    const rows = await queryRows<{ name: string; engine: string }>(storage, "SELECT name, engine FROM system.tables WHERE database = 'vigil_fresh' AND name LIKE 'otel_%' ORDER BY name");
    expect(rows.map((r) => r.engine)).toEqual(Array(6).fill('MergeTree'));
  });
});
