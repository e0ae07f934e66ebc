import { describe, expect, it } from 'vitest';
import { ConfigError, type AlertTransition } from '@vigil/platform';
import {
  code,
  compileIssueTemplates,
  fingerprintLabel,
  issueLabels,
  issueMarker,
  issueView,
  noteMarker,
  parseNote,
  recurrenceComment,
  regressionComment,
  renderIssue,
  resolvedComment,
} from './templates.js';

const alert: AlertTransition = {
  fingerprint: 'a1b2c3d4e5f60718',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'app_errors', 'vigil.category': 'database', 'host.name': 'web-1', 'container.name': 'api', 'http.route': '/orders' },
  annotations: {
    summary: 'could not connect to postgres',
    description: 'Connection refused by db:5432 | retrying',
    'exception.stacktrace': 'Error: connect ECONNREFUSED\n    at TCP.onConnect (net.js:1:1)\n```\nnot the end',
    'http.request.method': 'POST',
    'url.path': '/api/orders',
    'enduser.id': 'u-42',
    actions: '- Check that postgres is up\n2. Check the pool size\n\n',
    runbook_url: 'https://runbooks.example/db',
  },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 7,
  rule: 'app_errors',
  window: 60_000,
};
const defaults = compileIssueTemplates({}, 'notifier.github');

describe('issue content', () => {
  it('title: severity, type, message and where', () => {
    expect(renderIssue(alert, defaults, []).title).toBe('[CRITICAL] database: could not connect to postgres on web-1');
  });

  it('body: the MISSION D fields, the traceback safely fenced, and the marker last', () => {
    const { body } = renderIssue(alert, defaults, [], 'https://vigil.example');
    for (const part of [
      '## database: could not connect to postgres',
      '| Severity | **critical** |',
      '| Time | 2024-05-01 12:00:00 UTC |',
      '| Host | `web-1` |',
      '| Container | `api` |',
      '| Value | 7 over 1m |',
      'Connection refused by db:5432 | retrying',
      '````\nError: connect ECONNREFUSED\n    at TCP.onConnect (net.js:1:1)\n```\nnot the end\n````',
      '- `http.request.method`: POST',
      '- `http.route`: /orders',
      '- `url.path`: /api/orders',
      '### User\n\n- `enduser.id`: u-42',
      '- [ ] Check that postgres is up\n- [ ] Check the pool size\n',
      'Runbook: https://runbooks.example/db',
      '[Open in Vigil](https://vigil.example)',
    ]) {
      expect(body).toContain(part);
    }
    expect(body.endsWith(`\n\n${issueMarker(alert)}`)).toBe(true);
  });

  it('leaves out sections the alert has nothing for', () => {
    const bare: AlertTransition = { ...alert, labels: { alertname: 'cpu_high' }, annotations: {} };
    const { title, body } = renderIssue(bare, defaults, []);
    expect(title).toBe('[CRITICAL] cpu_high: cpu_high');
    for (const absent of ['Traceback', '### Request', '### User', 'Recommended', 'Host', 'Container', 'Runbook', 'Open in Vigil']) expect(body).not.toContain(absent);
  });

  it('labels: severity, category, host, container, fingerprint, extras; commas removed, 50 characters at most, no duplicates', () => {
    expect(renderIssue(alert, defaults, ['vigil', 'severity:critical']).labels).toEqual([
      'severity:critical',
      'category:database',
      'host:web-1',
      'container:api',
      'vigil:a1b2c3d4e5f60718',
      'vigil',
    ]);
    const long = issueLabels({ severity: 'warning', category: '', host: `h,${'x'.repeat(80)}`, container: '', fingerprint: 'f' }, []);
    expect(long).toEqual(['severity:warning', `host:h ${'x'.repeat(43)}`, 'vigil:f']);
    expect(long[1]).toHaveLength(50);
  });

  it('a user template replaces title and body, the marker stays; a bad one is a ConfigError naming the key', () => {
    const t = compileIssueTemplates({ titleTemplate: '{{labels.host.name}}\n{{severity}}', bodyTemplate: 'only {{message}}' }, 'n.github[0]');
    const r = renderIssue(alert, t, []);
    expect(r.title).toBe('web-1 critical');
    expect(r.body).toBe(`only could not connect to postgres\n\n${issueMarker(alert)}`);
    expect(() => compileIssueTemplates({ bodyTemplate: '{{#if x}}' }, 'n.github[0]')).toThrow(ConfigError);
    try {
      compileIssueTemplates({ titleTemplate: '{{shout severity}}' }, 'n.github[0]');
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatch(/^n\.github\[0\]\.titleTemplate: the handlebars template does not compile: .*helpers: .*cell, code/);
    }
    expect.assertions(4);
  });

  it('clips to GitHub limits: title 256, body 65536 with the marker kept', () => {
    const huge: AlertTransition = { ...alert, annotations: { summary: 's'.repeat(400), 'exception.stacktrace': 'y'.repeat(80_000) } };
    const r = renderIssue(huge, defaults, []);
    expect(r.title).toHaveLength(256);
    expect(r.body.length).toBeLessThanOrEqual(65_536);
    expect(r.body.endsWith(issueMarker(huge))).toBe(true);
  });

  it('a fence is longer than any backtick run inside', () => {
    expect(code('a')).toBe('```\na\n```');
    expect(code('x ````` y\n')).toBe('``````\nx ````` y\n``````');
  });

  it('view: type falls back to exception.type then the alert name; the description is not repeated as details', () => {
    expect(issueView({ ...alert, labels: { alertname: 'x', 'exception.type': 'TypeError' } }).type).toBe('TypeError');
    expect(issueView({ ...alert, labels: { alertname: 'x' } }).type).toBe('x');
    expect(issueView({ ...alert, annotations: { description: 'd' } })).toMatchObject({ message: 'd', details: '' });
  });
});

