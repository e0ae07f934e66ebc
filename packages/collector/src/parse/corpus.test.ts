import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@vigil/platform';
import { formatCorpusReport, loadCorpus, scoreCorpus } from './corpus.js';
import { compileRulePack } from './compile.js';
import { loadRulePack } from './load.js';

/**
 * The default pack against the corpus of real-world lines (fixtures/corpus: one file per source,
 * lines as the programs print them by default). The same report: `pnpm vigil parse --rules
 * default --corpus packages/collector/src/parse/fixtures/corpus`.
 */

const CORPUS = join(import.meta.dirname, 'fixtures/corpus');
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
// MISSION D's categories, and its severities.
const BRIEF_CATEGORIES = ['database_connection', 'cache_connection', 'application_error'];

describe('the default pack on the corpus of real-world lines', () => {
  const records = loadCorpus(CORPUS);
  const report = scoreCorpus(loadRulePack('default'), records, NOW);

  it('is a corpus: at least 15 sources and 300 records, each with a severity', () => {
    console.log(formatCorpusReport(report, 'default'));
    expect(report.bySource.size).toBeGreaterThanOrEqual(15);
    expect(report.records).toBeGreaterThanOrEqual(300);
    for (const c of BRIEF_CATEGORIES) expect(report.byCategory.get(c)?.total, c).toBeGreaterThanOrEqual(10);
  });

  it('classifies every record of the categories the brief names, and gives them to no other record', () => {
    const misses = report.misses.filter((m) => BRIEF_CATEGORIES.includes(m.record.category ?? '') || m.problems.some((p) => BRIEF_CATEGORIES.some((c) => p.includes(`got ${c}`))));
    expect(misses.map((m) => `${m.record.at}: ${m.problems.join('; ')}`)).toEqual([]);
    for (const c of BRIEF_CATEGORIES) expect(report.byCategory.get(c)).toMatchObject({ right: report.byCategory.get(c)!.total, wrong: 0 });
  });

  it('gives every record its severity: low, medium, high, critical, or none where the line states none', () => {
    for (const [severity, t] of report.bySeverity) expect([severity, t.right]).toEqual([severity, t.total]);
  });

  it('gets everything else right too: other categories, bodies, times and attributes', () => {
    expect(report.misses.map((m) => `${m.record.at}: ${m.problems.join('; ')}`)).toEqual([]);
  });
});

describe('corpus files', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-corpus-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a malformed record is named with its file, position and key', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, "source: app\nrecords:\n  - { severity: loud, line: 'x' }\n  - { severity: low }\n  - { severity: low, line: y, colour: red }\n");
    let problems: string[] = [];
    try {
      loadCorpus(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([
      'bad.yaml: records[0].severity: "loud" is not a severity (use low, medium, high, critical, none)',
      'bad.yaml: records[1].line: the log line (text) is required',
      'bad.yaml: records[2].colour: unknown key (allowed: line, severity, category, attributes, body, timestamp)',
    ]);
  });

  it('scores what differs: severity, category (missed and wrongly given), attributes, body, time', () => {
    const file = join(dir, 'app.yaml');
    writeFileSync(
      file,
      [
        'records:',
        "  - { severity: high, category: database_connection, line: 'db down' }",
        "  - { severity: medium, line: 'db down' }",
        "  - { severity: none, line: 'hello', body: 'hi', attributes: { x: 1 }, timestamp: '2024-01-01T00:00:00Z' }",
      ].join('\n'),
    );
    const pack = compileRulePack({ rules: [{ name: 'db', match: 'db down', severity: 'high', category: 'database_connection' }] }, 'inline');
    const r = scoreCorpus(pack, loadCorpus(file), NOW);
    expect([r.records, r.right, r.lines]).toEqual([3, 1, 3]);
    expect(r.bySource.get('app')).toEqual({ total: 3, right: 1 });
    expect(r.byCategory.get('database_connection')).toEqual({ total: 1, right: 1, wrong: 1 });
    expect(r.misses.map((m) => m.problems)).toEqual([
      ['severity: expected medium, got high (ERROR)', 'category: expected none, got database_connection'],
      ['attribute x: expected 1, got undefined', 'body: expected "hi", got "hello"', `timestamp: expected 2024-01-01T00:00:00Z, got ${new Date(NOW).toISOString()}`],
    ]);
    expect(formatCorpusReport(r, 'inline')).toContain('inline: 1 of 3 records right (33.3 %); 3 records, 3 lines, 1 sources');
  });
});
