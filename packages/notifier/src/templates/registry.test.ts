import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, type AlertTransition } from '@vigil/platform';
import { compileTemplateRegistry, describeTemplateError } from './registry.js';
import { notificationOf } from './view.js';

const cpu: AlertTransition = {
  fingerprint: 'a1b2c3d4e5f60718',
  status: 'firing',
  severity: 'critical',
  labels: { 'host.name': 'web-1', alertname: 'cpu_high', metric: 'system.cpu.utilization', 'vigil.category': 'host' },
  annotations: { summary: 'CPU on web-1 is at 93%' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.9312,
  rule: 'cpu_high',
  window: 300_000,
};
const disk: AlertTransition = { ...cpu, fingerprint: 'ffff000011112222', labels: { 'host.name': 'web-2', alertname: 'disk_full' }, rule: 'disk_full', severity: 'warning', value: 0.85 };
const one = notificationOf([cpu], { createdAt: '2024-05-01T12:00:10.000Z', receiver: 'ops' });
const two = notificationOf([disk, { ...cpu, status: 'resolved', endsAt: '2024-05-01T12:30:00.000Z' }], { createdAt: '2024-05-01T12:31:00.000Z', receiver: 'ops' });

const DEFAULTS = {
  'slack.title': '{{name}}',
  'slack.text': 'slack {{count}}',
  'email.title': 'mail {{name}}',
  'email.html': '<b>{{name}}</b> {{{name}}}',
  'sms.text': 'sms {{name}}',
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('template registry', () => {
  it('renders each channel’s default per part', () => {
    const t = compileTemplateRegistry({}, { defaults: DEFAULTS });
    expect(t.render('slack', 'title', one)).toBe('cpu_high');
    expect(t.render('slack', 'text', two)).toBe('slack 2');
    expect(t.origin('slack', 'text', two)).toBe('default slack.text');
  });

  it('overrides win by precedence: <rule>.<channel>.<part>, then <channel>.<part>, then <part>, then the default', () => {
    const t = compileTemplateRegistry(
      { overrides: { title: 'any {{name}}', 'slack.title': 'slack {{name}}', 'cpu_high.slack.title': 'cpu rule {{target}}' } },
      { defaults: DEFAULTS, source: 'vigil.yaml: notifier.templates' },
    );
    expect(t.render('slack', 'title', one)).toBe('cpu rule web-1');
    expect(t.origin('slack', 'title', one)).toBe('vigil.yaml: notifier.templates.overrides["cpu_high.slack.title"]');
    // Two rules in the group: no per-rule template applies.
    expect(t.render('slack', 'title', two)).toBe('slack 2 alerts');
    expect(t.render('email', 'title', one)).toBe('any cpu_high');
    expect(t.render('sms', 'text', one)).toBe('sms cpu_high');
  });

  it('escapes HTML in html parts only; triple braces stay raw', () => {
    const n = notificationOf([{ ...cpu, labels: { ...cpu.labels, alertname: '<script>&' } }], { createdAt: cpu.startsAt });
    const t = compileTemplateRegistry({ overrides: { 'slack.text': '{{name}}' } }, { defaults: DEFAULTS });
    expect(t.render('email', 'html', n)).toBe('<b>&lt;script&gt;&amp;</b> <script>&');
    expect(t.render('slack', 'text', n)).toBe('<script>&');
  });

  it('titles come out on one line, texts without trailing blanks', () => {
    const t = compileTemplateRegistry({ overrides: { 'slack.title': '  a\n\n b  ', 'slack.text': 'x\n\n  ' } }, { defaults: DEFAULTS });
    expect(t.render('slack', 'title', one)).toBe('a b');
    expect(t.render('slack', 'text', one)).toBe('x');
  });

  it('sees the group and each alert with derived fields, dotted label names and helpers', () => {
    const t = compileTemplateRegistry(
      {
        overrides: {
          'slack.text':
            '{{status}} {{firingCount}}/{{resolvedCount}} {{receiver}} |{{#each alerts}}{{name}}@{{labels.host.name}}:{{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}:{{severityEmoji severity status}}:{{severityColour severity status}};{{/each}}| {{join (lookup commonLabels "nope") ","}}{{upper channel}} {{lower "AB"}} {{truncate "abcdef" 4}} {{duration 90000}}',
        },
      },
      { defaults: DEFAULTS },
    );
    expect(t.render('slack', 'text', two)).toBe('firing 1/1 ops |disk_full@web-2:0.85:⚠️:#F2A900;cpu_high@web-1:93.1%:✅:#2EB67D;| SLACK ab abc… 1m30s');
  });

  it('shows times in the configured zone, or the one a template asks for', () => {
    const t = compileTemplateRegistry({ timeZone: 'Europe/Paris', overrides: { 'slack.text': '{{time alert.startsAt}} | {{time alert.startsAt tz="UTC"}} | {{time alert.startsAt tz="America/New_York"}}' } }, { defaults: DEFAULTS });
    expect(t.render('slack', 'text', one)).toBe('2024-05-01 14:00:00 GMT+2 | 2024-05-01 12:00:00 UTC | 2024-05-01 08:00:00 EDT');
  });

  it('built-in partials: alertLine and alertList', () => {
    const t = compileTemplateRegistry({ overrides: { 'sms.text': '{{> alertList}}' } }, { defaults: DEFAULTS });
    expect(t.render('sms', 'text', two)).toBe('⚠️ [FIRING:WARNING] disk_full on web-2: 0.85 - CPU on web-1 is at 93%\n✅ [RESOLVED] cpu_high on web-1: 93.1% - CPU on web-1 is at 93%');
  });

  it('reads templates and partials from a directory; config overrides win over files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-tpl-'));
    writeFileSync(join(dir, 'slack.text.hbs'), '{{> banner}} {{name}}');
    writeFileSync(join(dir, 'banner.partial.hbs'), '[{{upper severity}}]');
    writeFileSync(join(dir, 'email.title.hbs'), 'from file');
    writeFileSync(join(dir, 'README.md'), 'not a template');
    const t = compileTemplateRegistry({ dir, overrides: { 'email.title': 'from config' } }, { defaults: DEFAULTS });
    expect(t.render('slack', 'text', one)).toBe('[CRITICAL] cpu_high');
    expect(t.origin('slack', 'text', one)).toBe(join(dir, 'slack.text.hbs'));
    expect(t.render('email', 'title', one)).toBe('from config');
  });

  it('a parse error in a file names the file and the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-tpl-'));
    writeFileSync(join(dir, 'slack.text.hbs'), 'line one\nline two\n{{#if firing}}open');
    const p = problemsOf(() => compileTemplateRegistry({ dir }, { defaults: DEFAULTS }));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(new RegExp(`^${join(dir, 'slack.text.hbs').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3: parse error: `));
  });

  it('a bad override names the config key and the line; every problem is reported at once', () => {
    const p = problemsOf(() =>
      compileTemplateRegistry(
        {
          timeZone: 'Mars/Olympus',
          overrides: { 'slack.title': 'ok\n{{uper status}}', 'email.html': '{{> nope}}', 'teams.title': 'x', 'slack.subject': 'x', 'cpu_high.slack.text': '{{#each}}' },
        },
        { defaults: DEFAULTS, source: 'vigil.yaml: notifier.templates' },
      ),
    );
    expect(p[0]).toBe('vigil.yaml: notifier.templates.timeZone: "Mars/Olympus" is not a time zone this system knows (use an IANA name such as UTC or Europe/Paris)');
    expect(p[1]).toMatch(/^vigil\.yaml: notifier\.templates\.overrides\["slack\.title"\]: line 2: You specified knownHelpersOnly, but used the unknown helper uper \(helpers: upper, /);
    expect(p[2]).toMatch(/^vigil\.yaml: notifier\.templates\.overrides\["email\.html"\]: The partial nope could not be found/);
    expect(p[3]).toMatch(/^vigil\.yaml: notifier\.templates\.overrides\["teams\.title"\]: no channel renders a template named "teams\.title"/);
    expect(p[4]).toMatch(/overrides\["slack\.subject"\]: no channel renders/);
    expect(p[5]).toMatch(/overrides\["cpu_high\.slack\.text"\]: .*each/i);
    expect(p).toHaveLength(6);
  });

  it('a missing directory is a ConfigError naming dir', () => {
    expect(problemsOf(() => compileTemplateRegistry({ dir: '/nonexistent/vigil-templates' }, { defaults: DEFAULTS }))).toEqual([
      'notifier.templates.dir: cannot read the template directory /nonexistent/vigil-templates (ENOENT)',
    ]);
  });
});

describe('describeTemplateError', () => {
  it('turns Handlebars parse errors into "line N: parse error: ..." on one line', () => {
    const e = new Error("Parse error on line 2:\n...open\n-----^\nExpecting 'OPEN_INVERSE_CHAIN', got 'EOF'");
    expect(describeTemplateError(e)).toBe("line 2: parse error: ...open -----^ Expecting 'OPEN_INVERSE_CHAIN', got 'EOF'");
  });
});
