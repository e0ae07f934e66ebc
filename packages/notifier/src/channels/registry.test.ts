import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '@vigil/platform';
import { cpuHigh, diskResolved, sampleGroup } from '../../test/providers.js';
import { NotifierConfig } from '../config/schema.js';
import { RateLimiter } from '../pipeline/ratelimit.js';
import { CHANNEL_KINDS, CHANNELS, createChannel, defaultTemplates, kindsForLevel, templateRegistryFromConfig } from './registry.js';

/** Every channel's default templates, rendered the way `render` shows them (nothing is sent), built from each kind's preview options. */
const templates = templateRegistryFromConfig();
const channel = (kind: string) => createChannel(kind, CHANNELS[kind as keyof typeof CHANNELS].preview, { name: `t/${kind}`, templates, source: kind });

describe('the channel registry', () => {
  it('is the one list of kinds: the config schema, rate limits and previews follow it', () => {
    expect(CHANNEL_KINDS).toEqual(['email', 'sms', 'slack', 'discord', 'webhook', 'github', 'console', 'file']);
    const receiver = NotifierConfig.properties.receivers.items.properties as Record<string, unknown>;
    for (const kind of CHANNEL_KINDS) expect(receiver[kind], kind).toBeDefined();
    // A rate limit on any kind is a budget of that kind, not of a channel named like it.
    const limits = new RateLimiter(CHANNEL_KINDS.map((k) => ({ channel: k, max: 1, per: 1000 })));
    for (const kind of CHANNEL_KINDS) expect(limits.limitFor({ name: `r/${kind}[0]`, kind }), kind).toEqual({ max: 1, per: 1000 });
    for (const kind of CHANNEL_KINDS) expect(channel(kind).kind).toBe(kind);
  });

  it('routes by level when no route is configured (MISSION B): info to Slack; warning to email and Slack; critical to email, SMS and Slack', () => {
    expect(kindsForLevel('info')).toEqual(['slack', 'discord', 'webhook', 'console', 'file']);
    expect(kindsForLevel('warning')).toEqual(['email', 'slack', 'discord', 'webhook', 'console', 'file']);
    expect(kindsForLevel('critical')).toEqual(['email', 'sms', 'slack', 'discord', 'webhook', 'github', 'console', 'file']);
  });
});

describe('default templates', () => {
  it('each kind has its parts', () => {
    expect(Object.keys(defaultTemplates()).sort()).toEqual([
      'console.text',
      'console.title',
      'discord.text',
      'discord.title',
      'email.html',
      'email.text',
      'email.title',
      'file.text',
      'file.title',
      'slack.text',
      'slack.title',
      'sms.text',
    ]);
  });

  it('one firing alert: the title says level, name and target; the text has the details', () => {
    for (const kind of ['email', 'slack', 'discord', 'console', 'file']) {
      const m = channel(kind).render(sampleGroup([cpuHigh]));
      expect(m.title, kind).toBe('[FIRING:CRITICAL] cpu_high on web-1');
      expect(m.text, kind).toBe(
        [
          'CPU on web-1 is at 93%',
          'Average over 5m above 90%',
          'Value: 93.1% over 5m',
          'Severity: critical',
          'Labels: alertname=cpu_high host.name=web-1 metric=system.cpu.utilization vigil.category=host',
          'Started: 2024-05-01 12:00:00 UTC',
        ].join('\n'),
      );
    }
  });

  it('a group lists each alert under its own line; resolved ones with their end and duration', () => {
    const text = channel('console').render(sampleGroup()).text!;
    expect(text.split('\n\n')).toHaveLength(2);
    expect(text).toMatch(/^🚨 \[FIRING:CRITICAL\] cpu_high on web-1: 93\.1% - CPU on web-1 is at 93%\n/);
    expect(text).toContain('\n\n✅ [RESOLVED] disk_full on web-2: 0.85 - Disk / on web-2 at 85%\n');
    expect(text.endsWith('Resolved: 2024-05-01 11:30:00 UTC (lasted 30m)')).toBe(true);
  });

  it('says how many messages a rate limit held back', () => {
    const n = sampleGroup([diskResolved], { heldBack: { count: 4, firing: 3, resolved: 1, since: '2024-05-01T11:45:00Z' } });
    expect(channel('slack').render(n).text).toMatch(/\n\n\(4 earlier notification\(s\) held back by the rate limit since 2024-05-01 11:45:00 UTC: 3 firing, 1 resolved\)$/);
    expect(channel('email').render(n).html).toContain('4 earlier notification(s) held back by the rate limit since 2024-05-01 11:45:00 UTC: 3 firing, 1 resolved.');
  });

  it('sms is one short line without emoji', () => {
    expect(channel('sms').render(sampleGroup([cpuHigh])).text).toBe('CRITICAL: cpu_high on web-1 93.1% - CPU on web-1 is at 93% at 2024-05-01 12:00:10 UTC');
    expect(channel('sms').render(sampleGroup([diskResolved])).text).toBe('RESOLVED: disk_full on web-2 0.85 - Disk / on web-2 at 85% at 2024-05-01 12:00:10 UTC');
  });

  it('the email HTML is the health report: state by level, one row per alert', () => {
    const html = channel('email').render(sampleGroup([{ ...cpuHigh, severity: 'warning' }, diskResolved])).html!;
    expect(html).toContain('Vigil health report &middot; degraded');
    expect(html.match(/<tr>\n<td style="border-left:4px solid/g)).toHaveLength(2);
    expect(html).toContain('<th style="border-bottom:1px solid #d0d7de">Level</th>');
  });

  it('an alert without a value (a notify API message, an alert from Prometheus) shows none', () => {
    const message: AlertTransition = { ...cpuHigh, labels: { alertname: 'Disk check', 'host.name': 'pos-17' }, annotations: { summary: 'backup volume at 91 %' }, rule: 'api', window: 0 };
    delete message.value;
    for (const kind of ['email', 'slack', 'discord', 'console', 'file', 'sms']) {
      const m = channel(kind).render(sampleGroup([message]));
      expect(`${m.title ?? ''}\n${m.text ?? ''}`, kind).not.toMatch(/Value|: 0\b/);
    }
    expect(channel('console').render(sampleGroup([message, diskResolved])).text).toContain('[FIRING:CRITICAL] Disk check on pos-17 - backup volume at 91 %\n');
  });

  it('a title names the host once: not again when the name already says it', () => {
    const named: AlertTransition = { ...cpuHigh, labels: { alertname: 'Disk check on pos-17', 'host.name': 'pos-17' } };
    for (const kind of ['email', 'slack', 'discord', 'console', 'file']) expect(channel(kind).render(sampleGroup([named])).title, kind).toBe('[FIRING:CRITICAL] Disk check on pos-17');
    expect(channel('sms').render(sampleGroup([named])).text).toMatch(/^CRITICAL: Disk check on pos-17 0\.931 - /);
  });

  it('an unknown kind is a ConfigError listing the kinds', () => {
    expect(() => createChannel('pager', {}, { name: 'x', templates, source: 'f.yaml: r' })).toThrow(/^f\.yaml: r: unknown channel kind "pager" \(use one of email, sms, slack, discord, .*webhook/);
  });
});
