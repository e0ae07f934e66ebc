import { ParameterError } from './parameters.js';

/**
 * What the analysts' SQL endpoint lets through, as pure functions: one SELECT (or WITH ...
 * SELECT), reading only tables of Vigil's database. The engine enforces the rest (readonly=1,
 * time, row and byte limits); these checks make the refusals say why before anything runs.
 */

export const MAX_SQL_LENGTH = 100_000;

/** Removes `-- ...`, `# ...` and `/* ... *\/` comments outside of quotes, and string and identifier contents, for keyword checks. */
export function skeleton(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    if (two === '--' || c === '#') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
      out += ' ';
    } else if (two === '/*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      out += `${c}${c}`;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The query to run: one read statement, trailing semicolons dropped; ParameterError('query') otherwise. */
export function checkSqlText(sql: string): string {
  if (sql.length > MAX_SQL_LENGTH) throw new ParameterError('query', `is ${sql.length} characters, more than the ${MAX_SQL_LENGTH} allowed`);
  const bare = skeleton(sql).trim().replace(/;\s*$/, '');
  if (bare === '') throw new ParameterError('query', 'is empty (give one SELECT statement)');
  if (bare.includes(';')) throw new ParameterError('query', 'holds more than one statement (send one SELECT at a time)');
  const first = /^\(*\s*([A-Za-z]+)/.exec(bare)?.[1]?.toUpperCase();
  if (first !== 'SELECT' && first !== 'WITH') {
    throw new ParameterError('query', `starts with ${first ? JSON.stringify(first) : 'no keyword'}: only SELECT (or WITH ... SELECT) is allowed; this endpoint is read-only`);
  }
  // The limits (readonly, time, rows, bytes, memory) are the query's outer SETTINGS; an inner clause could lift them.
  if (/\bSETTINGS\b/i.test(bare)) throw new ParameterError('query', 'has a SETTINGS clause: the engine settings of this endpoint are fixed (read-only, time, row and byte limits); remove it');
  if (/\bINTO\s+OUTFILE\b/i.test(bare)) throw new ParameterError('query', 'writes a file (INTO OUTFILE): only reading is allowed');
  return sql.trim().replace(/;\s*$/, '');
}

export interface TableRef {
  kind: 'table' | 'function';
  name: string;
}

/** Tables and table functions named in the output of `EXPLAIN QUERY TREE` (the analyzer's resolved names). */
export function tablesOfQueryTree(explain: string): TableRef[] {
  const refs: TableRef[] = [];
  for (const m of explain.matchAll(/\btable_name: ([^\s,]+)/g)) refs.push({ kind: 'table', name: m[1]! });
  for (const m of explain.matchAll(/\btable_function_name: ([^\s,]+)/g)) refs.push({ kind: 'function', name: m[1]! });
  return refs;
}

/** Table functions that read nothing stored (generated rows). */
export const ALLOWED_TABLE_FUNCTIONS = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generate_series', 'generateSeries', 'values']);

/** Refuses a table outside `database` (system.one is the FROM-less SELECT's table) and table functions that read something. */
export function checkTables(refs: readonly TableRef[], database: string): void {
  for (const r of refs) {
    if (r.kind === 'function') {
      if (ALLOWED_TABLE_FUNCTIONS.has(r.name)) continue;
      throw new ParameterError('query', `uses the table function ${r.name}(): only Vigil's tables (${database}.*) can be read here`);
    }
    if (r.name === 'system.one' || r.name.startsWith(`${database}.`)) continue;
    throw new ParameterError('query', `reads ${r.name}: only Vigil's tables (${database}.*) can be read here`);
  }
}
