import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@vigil/platform';
import { checkNotifierConfig, notificationOf } from '../src/index.js';
import { cpuHigh } from './providers.js';

/** The notifier section: composed schema, receivers, routes and the implicit receiver. Pure: no server. */

const check = (yaml: string) => checkNotifierConfig(parseConfig(yaml, { source: 'v.yaml' }), 'v.yaml');

function problems(yaml: string): string[] {
  try {
    check(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('checkNotifierConfig', () => {
  it('with no receivers, console and webhooks form the implicit receiver "default", per alert and without waiting', () => {
    const s = check('notifier:\n  webhooks: [{ name: ops, url: "http://127.0.0.1:9/h" }]\n');
    expect(s.routing).toBe('implicit');
    expect([...s.receivers.keys()]).toEqual(['default']);
    expect(s.receivers.get('default')!.channels.map((c) => [c.kind, c.name])).toEqual([['console', 'console'], ['webhook', 'webhook:ops']]);
    expect(s.route).toMatchObject({ receiver: 'default', groupBy: ['...'], groupWait: 0 });
    expect(s.compiled.routes.groupBy).toBe('all');
    // Sugar over a receiver: the webhook sends Alertmanager's payload, and the old key is noted as deprecated.
    const body = s.receivers.get('default')!.channels[1]!.render(notificationOf([cpuHigh])).json as { version: string; alerts: { labels: Record<string, string> }[] };
    expect(body.version).toBe('4');
    expect(body.alerts[0]!.labels.host_name).toBe('web-1');
    expect(s.deprecations).toEqual([expect.stringMatching(/^v\.yaml: notifier\.webhooks: deprecated; configure a receiver with webhook channels/)]);
    expect(check('').deprecations).toEqual([]);
  });

  it('with receivers and no route, routes by level over the configured channel kinds (MISSION B)', () => {
    const s = check(`notifier:
  receivers:
    - name: ops
      webhook: [{ url: "http://127.0.0.1:9/h" }]
      console: [{}]
      file: [{ path: /tmp/x.jsonl }]
`);
    expect(s.routing).toBe('by-level');
    expect(s.receivers.get('ops')!.channels.map((c) => c.name)).toEqual(['ops/webhook[0]', 'ops/console[0]', 'ops/file[0]']);
    expect(s.receivers.get('default-critical')!.channels.map((c) => c.kind)).toEqual(['webhook', 'console', 'file']);
    expect(s.compiled.routes.match({ severity: 'critical' }).map((r) => r.receiver)).toEqual(['default-critical']);
    expect(s.compiled.routes.match({ severity: 'info' }).map((r) => r.receiver)).toEqual(['default-info']);
    // A channel keeps its owner: the owner's sendResolved and fallback apply wherever it is routed.
    expect(s.owners.get('ops/webhook[0]')!.name).toBe('ops');
  });

  it('builds GitHub channels, their token from the environment', () => {
    const yaml = 'notifier:\n  receivers: [{ name: issues, github: [{ repo: acme/ops }] }]\n';
    const prev = process.env.GITHUB_TOKEN;
    try {
      process.env.GITHUB_TOKEN = 'ghp_test';
      expect(check(yaml).receivers.get('issues')!.channels.map((c) => [c.kind, c.name])).toEqual([['github', 'issues/github[0]']]);
      delete process.env.GITHUB_TOKEN;
      expect(problems(yaml)).toEqual([expect.stringMatching(/^v\.yaml: notifier\.receivers\[0\]\.github\[0\]\.token: no GitHub token/)]);
    } finally {
      if (prev === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = prev;
    }
  });

  it('takes a configured route, with durations decoded and defaults filled', () => {
    const s = check(`notifier:
  receivers: [{ name: ops, webhook: [{ url: "http://127.0.0.1:9/h" }] }, { name: pager, console: [{}] }]
  route:
    receiver: ops
    groupWait: 10s
    routes: [{ matchers: ['severity="critical"'], receiver: pager, groupInterval: 1m }]
  delivery: { giveUpAfter: 2m }
`);
    expect(s.routing).toBe('configured');
    expect(s.route.groupWait).toBe(10_000);
    expect(s.settings.delivery).toEqual({ giveUpAfter: 120_000, retry: { initialBackoff: 500, maxBackoff: 30_000, maxAttempts: 1000 } });
    expect(s.compiled.routes.match({ severity: 'critical' })[0]).toMatchObject({ receiver: 'pager', groupInterval: 60_000, groupWait: 10_000 });
  });

  it('names every problem with its key: unknown receivers in routes and fallbacks, duplicates, bad channel options, unknown keys', () => {
    const p = problems(`notifier:
  receivers:
    - { name: ops, webhook: [{ url: "http://127.0.0.1:9/h" }], fallback: ghost }
    - { name: ops, console: [{}], fallback: ops }
    - { name: empty }
  route:
    receiver: ops
    routes: [{ matchers: ['rule="x"'], receiver: nobody }]
`);
    expect(p).toEqual(
      expect.arrayContaining([
        'v.yaml: notifier.receivers[1].name: receiver "ops" is defined twice (names must be unique)',
        expect.stringMatching(/^v\.yaml: notifier\.receivers\[2\]: receiver "empty" has no channel/),
        expect.stringMatching(/^v\.yaml: notifier\.route\.routes\[0\]\.receiver: no receiver is named "nobody"/),
        'v.yaml: notifier.receivers[0].fallback: no receiver is named "ghost"',
        'v.yaml: notifier.receivers[1].fallback: a receiver cannot be its own fallback',
      ]),
    );
    // Schema problems come first, each naming the key under the receiver.
    expect(problems('notifier:\n  receivers: [{ name: ops, webhook: [{ url: "ftp://nope" }] }]\n')).toEqual([
      expect.stringMatching(/^v\.yaml: notifier\.receivers\[0\]\.webhook\[0\]\.url: "ftp:\/\/nope" does not have the expected form/),
    ]);
    expect(problems('notifier:\n  recievers: []\n')[0]).toMatch(/^v\.yaml: notifier\.recievers: unknown key \(allowed here: .*receivers/);
    expect(problems('notifier:\n  route: { receiver: ops, groupWait: soon }\n  receivers: [{ name: ops, console: [{}] }]\n')).toEqual([
      'v.yaml: notifier.route.groupWait: "soon" is not a duration (use 30s, 5m, 1h)',
    ]);
  });

  it('checks the old keys as before; their title and body templates are the console channel\'s, over each alert', () => {
    expect(problems('notifier:\n  webhooks: [{ name: a, url: "http://x/1" }, { name: a, url: "http://x/2" }]\n')).toEqual([
      'v.yaml: notifier.webhooks[1].name: "a" is used twice (give each webhook its own name)',
    ]);
    expect(problems('notifier:\n  templates: { title: "{{#if}}" }\n').join('\n')).toContain('notifier.templates');
    const s = check('notifier:\n  console: { format: json }\n  templates: { title: "{{upper severity}} {{labels.host.name}}", body: "{{name}}: {{annotations.summary}}" }\n');
    const m = s.receivers.get('default')!.channels[0]!.render(notificationOf([cpuHigh]));
    expect(m).toEqual({ title: 'CRITICAL web-1', text: 'cpu_high: CPU on web-1 is at 93%' });
    expect(s.deprecations.map((d) => d.split(':')[1])).toEqual([' notifier.templates.title/.body', ' notifier.console']);
  });

  it('notes console and webhooks as ignored while receivers are configured', () => {
    const s = check('notifier:\n  webhooks: [{ url: "http://x/1" }]\n  receivers: [{ name: ops, console: [{}] }]\n');
    expect(s.receivers.get('ops')!.channels.map((c) => c.name)).toEqual(['ops/console[0]']);
    expect(s.deprecations).toEqual([expect.stringMatching(/console and webhooks are ignored while receivers are configured/)]);
  });

  it('rejects a bad matcher in a route, an inhibit rule or a silence, naming the key', () => {
    const p = problems(`notifier:
  receivers: [{ name: ops, console: [{}] }]
  route: { receiver: ops, routes: [{ matchers: ['host=~"["'] }] }
  inhibitRules: [{ sourceMatchers: ['nonsense'], targetMatchers: [] }]
`);
    expect(p.join('\n')).toMatch(/notifier\.route\.routes\[0\]\.matchers/);
    expect(p.join('\n')).toMatch(/notifier\.inhibitRules\[0\]\.sourceMatchers/);
  });
});
