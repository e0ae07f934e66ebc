import { ValueType, type Attributes, type BatchObservableResult, type ObservableGauge } from '@opentelemetry/api';
import { Type, type StaticDecode } from '@sinclair/typebox';
import { ConfigError, Duration, logger } from '@vigil/platform';
import { definePlugin, type PluginContext } from '../../plugin.js';
import { Loops } from '../loops.js';
import { databaseUrlProblem, loadMysql, mysqlOptions } from '../probe/checks.js';

const log = logger('collector.sql');

// The database clients are loaded at the first query: a collector without sql plugins does not carry them.
const loadPg = () => import('pg').then((m) => m.default);

const Metric = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.]*$', description: 'Metric name (app.orders.waiting).' }),
    value: Type.String({ minLength: 1, description: 'The column holding the value.' }),
    unit: Type.String({ default: '', description: 'UCUM unit (1, s, {order}).' }),
    description: Type.String({ default: '' }),
  },
  { additionalProperties: false },
);

const Query = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Name of the query, unique in this plugin (shown in vigil.sql.* metrics and logs).' }),
    sql: Type.String({ minLength: 1, description: 'A SELECT; run in a read-only transaction with the statement timeout.' }),
    metrics: Type.Array(Metric, { minItems: 1, description: 'Gauges made of each result row: one per value column.' }),
    labels: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Columns that become attributes of every gauge of a row (sql_exporter\'s key labels).' }),
  },
  { additionalProperties: false },
);

