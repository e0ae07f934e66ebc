import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `vigil parse` as a user runs it: the real CLI in a child process, a sample on stdin. */

const dir = mkdtempSync(join(os.tmpdir(), 'vigil-parse-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mixed = readFileSync(join(import.meta.dirname, 'fixtures/mixed.txt'), 'utf8');

function vigil(input: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['packages/cli/bin/vigil.mjs', 'parse', ...args], { input, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('vigil parse', () => {
  it('text: per line severity, category, rules, attributes and metrics, and a summary (default pack without --rules)', () => {
    const sample = [
      '203.0.113.5 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders HTTP/1.1" 503 12 "-" "curl/8.0"',
      'Error: connect ECONNREFUSED 127.0.0.1:5432',
      'just words',
    ].join('\n');
    const r = vigil(`${sample}\n`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('line 1: WARN(13) medium  category=http_server_error  rules=nginx_access,http_server_error_status');
    expect(r.out).toContain('  attribute  http.response.status_code = 503');
    expect(r.out).toContain('  metric     vigil.http.server.requests sum 1 {request} {http.request.method="GET" http.response.status_code=503}');
    expect(r.out).toContain('line 2: FATAL(21) critical  category=database_connection  rules=exception_line,database_connection_refused');
    expect(r.out).toContain('line 3: no severity  rules=(none)');
    expect(r.out).toContain('3 line(s), 2 matched by a rule of default; http_server_error: 1, database_connection: 1');
  });

  it('json: one object per line with the record, metrics and matched rules', () => {
    const r = vigil(mixed, '--rules', 'default', '--format', 'json');
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as { line: number; matched: string[]; record: { attributes: Record<string, unknown> } });
    expect(rows).toHaveLength(mixed.trim().split('\n').length);
    expect(rows[0]!.line).toBe(1);
    const categories = new Set(rows.map((x) => x.record.attributes['vigil.category']).filter(Boolean));
    expect(categories).toEqual(new Set(['http_server_error', 'upstream_connection', 'database_connection', 'cache_connection', 'application_error']));
  });

  it('multiline: the file plugin options join a stack trace onto its line, as the file will be tailed', () => {
    const sample = [
      '2024-01-15 10:00:00,123 ERROR [worker-1] orders: payment failed',
      'Traceback (most recent call last):',
      '  File "/app/orders.py", line 42, in pay',
      'redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.',
      '2024-01-15 10:00:01,000 INFO [worker-1] orders: next',
    ].join('\n');
    const r = vigil(`${sample}\n`, '--multiline-start-pattern', '^\\d{4}-\\d{2}-\\d{2} ', '--multiline-max-lines=50');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('line 1-4: ERROR(17) high  category=cache_connection');
    expect(r.out).toContain('  body       "orders: payment failed"');
    expect(r.out).toContain('  attribute  exception.type = "redis.exceptions.ConnectionError"');
    expect(r.out).toContain('line 5: INFO(9) low');
    expect(r.out).toContain('5 line(s) in 2 record(s), 2 matched by a rule of default; cache_connection: 1');

    const bad = vigil('x\n', '--multiline-start-pattern', '([', '--multiline-flush-timeout', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--multiline-start-pattern: "([" is not a valid regular expression');
    expect(bad.err).toMatch(/--multiline-flush-timeout: "soon" is not a duration/);
    expect(vigil('', '--multiline-max-lines', '5').err).toContain('--multiline-flush-timeout and --multiline-max-lines need --multiline-start-pattern');
  });

  it('--corpus: the accuracy of a pack on lines whose severity and category are known; non-zero when any is wrong', () => {
    const r = vigil('', '--rules', 'default', '--corpus', join(import.meta.dirname, 'fixtures/corpus'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^default: (\d+) of \1 records right \(100\.0 %\); \d+ records, \d+ lines, \d+ sources/);
    expect(r.out).toContain('database_connection');
    const corpus = join(dir, 'corpus.yaml');
    writeFileSync(corpus, "records:\n  - { severity: low, line: 'Error: connect ECONNREFUSED 127.0.0.1:5432' }\n");
    const wrong = vigil('', '--corpus', corpus, '--format', 'json');
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.out)).toMatchObject({ records: 1, right: 0, misses: [{ at: 'corpus.yaml: records[0]', problems: ['severity: expected low, got critical (FATAL)', 'category: expected none, got database_connection'] }] });
  });

  it('a user rules file; a broken one is named with the key; bad options get the usage', () => {
    const good = join(dir, 'tunnel.yaml');
    writeFileSync(good, "rules:\n  - name: conn\n    match: 'tunnel (?<tunnel__id>\\w+) up'\n    category: tunnel\n    metrics: [{ name: vigil.tunnel.up, kind: sum, attributes: [tunnel.id] }]\n");
    const r = vigil('tunnel t9 up\n', '--rules', good);
    expect(r.out).toContain('category=tunnel  rules=conn');
    expect(r.out).toContain('metric     vigil.tunnel.up sum 1 {tunnel.id="t9"}');

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, "rules:\n  - name: oops\n    match: '([a-'\n");
    const b = vigil('x\n', '--rules', bad);
    expect(b.code).toBe(2);
    expect(b.err).toContain(`${bad}: rules[0].match: rule "oops": "([a-" is not a valid regular expression`);

    const u = vigil('', '--format', 'xml');
    expect(u.code).toBe(2);
    expect(u.err).toContain('--format: "xml" is not a format (use text or json)');
    expect(u.err).toContain('usage: vigil parse');
  });
});
