import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@vigil/platform';
import { compileRulePack } from './compile.js';
import { loadRulePack } from './load.js';

const NOW = Date.UTC(2024, 0, 15, 10, 0, 0);

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('compileRulePack: bad packs name the file, the key and what to do', () => {
  it('a bad regex', () => {
    const p = problems(() => compileRulePack({ rules: [{ name: 'ok', match: 'a' }, { name: 'broken', match: '(?<x>unclosed' }] }, 'my.yaml'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^my\.yaml: rules\[1\]\.match: rule "broken": "\(\?<x>unclosed" is not a valid regular expression \(.+\)/);
  });

  it('unknown keys, severities and flags, with what is allowed', () => {
    const p = problems(() => compileRulePack({ rules: [{ name: 'r', match: 'a', severity: 'huge', flags: 'gx', colour: 'red' }] }, 'my.yaml'));
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^my\.yaml: rules\[0\]\.colour: unknown key \(allowed here: name, match, flags, severity/),
        expect.stringMatching(/^my\.yaml: rules\[0\]\.severity: "huge" is not allowed \(use one of low, medium, high, critical/),
        expect.stringMatching(/^my\.yaml: rules\[0\]\.flags: "gx" does not have the expected form/),
      ]),
    );
  });

  it('a template or metric value that names no group, and duplicate names', () => {
    const p = problems(() =>
      compileRulePack(
        {
          rules: [
            { name: 'r', match: '(?<a>\\d+)', attributes: { x: '${b}' }, metrics: [{ name: 'm', kind: 'sum', value: 'bytes' }] },
            { name: 'r', match: 'z' },
          ],
        },
        'p.yaml',
      ),
    );
    expect(p).toEqual([
      'p.yaml: rules[0].attributes.x: rule "r": ${b} is not a named group of the rule\'s match (groups: a)',
      'p.yaml: rules[0].metrics[0].value: rule "r": "bytes" is neither a named group nor an attribute the rule sets (write a number, or one of: a)',
      'p.yaml: rules[1].name: "r" is used twice (give each rule its own name)',
    ]);
  });
});

