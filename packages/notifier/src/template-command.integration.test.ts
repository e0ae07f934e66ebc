import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { templateCommand } from './template-command.js';

/**
 * `vigil template render` as a user runs it: the real CLI in a child process (a few cases, each
 * start costs seconds), and the same command in-process for the rest.
 */
const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const sample = join(root, 'packages/notifier/samples/alert.json');
const dir = mkdtempSync(join(tmpdir(), 'vigil-template-cli-'));

function vigil(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'packages/cli/bin/vigil.mjs'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, LOG_LEVEL: 'silent' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The command in-process, its output captured. */
async function render(...args: string[]) {
  let out = '';
  let err = '';
  const code = await templateCommand(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('vigil template render', () => {
  it('prints the Slack message for the shipped sample, without sending it', () => {
    const r = vigil('template', 'render', '--channel', 'slack', '--alert', sample);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^--- title\n\[FIRING:1:CRITICAL\] cpu_high\n\n--- text\n🚨 \[FIRING:CRITICAL\] cpu_high on dispatch-1: 94\.1%/);
    const json = JSON.parse(r.out.slice(r.out.indexOf('--- json\n') + 9)) as { attachments: { color: string; fields: { title: string; value: string }[] }[] };
    expect(json.attachments[0]!.color).toBe('#D00000');
    expect(json.attachments[0]!.fields).toContainEqual({ title: 'Category', value: 'host', short: true });
  });

  it('--format json gives the RenderedMessage; email has subject, text and html', async () => {
    const r = await render('render', '--channel', 'email', '--alert', sample, '--format', 'json');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as { title: string; text: string; html: string };
    expect(m.title).toBe('[FIRING:1:CRITICAL] cpu_high');
    expect(m.html).toContain('Vigil health report &middot; unhealthy');
    expect(m.text).toContain('Resolved: 2024-05-01 12:02:30 UTC (lasted 22m30s)');
  });

  it('one transition on its own, and the webhook’s Alertmanager payload', async () => {
    const one = file('one.json', JSON.stringify({ fingerprint: 'abcdabcdabcdabcd', status: 'firing', severity: 'warning', labels: { alertname: 'queue_depth' }, annotations: {}, startsAt: '2024-05-01T10:00:00Z', value: 12, rule: 'queue_depth', window: 0 }));
    const r = await render('render', '--channel', 'webhook', '--alert', one, '--format', 'json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { json: { version: string; alerts: { endsAt: string }[] } }).json).toMatchObject({ version: '4', alerts: [{ endsAt: '0001-01-01T00:00:00Z' }] });
  });

  it('uses the templates of --config, per rule', async () => {
    const config = file('vigil.yaml', 'notifier:\n  templates:\n    overrides:\n      cpu_high.sms.text: "{{upper name}} x{{count}} {{time createdAt tz=\\"Europe/Paris\\"}}"\n');
    const r = await render('render', '--channel', 'sms', '--alert', sample, '--config', config);
    expect(r.err).toBe('');
    expect(r.out).toBe('--- text\nCPU_HIGH x2 2024-05-01 14:02:30 GMT+2\n');
  });

  it('a template that does not compile is reported with the config key and line; exit 2', () => {
    const config = file('bad.yaml', 'notifier:\n  templates:\n    overrides:\n      slack.text: "ok\\n{{#each alerts}}"\n');
    const r = vigil('template', 'render', '--channel', 'slack', '--alert', sample, '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/notifier\.templates\.overrides\["slack\.text"\]: line 2: parse error/);
  });

  it('usage errors and unreadable samples say what is wrong', async () => {
    const noChannel = await render('render', '--alert', sample);
    expect(noChannel.code).toBe(2);
    expect(noChannel.err).toContain('vigil template: --channel is required');
    expect((await render('render', '--channel', 'pager', '--alert', sample)).err).toContain('--channel "pager" is not a channel kind (use one of email, sms, slack, discord, webhook, github, console, file)');
    const missing = await render('render', '--channel', 'slack', '--alert', join(dir, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`vigil template: ${join(dir, 'nope.json')}: cannot read it (ENOENT)\n`);
    const notAlert = await render('render', '--channel', 'slack', '--alert', file('x.json', '[{"status":"firing"}]'));
    expect(notAlert.code).toBe(1);
    expect((await render('parse')).err).toContain('unknown subcommand "parse"');
    expect(notAlert.err).toMatch(/x\.json: \[0\]: not an alert transition: missing or invalid fingerprint, severity, startsAt, rule, labels/);
  });
});