export const SqlOptions = Type.Object(
  {
    url: Type.String({
      pattern: '^(postgres(ql)?|mysql|mariadb)://',
      description: 'postgres://user@host:5432/db or mysql://user@host:3306/db (MySQL and MariaDB); the password goes in `password`.',
    }),
    password: Type.String({ default: '', description: 'From the environment only: ${APP_DB_PASSWORD}.' }),
    interval: Duration({ default: '1m', description: 'Time between two runs of the queries.' }),
    timeout: Duration({ default: '10s', description: 'Statement timeout of each query (and the connect timeout).' }),
    queries: Type.Array(Query, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type SqlOptionsConfig = StaticDecode<typeof SqlOptions>;
type QueryConfig = StaticDecode<typeof Query>;

/** One gauge value of one row. */
export interface SqlSample {
  metric: string;
  value: number;
  attributes: Attributes;
}

/**
 * Rows to samples (pure), the way sql_exporter reads them: each row gives one sample per metric,
 * its value from the metric's column and its attributes from the label columns. A row whose value
 * is not a number is skipped and reported.
 */
export function rowsToSamples(q: Pick<QueryConfig, 'metrics' | 'labels'>, rows: readonly Record<string, unknown>[]): { samples: SqlSample[]; problems: string[] } {
  const samples: SqlSample[] = [];
  const problems: string[] = [];
  rows.forEach((row, i) => {
    const attributes: Attributes = {};
    for (const l of q.labels) {
      const v = row[l];
      if (v !== null && v !== undefined) attributes[l] = v instanceof Date ? v.toISOString() : String(v);
    }
    for (const m of q.metrics) {
      const raw = row[m.value];
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' || typeof raw === 'bigint' ? Number(raw) : raw instanceof Date ? raw.getTime() / 1000 : Number.NaN;
      if (!Number.isFinite(value)) {
        problems.push(`row ${i}: column "${m.value}" is ${raw === undefined ? 'missing' : JSON.stringify(raw)}, not a number`);
        continue;
      }
      samples.push({ metric: m.name, value, attributes });
    }
  });
  return { samples, problems };
}

/** Checks what the schema cannot: the URL's escapes, unique query names, a metric name used with one unit. */
function checkQueries(options: SqlOptionsConfig, at: string): void {
  const problems: string[] = [];
  const names = new Set<string>();
  const units = new Map<string, string>();
  const urlProblem = databaseUrlProblem(options.url);
  if (urlProblem) problems.push(`${at}.url: ${urlProblem}`);
  options.queries.forEach((q, i) => {
    if (names.has(q.name)) problems.push(`${at}.queries[${i}].name: "${q.name}" is used twice (give each query its own name)`);
    names.add(q.name);
    q.metrics.forEach((m, j) => {
      const unit = units.get(m.name);
      if (unit !== undefined && unit !== m.unit) problems.push(`${at}.queries[${i}].metrics[${j}].unit: "${m.name}" has unit "${unit}" elsewhere (one metric, one unit)`);
      units.set(m.name, m.unit);
    });
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Runs one query read-only with a statement timeout on a fresh connection (PostgreSQL, MySQL or MariaDB by the URL's scheme). */
export async function runReadOnly(url: string, password: string, sql: string, timeoutMs: number): Promise<Record<string, unknown>[]> {
  return /^(mysql|mariadb):/.test(url) ? runReadOnlyMysql(url, password, sql, timeoutMs) : runReadOnlyPostgres(url, password, sql, timeoutMs);
}

async function runReadOnlyPostgres(url: string, password: string, sql: string, timeoutMs: number): Promise<Record<string, unknown>[]> {
  const pg = await loadPg();
  const client = new pg.Client({
    connectionString: url,
    ...(password ? { password } : {}),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
    // Every transaction of this session is read-only: the query cannot write, even through a function.
    options: '-c default_transaction_read_only=on',
    application_name: 'vigil-collector',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query(sql);
    return result.rows as Record<string, unknown>[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * MySQL and MariaDB: the query runs in a READ ONLY transaction (a write, even through a stored
 * function, is refused by the server) that is rolled back; the server stops it at the timeout
 * (MariaDB's max_statement_time, MySQL's max_execution_time) and the client gives up a second later.
 * One statement per query: a `; DROP ...` after it is a syntax error, not a second statement.
 */
async function runReadOnlyMysql(url: string, password: string, sql: string, timeoutMs: number): Promise<Record<string, unknown>[]> {
  const mysql = await loadMysql();
  const conn = await mysql.createConnection(mysqlOptions(url, timeoutMs, password));
  conn.on('error', () => undefined);
  try {
    const [[server]] = (await conn.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    const limit = /mariadb/i.test(server?.v ?? '')
      ? `SET SESSION max_statement_time = ${(timeoutMs / 1000).toFixed(3)}`
      : `SET SESSION max_execution_time = ${Math.max(1, Math.round(timeoutMs))}`;
    await conn.query(limit);
    await conn.query('START TRANSACTION READ ONLY');
    const [rows] = await conn.query({ sql, timeout: timeoutMs + 1_000 });
    if (!Array.isArray(rows)) throw new Error('the statement returned no rows (only a SELECT can be used)');
    return rows as Record<string, unknown>[];
  } finally {
    await conn.query('ROLLBACK').catch(() => undefined);
    conn.destroy();
  }
}

/**
 * `type: sql`: runs read-only queries against PostgreSQL, MySQL or MariaDB on an interval and reports each result
 * row as gauges with its label columns, as sql_exporter does, so business counters (orders waiting
 * over two hours) reach the rules without code in the application. Per query it also reports
 * `vigil.sql.up` (1 when the last run succeeded) and `vigil.sql.duration` (s).
 */
export const sqlPlugin = definePlugin({
  type: 'sql',
  description: 'Read-only SQL queries against PostgreSQL, MySQL or MariaDB on an interval, each row as gauges with its label columns.',
  schema: SqlOptions,
  check(options, at) {
    checkQueries(options, at);
  },
  create(options, ctx: PluginContext) {
    checkQueries(options, `collector.plugins[${ctx.name}]`);
    const gauges = new Map<string, ObservableGauge>();
    for (const q of options.queries) {
      for (const m of q.metrics) if (!gauges.has(m.name)) gauges.set(m.name, ctx.meter.createObservableGauge(m.name, { unit: m.unit, description: m.description }));
    }
    const up = ctx.meter.createObservableGauge('vigil.sql.up', { unit: '1', description: '1 when the last run of the query succeeded.', valueType: ValueType.INT });
    const duration = ctx.meter.createObservableGauge('vigil.sql.duration', { unit: 's', description: 'Time the last run of the query took.' });
    const last = new Map<string, { samples: SqlSample[]; ok: boolean; seconds: number }>();
    const callback = (r: BatchObservableResult) => {
      for (const [name, l] of last) {
        const attrs = { 'vigil.sql.query': name, 'vigil.sql.plugin': ctx.name };
        r.observe(up, l.ok ? 1 : 0, attrs);
        r.observe(duration, l.seconds, attrs);
        for (const s of l.samples) r.observe(gauges.get(s.metric)!, s.value, s.attributes);
      }
    };
    const loops = new Loops((err) => log.warn({ plugin: ctx.name, err: err.message }, 'sql loop failed'));

    async function runAll(): Promise<void> {
      for (const q of options.queries) {
        const began = performance.now();
        try {
          const rows = await runReadOnly(options.url, options.password, q.sql, options.timeout);
          const { samples, problems } = rowsToSamples(q, rows);
          if (problems.length > 0) log.warn({ plugin: ctx.name, query: q.name, problems: problems.slice(0, 5) }, 'rows skipped: their value is not a number');
          last.set(q.name, { samples, ok: true, seconds: (performance.now() - began) / 1000 });
        } catch (err) {
          // The gauges of a failed query disappear (no stale business numbers); vigil.sql.up says why.
          last.set(q.name, { samples: [], ok: false, seconds: (performance.now() - began) / 1000 });
          log.warn({ plugin: ctx.name, query: q.name, err: (err as Error).message }, 'sql query failed');
        }
      }
    }

    return {
      async start() {
        ctx.meter.addBatchObservableCallback(callback, [up, duration, ...gauges.values()]);
        loops.every(options.interval, runAll);
      },
      async stop() {
        await loops.stop();
        ctx.meter.removeBatchObservableCallback(callback, [up, duration, ...gauges.values()]);
      },
      /** Runs the queries now (tests). */
      runNow: runAll,
    } as { start(): Promise<void>; stop(): Promise<void>; runNow(): Promise<void> };
  },
});