describe('parsing with rules', () => {
  const parser = compileRulePack(
    {
      rules: [
        {
          name: 'access',
          match: '^(?<client__address>\\S+) (?<http__request__method>[A-Z]+) (?<url__path>\\S+) (?<http__response__status_code>\\d{3}) (?<ms>\\d+)ms$',
          continue: true,
          types: { ms: 'float' },
          attributes: { route: 'route:${url__path}', 'app.flag': 'true' },
        },
        { name: 'slow', match: ' \\d{4,}ms$', severity: 'medium', category: 'slow_request', continue: true },
        { name: 'server_error', match: ' 5\\d\\d \\d+ms$', severity: 'high', category: 'http_error' },
        { name: 'never', match: 'GET', severity: 'critical' },
      ],
    },
    'inline',
  );

  it('named groups become typed attributes, constants are rendered, continue goes on, the first stopping rule ends', () => {
    const r = parser.parse('10.1.1.1 GET /orders 503 1200ms', { timestamp: NOW });
    expect(r.matched).toEqual(['access', 'slow', 'server_error']);
    expect(r.record).toEqual({
      timestamp: NOW,
      body: '10.1.1.1 GET /orders 503 1200ms',
      severityNumber: 17,
      severityText: 'ERROR',
      attributes: {
        'client.address': '10.1.1.1',
        'http.request.method': 'GET',
        'url.path': '/orders',
        'http.response.status_code': 503,
        ms: 1200,
        route: 'route:/orders',
        'app.flag': 'true',
        'vigil.severity': 'high',
        'vigil.category': 'http_error',
      },
    });
  });

  it('a line no rule matches stays as it is, with the default severity of its stream', () => {
    const r = parser.parse('hello', { timestamp: NOW, defaultSeverity: 13, attributes: { 'log.iostream': 'stderr' } });
    expect(r.matched).toEqual([]);
    expect(r.record).toEqual({ timestamp: NOW, body: 'hello', severityNumber: 13, severityText: 'WARN', attributes: { 'log.iostream': 'stderr', 'vigil.severity': 'medium' } });
    const plain = parser.parse('hello', { timestamp: NOW });
    expect(plain.record.severityNumber).toBeUndefined();
    expect(plain.record.attributes).toEqual({});
  });

  it('a stated level beats the stream default, and a rule severity never lowers it', () => {
    const p = compileRulePack(
      { rules: [{ name: 'lvl', match: '^(?<level>\\w+): ', continue: true }, { name: 'low', match: 'disk', severity: 'low' }] },
      'inline',
    );
    const r = p.parse('error: disk full', { timestamp: NOW, defaultSeverity: 13 });
    expect([r.record.severityNumber, r.record.severityText]).toEqual([17, 'error']);
    const info = p.parse('info: hello', { timestamp: NOW, defaultSeverity: 13 });
    expect(info.record.severityNumber).toBe(9);
  });

  it('special groups: message, timestamp, syslog priority; events', () => {
    const p = compileRulePack(
      {
        rules: [
          {
            name: 'tunnel',
            match: '^<(?<syslog_pri>\\d+)>(?<timestamp>\\S+) tunnel (?<tunnel__id>\\w+) (?<message>connected .*)$',
            event: 'tunnel.connected',
          },
        ],
      },
      'inline',
    );
    const r = p.parse('<14>2024-01-15T09:00:00Z tunnel t1 connected from 10.0.0.1', { timestamp: NOW });
    expect(r.record).toMatchObject({
      timestamp: Date.UTC(2024, 0, 15, 9),
      body: 'connected from 10.0.0.1',
      eventName: 'tunnel.connected',
      severityNumber: 9,
      attributes: { 'tunnel.id': 't1', 'syslog.facility': 1, 'syslog.severity': 6 },
    });
  });

  it('per-entity metrics: bytes, connections, errors and last activity (MISSION C)', () => {
    const p = compileRulePack(
      {
        rules: [
          {
            name: 'traffic',
            match: '^tunnel=(?<tunnel__id>\\w+) in=(?<bytes_in>\\d+) out=(?<bytes_out>\\d+)',
            metrics: [
              { name: 'vigil.tunnel.io', kind: 'sum', value: 'bytes_in', unit: 'By', attributes: ['tunnel__id'] },
              { name: 'vigil.tunnel.last_activity', kind: 'last', unit: 's', attributes: ['tunnel.id'] },
            ],
          },
          { name: 'conn', match: '^tunnel=(?<tunnel__id>\\w+) connected', metrics: [{ name: 'vigil.tunnel.connections', kind: 'sum', attributes: ['tunnel.id'] }] },
          { name: 'gauge', match: '^tunnel=(?<tunnel__id>\\w+) open=(?<open>\\d+)', metrics: [{ name: 'vigil.tunnel.open', kind: 'gauge', value: 'open', attributes: ['tunnel.id'] }] },
        ],
      },
      'inline',
    );
    const t = p.parse('tunnel=a in=100 out=5', { timestamp: NOW });
    expect(t.metrics).toEqual([
      { name: 'vigil.tunnel.io', kind: 'sum', value: 100, unit: 'By', description: '', attributes: { 'tunnel.id': 'a' }, timestamp: NOW },
      { name: 'vigil.tunnel.last_activity', kind: 'last', value: NOW / 1000, unit: 's', description: '', attributes: { 'tunnel.id': 'a' }, timestamp: NOW },
    ]);
    expect(p.parse('tunnel=b connected', { timestamp: NOW }).metrics).toMatchObject([{ name: 'vigil.tunnel.connections', value: 1, attributes: { 'tunnel.id': 'b' } }]);
    expect(p.parse('tunnel=b open=7', { timestamp: NOW }).metrics).toMatchObject([{ name: 'vigil.tunnel.open', kind: 'gauge', value: 7 }]);
  });
});

