import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, parseYamlDocument } from '@vigil/platform';
import { CLASSIFICATIONS, classificationOf, type Classification } from './severity.js';
import type { Parser } from './types.js';

/**
 * A corpus: log lines as real programs print them, each with the severity and category a rule
 * pack should give it, to measure a pack's accuracy (`vigil parse --rules PACK --corpus DIR`).
 * One YAML file per source:
 *
 *   source: nginx
 *   records:
 *     - { severity: low, line: '203.0.113.5 - - [...] "GET / HTTP/1.1" 200 512 "-" "curl/8.4.0"' }
 *     - { severity: medium, category: http_server_error, line: '...' }
 *     - severity: high                       # a multiline record: as the file plugin joins it
 *       category: application_error
 *       attributes: { exception.type: ValueError }
 *       line: |-
 *         Traceback (most recent call last):
 *         ...
 *
 * `severity` is low, medium, high, critical or none; no `category` means the record must have
 * none. `attributes` (a subset that must be present with these values), `body` and `timestamp`
 * (ISO 8601) are checked when given.
 */

export type ExpectedSeverity = Classification | 'none';

export interface CorpusRecord {
  source: string;
  /** Where it is written: file and position, for messages. */
  at: string;
  line: string;
  severity: ExpectedSeverity;
  category: string | undefined;
  attributes: Record<string, unknown> | undefined;
  body: string | undefined;
  timestamp: string | undefined;
}

const SEVERITIES: readonly string[] = [...CLASSIFICATIONS, 'none'];
const KEYS = new Set(['line', 'severity', 'category', 'attributes', 'body', 'timestamp']);

function corpusFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(path, f));
}

