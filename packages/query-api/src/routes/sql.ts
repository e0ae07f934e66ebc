import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { logger } from '@vigil/platform';
import { QueryRefusedError, errorResponses } from '../errors.js';
import { MAX_SQL_LENGTH, checkSqlText, checkTables, tablesOfQueryTree } from '../sql-check.js';
import type { RouteOptions } from './options.js';

/**
 * POST /api/v1/sql (scope read): read-only SQL over Vigil's tables for analysts. One SELECT,
 * checked before it runs (sql-check.ts: one statement, only Vigil's database, found by the
 * analyzer's `EXPLAIN QUERY TREE`), then run by the engine with `readonly=1` (no writes, no
 * SYSTEM, no settings changed by the query), a time limit, and result row and byte limits.
 */

export interface SqlLimits {
  /** Longest a query may run; default 10 s. */
  timeoutMs: number;
  maxRows: number;
  maxBytes: number;
  maxMemoryBytes: number;
}

export const DEFAULT_SQL_LIMITS: SqlLimits = { timeoutMs: 10_000, maxRows: 10_000, maxBytes: 10 * 1024 * 1024, maxMemoryBytes: 1024 * 1024 * 1024 };

export const SqlBody = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: MAX_SQL_LENGTH, description: 'one SELECT; name tables with their database, e.g. vigil.otel_logs' }),
    format: Type.Optional(Type.Unsafe<'json' | 'csv'>({ type: 'string', enum: ['json', 'csv'], description: 'json (default) or csv (with a header row)' })),
  },
  { additionalProperties: false },
);
export type SqlBody = Static<typeof SqlBody>;

export const SqlReply = Type.Object({
  columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  rows: Type.Array(Type.Object({}, { additionalProperties: true })),
  rowCount: Type.Integer(),
  elapsedMs: Type.Number(),
  limits: Type.Object({ timeoutMs: Type.Integer(), maxRows: Type.Integer(), maxBytes: Type.Integer() }),
});
export type SqlReply = Static<typeof SqlReply>;

const log = logger('query-api.sql');


/** `Code: 159. DB::Exception: Timeout exceeded: ... (TIMEOUT_EXCEEDED)` → a sentence with what to do. */
export function explainEngineError(text: string, limits: SqlLimits): string {
  const m = /(?:Code: (\d+)\. )?(?:DB::Exception: )?([^\n]*)/.exec(text.trim());
  const code = Number(m?.[1] ?? 0);
  const reason = (m?.[2] ?? text).replace(/\. \(([A-Z_]+)\)( \(version [^)]*\))?$/, ' ($1)').slice(0, 500);
  if (code === 159 || /TIMEOUT_EXCEEDED|Timeout exceeded/.test(text)) return `the query ran longer than ${limits.timeoutMs / 1000} s and was stopped; narrow the time range or aggregate more (${reason})`;
  if (code === 396 || /TOO_MANY_ROWS_OR_BYTES|Limit for result exceeded/.test(text)) return `the result is larger than ${limits.maxRows} rows or ${limits.maxBytes} bytes; add a LIMIT or aggregate (${reason})`;
  if (code === 241 || /MEMORY_LIMIT_EXCEEDED|Memory limit/.test(text)) return `the query needs more than ${limits.maxMemoryBytes} bytes of memory; aggregate over less (${reason})`;
  if (code === 164 || /READONLY|readonly mode/.test(text)) return `only reading is allowed here (${reason})`;
  if (/UNKNOWN_TABLE|Unknown table/.test(text)) return `${reason}; name tables with their database, e.g. vigil.otel_logs`;
  return reason;
}

export const sqlRoutes: FastifyPluginAsync<RouteOptions & { sqlLimits?: Partial<SqlLimits> }> = async (app, { storage, sqlLimits }) => {
  const limits = { ...DEFAULT_SQL_LIMITS, ...sqlLimits };
  // readonly last: once it applies, no later setting may change, the query's own SETTINGS included.
  const settings = {
    max_execution_time: Math.max(1, Math.ceil(limits.timeoutMs / 1000)),
    timeout_overflow_mode: 'throw',
    max_result_rows: String(limits.maxRows),
    max_result_bytes: String(limits.maxBytes),
    result_overflow_mode: 'throw',
    max_memory_usage: String(limits.maxMemoryBytes),
    readonly: '1',
  } as const;

  // The limits go in the query's own SETTINGS clause around the analyst's SELECT, never as
  // clickhouse_settings: the embedded engine applies those as SET on its one session, which
  // left every later query of the process read-only (ingest's inserts failed from then on).
  const clause = Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : /^\d+$/.test(v) ? v : `'${v}'`}`)
    .join(', ');
  const limited = (query: string) => `SELECT * FROM (\n${query.trim().replace(/;\s*$/, '')}\n) SETTINGS ${clause}`;

  async function run(query: string, format: 'JSON' | 'CSVWithNames' | 'TabSeparatedRaw'): Promise<string> {
    let text: string;
    try {
      const rs = await storage.client.query({ query, format });
      text = await rs.text();
    } catch (err) {
      throw new QueryRefusedError(explainEngineError((err as Error).message, limits));
    }
    // An error after the first rows arrives inside the body.
    const tail = text.slice(-2000);
    const ex = /Code: \d+\. DB::Exception:[^\n]*/.exec(tail);
    if (ex && format !== 'TabSeparatedRaw') throw new QueryRefusedError(explainEngineError(ex[0], limits));
    return text;
  }

  app.post<{ Body: SqlBody }>(
    '/sql',
    {
      config: { scope: 'read' },
      schema: {
        description: `Read-only SQL over Vigil's tables: one SELECT, readonly=1, at most ${limits.timeoutMs / 1000} s, ${limits.maxRows} rows and ${limits.maxBytes} bytes of result. JSON or CSV.`,
        body: SqlBody,
        response: { 200: SqlReply, 400: errorResponses[400], 500: errorResponses[500], 503: errorResponses[503] },
      },
    },
    async (req, reply) => {
      const query = checkSqlText(req.body.query);
      if (storage.status().status === 'down') throw new QueryRefusedError('ClickHouse is down; check /health and retry');
      checkTables(tablesOfQueryTree(await run(`EXPLAIN QUERY TREE ${query}`, 'TabSeparatedRaw')), storage.database);
      const started = performance.now();
      if (req.body.format === 'csv') {
        const csv = await run(limited(query), 'CSVWithNames');
        log.info({ format: 'csv', bytes: csv.length, ms: Math.round(performance.now() - started) }, 'sql query answered');
        return reply.type('text/csv; charset=utf-8').send(csv);
      }
      const text = await run(limited(query), 'JSON');
      let parsed: { meta: { name: string; type: string }[]; data: Record<string, unknown>[]; rows: number };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        throw new QueryRefusedError('the engine answered something that is not JSON; retry, or ask for format csv');
      }
      // The query text can hold personal data: only its size is logged.
      log.info({ format: 'json', rows: parsed.rows, ms: Math.round(performance.now() - started) }, 'sql query answered');
      return { columns: parsed.meta, rows: parsed.data, rowCount: parsed.rows, elapsedMs: Math.round((performance.now() - started) * 10) / 10, limits: { timeoutMs: limits.timeoutMs, maxRows: limits.maxRows, maxBytes: limits.maxBytes } };
    },
  );
};