describe('JSON lines', () => {
  const parser = compileRulePack({ rules: [{ name: 'db', match: 'connection refused', category: 'database_connection', severity: 'critical' }] }, 'inline');

  it('message, level, time and flattened fields; known fields renamed to semantic conventions', () => {
    const line = JSON.stringify({
      level: 50,
      time: 1705312800123,
      pid: 42,
      hostname: 'pos-7',
      msg: 'order failed',
      order: { id: 'o-1', items: [1, 2], total: 9.5, paid: false, note: null },
      err: { type: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at f (/app/a.js:1:1)' },
    });
    const r = parser.parse(line, { timestamp: NOW });
    expect(r.matched).toEqual([]);
    expect(r.record).toEqual({
      timestamp: 1705312800123,
      body: 'order failed',
      severityNumber: 17,
      severityText: 'ERROR',
      attributes: {
        'process.pid': 42,
        hostname: 'pos-7',
        'order.id': 'o-1',
        'order.items': '[1,2]',
        'order.total': 9.5,
        'order.paid': false,
        'exception.type': 'TypeError',
        'exception.message': 'x is undefined',
        'exception.stacktrace': 'TypeError: x is undefined\n    at f (/app/a.js:1:1)',
        'vigil.severity': 'high',
      },
    });
  });

  it('Python logging JSON: levelname, funcName, lineno; seconds timestamps; event names', () => {
    const r = parser.parse(JSON.stringify({ levelname: 'WARNING', ts: 1705312800.5, message: 'retrying', funcName: 'sync', lineno: 12, event: 'app.retry' }), { timestamp: NOW });
    expect(r.record).toMatchObject({ timestamp: 1705312800500, body: 'retrying', severityNumber: 13, severityText: 'WARNING', eventName: 'app.retry', attributes: { 'code.function': 'sync', 'code.lineno': 12 } });
  });

  it('rules see the message of a JSON line; a JSON line with no message keeps the line as body', () => {
    const r = parser.parse('{"message":"db: connection refused","level":"info"}', { timestamp: NOW });
    expect(r.record.severityNumber).toBe(21);
    expect(r.record.attributes?.['vigil.category']).toBe('database_connection');
    const noMsg = parser.parse('{"a":1}', { timestamp: NOW });
    expect(noMsg.record.body).toBe('{"a":1}');
    expect(noMsg.record.attributes).toEqual({ a: 1 });
  });

  it('parseObject: an event posted as JSON reads like a JSON line, rules included', () => {
    const r = parser.parseObject({ event: 'app.error', level: 'warn', message: 'db connection refused', app: { version: '1.2.0' } }, { timestamp: NOW, attributes: { 'vigil.source': 'intake' } });
    expect(r.matched).toEqual(['db']);
    expect(r.record).toEqual({
      timestamp: NOW,
      body: 'db connection refused',
      eventName: 'app.error',
      severityNumber: 21,
      severityText: 'FATAL',
      attributes: { 'app.version': '1.2.0', 'vigil.source': 'intake', 'vigil.severity': 'critical', 'vigil.category': 'database_connection' },
    });
  });

  it('not JSON after all, or json: false: a plain line', () => {
    expect(parser.parse('{not json', { timestamp: NOW }).record).toEqual({ timestamp: NOW, body: '{not json', attributes: {} });
    const off = compileRulePack({ json: false, rules: [] }, 'inline');
    expect(off.parse('{"msg":"x"}', { timestamp: NOW }).record.body).toBe('{"msg":"x"}');
  });
});

describe('loadRulePack', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file that includes the default pack: its own rules first', () => {
    const file = join(dir, 'mine.yaml');
    writeFileSync(file, 'include: [default]\nrules:\n  - name: payment\n    match: payment declined\n    category: payment\n    severity: medium\n');
    const p = loadRulePack(file);
    expect(p.rules[0]).toBe('payment');
    expect(p.rules).toContain('database_connection_refused');
    expect(p.parse('payment declined for order 7', { timestamp: NOW }).record.attributes?.['vigil.category']).toBe('payment');
    expect(p.parse('Error: connect ECONNREFUSED 10.0.0.2:5432', { timestamp: NOW }).record.attributes?.['vigil.category']).toBe('database_connection');
  });

  it('names the file it cannot read, the built-in packs, and YAML syntax errors', () => {
    expect(problems(() => loadRulePack('nosuch'))[0]).toMatch(/^nosuch: cannot read the rule pack \(ENOENT\) \(built-in packs: default, plain/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules: [\n');
    expect(problems(() => loadRulePack(bad))[0]).toContain(`${bad}: `);
    const loop = join(dir, 'loop.yaml');
    writeFileSync(loop, `include: [${loop}]\n`);
    expect(problems(() => loadRulePack(loop))[0]).toContain('includes itself');
  });
});