/** Reads a corpus file, or every `*.yaml` of a directory. A malformed record is a ConfigError naming the file, the record and the key. */
export function loadCorpus(path: string): CorpusRecord[] {
  const out: CorpusRecord[] = [];
  const problems: string[] = [];
  let files: string[];
  try {
    files = corpusFiles(path);
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the corpus (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  for (const file of files) {
    const name = basename(file);
    const doc = parseYamlDocument(readFileSync(file, 'utf8'), { prettyErrors: true });
    if (doc.errors.length > 0) {
      problems.push(...doc.errors.map((e) => `${name}: ${e.message.split('\n')[0]}`));
      continue;
    }
    const spec = (doc.toJS() ?? {}) as { source?: unknown; records?: unknown };
    const source = typeof spec.source === 'string' ? spec.source : name.replace(/\.ya?ml$/, '');
    if (!Array.isArray(spec.records)) {
      problems.push(`${name}: records: a list of { line, severity, category? } is required`);
      continue;
    }
    spec.records.forEach((r: unknown, i) => {
      const at = `${name}: records[${i}]`;
      if (r === null || typeof r !== 'object') return problems.push(`${at}: an object { line, severity, category? } is required`);
      const rec = r as Record<string, unknown>;
      for (const k of Object.keys(rec)) if (!KEYS.has(k)) problems.push(`${at}.${k}: unknown key (allowed: ${[...KEYS].join(', ')})`);
      if (typeof rec.line !== 'string' || rec.line === '') problems.push(`${at}.line: the log line (text) is required`);
      if (typeof rec.severity !== 'string' || !SEVERITIES.includes(rec.severity)) problems.push(`${at}.severity: ${JSON.stringify(rec.severity)} is not a severity (use ${SEVERITIES.join(', ')})`);
      if (rec.category !== undefined && typeof rec.category !== 'string') problems.push(`${at}.category: a category name is expected`);
      out.push({
        source,
        at,
        line: String(rec.line),
        severity: rec.severity as ExpectedSeverity,
        category: rec.category as string | undefined,
        attributes: rec.attributes as Record<string, unknown> | undefined,
        body: rec.body === undefined ? undefined : String(rec.body),
        timestamp: rec.timestamp === undefined ? undefined : String(rec.timestamp),
      });
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

export interface CorpusMiss {
  record: CorpusRecord;
  /** What differs: `severity: expected high, got medium`. */
  problems: string[];
}

export interface Tally {
  total: number;
  right: number;
}

export interface CorpusReport {
  records: number;
  /** Physical lines (a multiline record counts each of its lines). */
  lines: number;
  right: number;
  bySource: Map<string, Tally>;
  /** Per expected severity: records whose classification came out right. */
  bySeverity: Map<ExpectedSeverity, Tally>;
  /** Per category (expected or given): records expected in it and found in it; `wrong` counts records given it without being expected in it. */
  byCategory: Map<string, Tally & { wrong: number }>;
  misses: CorpusMiss[];
}

function tally<K>(map: Map<K, Tally>, key: K, ok: boolean): void {
  const t = map.get(key) ?? { total: 0, right: 0 };
  t.total++;
  if (ok) t.right++;
  map.set(key, t);
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'string' && String(a) === b);
}

/** Parses every record of the corpus with `parser` (at `now`) and compares it with what is expected. */
export function scoreCorpus(parser: Parser, records: readonly CorpusRecord[], now: number = Date.now()): CorpusReport {
  const report: CorpusReport = { records: records.length, lines: 0, right: 0, bySource: new Map(), bySeverity: new Map(), byCategory: new Map(), misses: [] };
  const category = (name: string) => {
    let c = report.byCategory.get(name);
    if (!c) report.byCategory.set(name, (c = { total: 0, right: 0, wrong: 0 }));
    return c;
  };
  for (const rec of records) {
    report.lines += rec.line.split('\n').length;
    const { record } = parser.parse(rec.line, { timestamp: now });
    const attrs = (record.attributes ?? {}) as Record<string, unknown>;
    const problems: string[] = [];
    const severity: ExpectedSeverity = record.severityNumber ? classificationOf(record.severityNumber) : 'none';
    const severityOk = severity === rec.severity;
    if (!severityOk) problems.push(`severity: expected ${rec.severity}, got ${severity}${record.severityText ? ` (${record.severityText})` : ''}`);
    tally(report.bySeverity, rec.severity, severityOk);
    const got = typeof attrs['vigil.category'] === 'string' ? (attrs['vigil.category'] as string) : undefined;
    if (rec.category !== undefined) {
      const c = category(rec.category);
      c.total++;
      if (got === rec.category) c.right++;
    }
    if (got !== undefined && got !== rec.category) category(got).wrong++;
    if (got !== rec.category) problems.push(`category: expected ${rec.category ?? 'none'}, got ${got ?? 'none'}`);
    for (const [k, v] of Object.entries(rec.attributes ?? {})) if (!same(attrs[k], v)) problems.push(`attribute ${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(attrs[k])}`);
    if (rec.body !== undefined && record.body !== rec.body) problems.push(`body: expected ${JSON.stringify(rec.body)}, got ${JSON.stringify(record.body)}`);
    if (rec.timestamp !== undefined && record.timestamp !== Date.parse(rec.timestamp)) {
      problems.push(`timestamp: expected ${rec.timestamp}, got ${record.timestamp === undefined ? '-' : new Date(record.timestamp).toISOString()}`);
    }
    const ok = problems.length === 0;
    if (ok) report.right++;
    else report.misses.push({ record: rec, problems });
    tally(report.bySource, rec.source, ok);
  }
  return report;
}

function percent(t: Tally): string {
  return t.total === 0 ? '-' : `${((100 * t.right) / t.total).toFixed(1)} %`;
}

/** The report as text: overall accuracy, then per source, severity and category, then every miss. */
export function formatCorpusReport(report: CorpusReport, pack: string): string {
  const out: string[] = [];
  out.push(`${pack}: ${report.right} of ${report.records} records right (${percent({ total: report.records, right: report.right })}); ${report.records} records, ${report.lines} lines, ${report.bySource.size} sources`);
  out.push('', 'by source');
  for (const [s, t] of [...report.bySource].sort(([a], [b]) => a.localeCompare(b))) out.push(`  ${s.padEnd(22)} ${String(t.right).padStart(4)} / ${String(t.total).padEnd(4)} ${percent(t)}`);
  out.push('', 'by expected severity');
  for (const s of [...CLASSIFICATIONS, 'none'] as const) {
    const t = report.bySeverity.get(s);
    if (t) out.push(`  ${s.padEnd(22)} ${String(t.right).padStart(4)} / ${String(t.total).padEnd(4)} ${percent(t)}`);
  }
  out.push('', 'by category (found / expected, and given where not expected)');
  for (const [c, t] of [...report.byCategory].sort(([a], [b]) => a.localeCompare(b))) out.push(`  ${c.padEnd(22)} ${String(t.right).padStart(4)} / ${String(t.total).padEnd(4)} ${percent(t).padEnd(8)} ${t.wrong} wrongly given`);
  if (report.misses.length > 0) {
    out.push('', 'misses');
    for (const m of report.misses) out.push(`  ${m.record.at}: ${m.problems.join('; ')}`, `    ${JSON.stringify(m.record.line.length > 200 ? `${m.record.line.slice(0, 200)}…` : m.record.line)}`);
  }
  return `${out.join('\n')}\n`;
}
