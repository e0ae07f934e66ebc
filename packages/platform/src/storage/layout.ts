/**
 * Where Vigil's tables live, and the DDL that puts them there. Migrations write every statement
 * through this, once, for both layouts:
 *
 * - one server or the embedded engine: a table is one MergeTree-family table, `db.name`;
 * - a cluster (`clickhouse.cluster`): `db.name_local` on every node, a `Replicated*` engine whose
 *   replicas of one shard share a Keeper path, and `db.name`, a `Distributed` table over the local
 *   ones. SQL reads and inserts go through `db.name`, so the names users query (the OpenTelemetry
 *   exporter's `otel_logs`, ...) are the same in both layouts. Materialized views read and write
 *   the local tables on each node; TTLs, orders and settings belong to the local tables.
 *
 * The exporter's own cluster mode (`cluster_name`, `table_engine: ReplicatedMergeTree`) runs its
 * CREATE TABLEs `ON CLUSTER` with a replicated engine and no Distributed table (one shard); this
 * layout keeps that and adds the Distributed table, so the same schema scales to several shards.
 *
 * Single-node statements are byte for byte what the migrations wrote before this layout existed
 * (test/fixtures/migrations.single.sql): an install that is already migrated sees no new DDL.
 */

/** `clickhouse.cluster`: the cluster of the servers' `remote_servers`, and where replicas meet in Keeper. */
export interface ClusterOptions {
  name: string;
  /** Keeper path prefix of every local table, with `{shard}`; the table's path is `<replicaPath>/<db>/<table>`. */
  replicaPath: string;
  /** The replica's name in that path; a macro (`{replica}`) so each node names itself. */
  replicaName: string;
}

export const CLUSTER_DEFAULTS = { replicaPath: '/clickhouse/tables/{shard}', replicaName: '{replica}' } as const;

/** A table, written once for both layouts. */
export interface TableSpec {
  /** Columns and indexes: what goes between the parentheses of CREATE TABLE. */
  columns: string;
  /** A MergeTree-family engine, with its own arguments: `MergeTree`, `ReplacingMergeTree(Time)`, ... */
  engine: string;
  /** PARTITION BY, ORDER BY, TTL: the lines after the engine, before SETTINGS. */
  keys: string;
  /** Table settings, comma-separated, besides deduplication. */
  settings?: string;
  /**
   * Keep the ids of the last 10000 inserted blocks, so a replayed insert carrying the same
   * `insert_deduplication_token` is dropped (ingest's replays). Replicated tables keep them anyway.
   */
  dedup?: boolean;
  /**
   * The Distributed table's sharding key: a deterministic expression of the row, never rand().
   * A replayed insert then sends every row to the shard it went to the first time, where the
   * token is known; rows of one key meet on one shard, so FINAL and ReplacingMergeTree work.
   */
  shardBy: string;
}

export interface SchemaLayout {
  readonly db: string;
  readonly cluster?: ClusterOptions;
  /** `db.name`: what SQL reads and inserts go through (the Distributed table on a cluster). */
  table(name: string): string;
  /** `db.name_local` on a cluster (`db.name` otherwise): where rows are stored; what views read and write. */
  local(name: string): string;
  /** The stored table's bare name (`name_local` on a cluster), as `system.tables` lists it. */
  localName(name: string): string;
  createDatabase(): string;
  /** The stored table; on a cluster also the Distributed table over it. */
  createTable(name: string, spec: TableSpec): string[];
  /** A materialized view writing into `to`'s stored table; `select` must read stored tables (`local(...)`). */
  createView(name: string, to: string, select: string): string[];
  /**
   * Changes to a table. `columns` (ADD/DROP/MODIFY COLUMN) apply to the stored table and, on a
   * cluster, to the Distributed one too; `storage` (ORDER BY, TTL, settings, indexes) to the stored table only.
   */
  alter(name: string, changes: { columns?: string[]; storage?: string[] }): string[];
}

/** How many insert blocks a table remembers for deduplication (both layouts). */
export const DEDUP_WINDOW = 10_000;
/**
 * How long a replicated table remembers them: 7 days, the ingest ledger's TTL, over which replays
 * are planned. The server's default (3600 s on ClickHouse 26.7, as chDB's system.merge_tree_settings
 * shows) would let a replay after an hour's outage write its rows again; the embedded engine's
 * window has no time bound.
 */
export const DEDUP_WINDOW_SECONDS = 7 * 86_400;

const MERGE_TREE = /^(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing|Coalescing)?MergeTree(?:\((.*)\))?$/s;

export function schemaLayout(db: string, cluster?: ClusterOptions): SchemaLayout {
  const local = (name: string) => (cluster ? `${name}_local` : name);
  const on = cluster ? ` ON CLUSTER ${cluster.name}` : '';
  const engineOf = (name: string, engine: string): string => {
    const m = MERGE_TREE.exec(engine);
    if (!m) throw new Error(`table ${name}: engine ${engine} is not of the MergeTree family, so it has no Replicated form`);
    if (!cluster) return engine;
    const path = `${cluster.replicaPath.replace(/\/+$/, '')}/${db}/${local(name)}`;
    const args = [`'${path}'`, `'${cluster.replicaName}'`, ...(m[2]?.trim() ? [m[2].trim()] : [])];
    return `Replicated${m[1] ?? ''}MergeTree(${args.join(', ')})`;
  };
  const settingsOf = (spec: TableSpec): string => {
    const list = [spec.settings];
    if (cluster) list.push(`replicated_deduplication_window = ${DEDUP_WINDOW}, replicated_deduplication_window_seconds = ${DEDUP_WINDOW_SECONDS}`);
    else if (spec.dedup) list.push(`non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
    const text = list.filter(Boolean).join(', ');
    return text ? `\nSETTINGS ${text}` : '';
  };
  return {
    db,
    ...(cluster ? { cluster } : {}),
    table: (name) => `${db}.${name}`,
    local: (name) => `${db}.${local(name)}`,
    localName: local,
    createDatabase: () => `CREATE DATABASE IF NOT EXISTS ${db}${on}`,
    createTable(name, spec) {
      const stored = `
CREATE TABLE IF NOT EXISTS ${db}.${local(name)}${on} (${spec.columns}
) ENGINE = ${engineOf(name, spec.engine)}
${spec.keys}${settingsOf(spec)}`;
      if (!cluster) return [stored];
      return [
        stored,
        `CREATE TABLE IF NOT EXISTS ${db}.${name}${on} AS ${db}.${local(name)}
ENGINE = Distributed(${cluster.name}, ${db}, ${local(name)}, ${spec.shardBy})`,
      ];
    },
    createView: (name, to, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${name}${on} TO ${db}.${local(to)} AS ${select}`],
    alter(name, { columns = [], storage = [] }) {
      if (columns.length + storage.length === 0) throw new Error(`table ${name}: an ALTER needs at least one change`);
      const out = [`ALTER TABLE ${db}.${local(name)}${on} ${[...columns, ...storage].join(', ')}`];
      if (cluster && columns.length > 0) out.push(`ALTER TABLE ${db}.${name}${on} ${columns.join(', ')}`);
      return out;
    },
  };
}
