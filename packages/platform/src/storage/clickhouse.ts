import { mkdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { createChdbConnection as CreateChdbConnection } from 'chdb/connection';
import type { DependencyStatus } from '../bus/types.js';
import { logger } from '../log.js';
import { schemaLayout, type ClusterOptions, type SchemaLayout } from './layout.js';

export interface StorageOptions {
  /** ClickHouse server; unset means the embedded engine. */
  url?: string;
  username?: string;
  password?: string;
  database: string;
  /** Where the embedded engine keeps its data (`<dataDir>/clickhouse`). */
  dataDir: string;
  /** `clickhouse.cluster`: replicated local tables under Distributed ones, DDL ON CLUSTER. Needs `url`. */
  cluster?: ClusterOptions;
}

/**
 * One ClickHouse client for every role: a server over HTTP, or chDB in-process plugged into the
 * same `@clickhouse/client` through its `connection` hook. Every value goes in through
 * `{name:Type}` bindings; only the validated database name is spliced into SQL.
 */
/** Rows already encoded in a text format, for the embedded engine's own parser (see `Storage.insertEncoded`). */
export interface EncodedInsert {
  /** `db.table`. */
  table: string;
  columns: readonly string[];
  /**
   * Text formats go to chDB's raw insert; RowBinaryWithNamesAndTypes (which it does not take) is
   * written to a file beside the engine's data and read with `file()` in one INSERT ... SELECT,
   * under the same settings (deduplication token included).
   */
  format: 'JSONCompactEachRow' | 'JSONEachRow' | 'RowBinaryWithNamesAndTypes';
  /** One row per line (text formats), or the binary rows with their header. */
  body: Buffer;
  settings?: Record<string, string | number>;
}

export interface Storage {
  readonly client: ClickHouseClient;
  /**
   * The embedded engine only: hands encoded rows to chDB's raw insert (the bytes go to the engine's
   * parser as they are, with no SQL text around them), 15-20 % faster than the client's insert,
   * which splices the rows into one statement's text. Unset for a server: use `client.insert`.
   */
  readonly insertEncoded?: (insert: EncodedInsert) => Promise<void>;
  readonly database: string;
  readonly kind: 'server' | 'embedded';
  /** Where tables live (single node or cluster) and the DDL that creates them. */
  readonly layout: SchemaLayout;
  /** `db.table`, for SQL text: what reads and inserts go through (the Distributed table on a cluster). */
  table(name: string): string;
  status(): { status: DependencyStatus; detail?: string };
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const log = logger('storage');

/** chDB binds one data directory per process, so every role in the process shares one client. */
let embedded: { path: string; client: ClickHouseClient; refs: number; rawInsert: RawInsert | undefined } | undefined;

type RawInsert = (params: { table: string; values: Buffer; format: string; columns: string[]; settings?: Record<string, string | number> }) => Promise<unknown>;

// chdb maps a ~140 MiB native library when loaded: it is loaded only when the embedded engine is
// opened, so processes without storage (a collector on every host) do not carry it.
const requireChdb = createRequire(import.meta.url);

/** The embedded engine's allocator settings unless JE_MALLOC_CONF says otherwise: freed pages go back to the system after 250 ms. */
export const EMBEDDED_ALLOCATOR = 'dirty_decay_ms:250';

export function openStorage(opts: StorageOptions): Storage {
  const kind = opts.url ? 'server' : 'embedded';
  if (opts.cluster && !opts.url) {
    throw new Error(`clickhouse.cluster "${opts.cluster.name}" needs clickhouse.url: the embedded engine is one process, not a cluster`);
  }
  const layout = schemaLayout(opts.database, opts.cluster);
  let client: ClickHouseClient;
  let release: () => Promise<void>;
  let rawInsert: RawInsert | undefined;
  let binaryDir: string | undefined;
  if (opts.url) {
    client = createClient({
      url: opts.url,
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      request_timeout: 30_000,
      clickhouse_settings: {
        date_time_input_format: 'best_effort',
        // On a cluster, an insert into a Distributed table returns once every shard has written its
        // rows, with the insert's deduplication token, instead of once they are queued on this node:
        // a Kafka offset is committed only after its rows are stored, and a replay meets the token
        // on the shard that has it (a background send can batch several inserts into one block).
        // insert_distributed_sync is the name every server version knows (distributed_foreground_insert since 23.10).
        ...(opts.cluster ? { insert_distributed_sync: 1 } : {}),
      },
    });
    release = () => client.close();
  } else {
    const path = resolve(opts.dataDir, 'clickhouse');
    if (embedded && embedded.path !== path) {
      throw new Error(`the embedded ClickHouse engine is already open on ${embedded.path}; one data directory per process (asked for ${path})`);
    }
    binaryDir = resolve(path, 'inserts');
    if (!embedded) {
      mkdirSync(path, { recursive: true });
      // Binary inserts a crash left behind (the engine binds its data directory to one process: none is in flight).
      rmSync(binaryDir, { recursive: true, force: true });
      mkdirSync(binaryDir);
      // The engine's allocator (jemalloc in libchdb, read from JE_MALLOC_CONF as it loads) keeps the
      // pages an insert freed for 5 s by default, so every batch's peak stacked on the last ones':
      // `vigil ingest` peaked at 625-674 MiB on a 500,000-point backlog, 550-571 MiB returning them
      // after 250 ms, at the same CPU per point (0 ms: 533-538 MiB, 15-60 % more CPU). A value set
      // in the environment is left as it is.
      process.env.JE_MALLOC_CONF ??= EMBEDDED_ALLOCATOR;
      // chdb types its connection against @clickhouse/client-common; the runtime contract is the same.
      const { createChdbConnection } = requireChdb('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection };
      const chdbConnection = createChdbConnection({ path });
      const connection = chdbConnection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
      const ext = (chdbConnection as unknown as { chdb?: { rawInsert?: RawInsert } }).chdb;
      embedded = { path, client: createClient({ connection }), refs: 0, rawInsert: ext?.rawInsert ? (p) => ext.rawInsert!(p) : undefined };
    }
    embedded.refs++;
    client = embedded.client;
    rawInsert = embedded.rawInsert;
    release = async () => {
      if (!embedded) return;
      if (--embedded.refs === 0) {
        const c = embedded.client;
        embedded = undefined;
        await c.close();
      }
    };
  }
  let state: { status: DependencyStatus; detail?: string } = { status: 'starting' };
  let closed = false;
  const insertEncoded = rawInsert
    ? async (p: EncodedInsert): Promise<void> => {
        if (p.format === 'RowBinaryWithNamesAndTypes') return insertBinaryFile(client, binaryDir!, p);
        await rawInsert({ table: p.table, values: p.body, format: p.format, columns: [...p.columns], ...(p.settings ? { settings: p.settings } : {}) });
      }
    : undefined;
  return {
    client,
    ...(insertEncoded ? { insertEncoded } : {}),
    database: opts.database,
    kind,
    layout,
    table: (name) => layout.table(name),
    status: () => state,
    async ping() {
      try {
        const r = await client.ping();
        if (!r.success) throw r.error;
        state = { status: 'up' };
        return true;
      } catch (err) {
        const detail = `${kind === 'server' ? opts.url : 'embedded engine'}: ${(err as Error).message}`;
        if (state.status !== 'down') log.warn(detail);
        state = { status: 'down', detail };
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await release();
    },
  };
}

/** Column names as SQL identifiers (the table's own names, from the migrations: backquoted, backquotes doubled). */
const ident = (name: string) => `\`${name.replace(/`/g, '``')}\``;
let binarySeq = 0;

/**
 * Binary rows into the embedded engine: a file in `<data>/clickhouse/inserts` (the page cache, not
 * a round trip), read by one INSERT ... SELECT with the insert's settings, then removed. Table and
 * column names come from Vigil's migrations, the file name from this process; no value is in the SQL.
 */
async function insertBinaryFile(client: ClickHouseClient, dir: string, p: EncodedInsert): Promise<void> {
  const file = resolve(dir, `${process.pid}-${++binarySeq}.rowbinary`);
  await writeFile(file, p.body);
  try {
    await client.command({
      query: `INSERT INTO ${p.table} (${p.columns.map(ident).join(', ')}) SELECT * FROM file('${file.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}', 'RowBinaryWithNamesAndTypes')`,
      clickhouse_settings: p.settings as Record<string, string>,
    });
  } finally {
    await rm(file, { force: true });
  }
}

/** Rows of a query, with `{name:Type}` parameters. */
export async function queryRows<T>(storage: Storage, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await storage.client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}