describe('markers', () => {
  it('issue and comment markers read back; other fingerprints and texts do not', () => {
    expect(parseNote(`body\n\n${issueMarker(alert)}`, alert.fingerprint)).toEqual({ event: 'created', startsAt: alert.startsAt, severity: 'critical' });
    for (const event of ['recurrence', 'resolved', 'regression'] as const) {
      expect(parseNote(noteMarker(event, { ...alert, severity: 'warning' }), alert.fingerprint)).toEqual({ event, startsAt: alert.startsAt, severity: 'warning' });
    }
    expect(parseNote(issueMarker(alert), 'other')).toBeUndefined();
    expect(parseNote('a person wrote this', alert.fingerprint)).toBeUndefined();
    expect(fingerprintLabel(alert.fingerprint)).toBe('vigil:a1b2c3d4e5f60718');
  });

  it('comments carry the count, the times and their marker', () => {
    const since = Date.parse('2024-05-01T12:00:00Z');
    const rec = recurrenceComment(alert, 3, since);
    expect(rec).toContain('**Fired again**: 3 occurrences since 2024-05-01 12:00:00 UTC.');
    expect(rec).toContain('value 7: could not connect to postgres');
    expect(parseNote(rec, alert.fingerprint)?.event).toBe('recurrence');
    expect(recurrenceComment(alert, 1, since)).toContain('1 occurrence since');

    const resolved = { ...alert, status: 'resolved' as const, endsAt: '2024-05-01T12:05:30.000Z' };
    expect(resolvedComment(resolved, 0, true)).toBe(
      `**Resolved** at 2024-05-01 12:05:30 UTC (lasted 5m30s). Closing; Vigil reopens this issue if it fires again.\n\n${noteMarker('resolved', resolved)}`,
    );
    expect(resolvedComment(resolved, 2, false)).toContain('(lasted 5m30s).\n\nIt fired 2 more times since the last report.');

    const reg = regressionComment(alert, true);
    expect(reg).toContain('**Regression**: fired again at 2024-05-01 12:00:00 UTC after this issue was closed; reopening.');
    expect(reg).toContain('ECONNREFUSED');
    expect(parseNote(reg, alert.fingerprint)?.event).toBe('regression');
  });
});
