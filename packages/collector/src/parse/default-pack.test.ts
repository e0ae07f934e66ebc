import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlDocument } from '@vigil/platform';
import { loadCorpus } from './corpus.js';
import { builtinRulePacks, loadRulePack } from './load.js';

interface Case {
  name: string;
  line: string;
  rules: string[];
  severity?: number;
  category?: string;
  body?: string;
  timestamp?: string;
  attributes?: Record<string, unknown>;
  absent?: string[];
}

const cases = parseYamlDocument(readFileSync(join(import.meta.dirname, 'fixtures/default-pack.cases.yaml'), 'utf8')).toJS() as Case[];
const parser = loadRulePack('default');
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);

describe('the default rule pack on realistic lines', () => {
  it('ships default and plain', () => {
    expect(builtinRulePacks()).toEqual(expect.arrayContaining(['default', 'plain']));
  });

  it('covers every rule with at least one sample, here or in the corpus of real-world lines', () => {
    const used = new Set(cases.flatMap((c) => c.rules));
    for (const r of loadCorpus(join(import.meta.dirname, 'fixtures/corpus'))) for (const name of parser.parse(r.line, { timestamp: NOW }).matched) used.add(name);
    expect(parser.rules.filter((r) => !used.has(r))).toEqual([]);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = parser.parse(c.line, { timestamp: NOW });
    const attrs = r.record.attributes ?? {};
    expect(r.matched).toEqual(c.rules);
    if (c.severity !== undefined) expect(r.record.severityNumber).toBe(c.severity);
    if (c.category !== undefined) expect(attrs['vigil.category']).toBe(c.category);
    if (c.body !== undefined) expect(r.record.body).toBe(c.body);
    else expect(r.record.body).toBe(c.line);
    if (c.timestamp !== undefined) expect(new Date(r.record.timestamp!).toISOString()).toBe(c.timestamp);
    for (const [k, v] of Object.entries(c.attributes ?? {})) expect([k, attrs[k]]).toEqual([k, v]);
    for (const k of c.absent ?? []) expect(attrs).not.toHaveProperty([k]);
  });

  it('counts classified errors per category and severity, and access-log traffic per method and status', () => {
    const db = parser.parse('Error: connect ECONNREFUSED 127.0.0.1:5432', { timestamp: NOW });
    expect(db.metrics.find((m) => m.name === 'vigil.log.errors')).toMatchObject({
      kind: 'sum',
      value: 1,
      unit: '{error}',
      attributes: { 'vigil.category': 'database_connection', 'vigil.severity': 'critical' },
    });
    const access = parser.parse('10.0.0.1 - - [01/Feb/2024:00:00:01 +0000] "GET /a HTTP/1.1" 200 2048 "-" "x"', { timestamp: NOW });
    expect(access.metrics.map((m) => [m.name, m.value, m.attributes])).toEqual([
      ['vigil.http.server.requests', 1, { 'http.request.method': 'GET', 'http.response.status_code': 200 }],
      ['vigil.http.server.response.body.size', 2048, { 'http.request.method': 'GET' }],
      ['vigil.http.server.last_request', Date.UTC(2024, 1, 1, 0, 0, 1) / 1000, {}],
    ]);
    // No body size ("-"): the bytes metric is not updated rather than updated with NaN.
    const noBody = parser.parse('10.0.0.1 - - [01/Feb/2024:00:00:01 +0000] "GET /a HTTP/1.1" 304 - "-" "x"', { timestamp: NOW });
    expect(noBody.metrics.map((m) => m.name)).toEqual(['vigil.http.server.requests', 'vigil.http.server.last_request']);
  });

  it('classifies the message of a JSON line, and keeps the level the line states when no rule raises it', () => {
    const r = parser.parse(JSON.stringify({ level: 'error', time: '2024-01-15T10:00:00Z', msg: 'could not connect to database: ECONNREFUSED', service: { name: 'orders' } }), { timestamp: NOW });
    expect(r.matched).toEqual(['database_connection_refused']);
    expect(r.record.severityNumber).toBe(21);
    expect(r.record.body).toBe('could not connect to database: ECONNREFUSED');
    expect(r.record.attributes).toMatchObject({ 'vigil.category': 'database_connection', 'service.name': 'orders' });
    const info = parser.parse('{"level":"warn","msg":"slow request"}', { timestamp: NOW });
    expect(info.record.severityNumber).toBe(13);
    expect(info.record.severityText).toBe('warn');
  });
});
