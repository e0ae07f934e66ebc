import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_DEFAULTS,
  MIGRATIONS,
  bootstrapStatements,
  migrate,
  migrationStatements,
  openStorage,
  queryRows,
  retentionStatements,
  schemaLayout,
  type Storage,
} from '@vigil/platform';

/**
 * The `clickhouse.url` path with `clickhouse.cluster`, through the same `@clickhouse/client` a
 * server gets. No ClickHouse server can run here, so the other end is a loopback HTTP endpoint
 * that parses every statement with ClickHouse's own parser (the embedded engine's formatQuery),
 * answers a parse error as a server does (HTTP 400 with the exception text), records what it was
 * sent, and executes nothing: it answers the two reads migrate makes (the ledger, empty; this
 * node's tables, one with an old TTL). What this proves: the statements, their order, the
 * settings on each request and the ledger inserts that a cluster's server receives. What it does
 * not: that a server with Keeper runs them (docs/design.md says what has been run where).
 */

interface Received {
  statement: string;
  settings: URLSearchParams;
  body?: string;
}

const CLUSTER = { name: 'vigil_cluster', ...CLUSTER_DEFAULTS };
const TTL_MS = 30 * 86_400_000;

let dir: string;
let parser: Storage;
let server: Server;
let url: string;
const received: Received[] = [];
/** The engine of vigil_schema_migrations the endpoint reports; undefined: the database is new. */
let ledgerEngine: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-http-'));
  parser = openStorage({ database: 'vigil', dataDir: dir });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const params = new URL(req.url ?? '/', 'http://x').searchParams;
        const body = Buffer.concat(chunks).toString('utf8');
        // An insert names its statement in the URL and carries rows in the body; others carry the statement.
        const inUrl = params.get('query');
        const sent = inUrl ?? body;
        const statement = sent.replace(/\s*FORMAT JSONEachRow\s*$/, '');
        try {
          await queryRows(parser, 'SELECT formatQuery({q:String}) AS f', { q: sent });
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': '62' });
          res.end(`Code: 62. DB::Exception: ${(err as Error).message}`);
          return;
        }
        received.push({ statement, settings: params, ...(inUrl ? { body } : {}) });
        res.writeHead(200, { 'content-type': 'text/plain', 'x-clickhouse-format': 'JSONEachRow' });
        if (statement.startsWith('SELECT engine FROM system.tables') && ledgerEngine) {
          res.end(`${JSON.stringify({ engine: ledgerEngine })}\n`);
        } else if (statement.startsWith('SELECT name, engine_full FROM system.tables')) {
          res.end(
            [
              { name: 'otel_logs_local', engine_full: 'ReplicatedMergeTree(...) TTL TimestampTime + toIntervalSecond(86400)' },
              { name: 'vigil_alerts_local', engine_full: 'ReplicatedReplacingMergeTree(...) TTL toDateTime(EventTime) + toIntervalSecond(2592000)' },
            ]
              .map((r) => JSON.stringify(r))
              .join('\n') + '\n',
          );
        } else res.end('');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await parser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('clickhouse.url with clickhouse.cluster', () => {
  it('refuses a cluster without a server', () => {
    expect(() => openStorage({ database: 'vigil', dataDir: dir, cluster: CLUSTER })).toThrow('clickhouse.cluster "vigil_cluster" needs clickhouse.url');
  });

  it('sends the cluster schema over HTTP in order, inserts synchronously, records every version, and realigns TTLs ON CLUSTER', async () => {
    const storage = openStorage({ url, database: 'vigil', dataDir: dir, cluster: CLUSTER });
    try {
      expect(storage.table('otel_logs')).toBe('vigil.otel_logs');
      expect(await migrate(storage, TTL_MS)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await storage.close();
    }
    const layout = schemaLayout('vigil', CLUSTER);
    const ledgerInsert = 'INSERT INTO vigil.vigil_schema_migrations';
    const expected = [
      'SELECT engine FROM system.tables WHERE database = {db:String} AND name = {name:String}',
      ...bootstrapStatements(layout),
      'SELECT Version FROM vigil.vigil_schema_migrations',
      ...MIGRATIONS.flatMap((m) => [...migrationStatements(m, layout, 2_592_000), ledgerInsert]),
      'SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}',
      ...retentionStatements(layout, 'otel_logs', 2_592_000),
    ];
    // The client trims a statement's surrounding whitespace; nothing else of its text changes.
    expect(received.map((r) => (r.statement.startsWith(ledgerInsert) ? ledgerInsert : r.statement))).toEqual(expected.map((s) => s.trim()));
    // Every request asks a Distributed insert to return only once its shards have written.
    for (const r of received) expect(r.settings.get('insert_distributed_sync'), r.statement.slice(0, 80)).toBe('1');
    const versions = received.filter((r) => r.statement.startsWith(ledgerInsert)).map((r) => JSON.parse(r.body!.trim()).Version);
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    // The retention check looked for the stored (local) tables by name.
    const tablesQuery = received.find((r) => r.statement.startsWith('SELECT name, engine_full FROM system.tables'))!;
    expect(tablesQuery.settings.get('param_names')).toContain("'otel_logs_local'");
  });

  it('refuses a database migrated as a single node, before sending any DDL', async () => {
    ledgerEngine = 'MergeTree';
    received.length = 0;
    const storage = openStorage({ url, database: 'vigil', dataDir: dir, cluster: CLUSTER });
    try {
      await expect(migrate(storage, TTL_MS)).rejects.toThrow(
        'database vigil holds a single-node schema (vigil_schema_migrations is MergeTree, not Distributed), so clickhouse.cluster "vigil_cluster" cannot use it: set clickhouse.database to a new database',
      );
    } finally {
      ledgerEngine = undefined;
      await storage.close();
    }
    expect(received.map((r) => r.statement)).toEqual(['SELECT engine FROM system.tables WHERE database = {db:String} AND name = {name:String}']);
  });

  it('passes a server parse error on as a failed migration (the endpoint can fail)', async () => {
    const storage = openStorage({ url, database: 'vigil', dataDir: dir, cluster: CLUSTER });
    try {
      const broken = { version: 99, name: 'broken', statements: () => ['CREATE TABLE vigil.x ON CLUSTER vigil_cluster (a UInt8'] };
      await expect(migrate(storage, TTL_MS, [broken])).rejects.toThrow(/Syntax error/);
    } finally {
      await storage.close();
    }
  });
});
