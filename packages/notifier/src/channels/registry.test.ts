import { describe, expect, it } from 'vitest';
import { CHANNELS, createChannel, defaultTemplates, templateRegistryFromConfig } from './index.js';
import { cpuHigh, diskResolved, sampleGroup } from './testing/receiver.js';

/** Every channel's default templates, rendered the way `render` shows them (nothing is sent). */
const templates = templateRegistryFromConfig();
const OPTIONS: Record<string, Record<string, unknown>> = {
  email: { host: 'localhost', from: 'vigil@localhost' },
  sms: { accountSid: 'AC00000000000000000000000000000000', authToken: 'x', from: '+15550000000' },
  slack: { url: 'https://hooks.slack.invalid/x' },
  discord: { url: 'https://discord.invalid/api/webhooks/1/x' },
  webhook: { url: 'https://receiver.invalid/x' },
  console: {},
  file: {},
};
const channel = (kind: string) => createChannel(kind, OPTIONS[kind], { name: `t/${kind}`, templates, source: kind });

describe('default templates', () => {
  it('every channel kind but github is registered, each with its parts', () => {
    expect(Object.keys(CHANNELS).filter((k) => k !== 'github').sort()).toEqual(['console', 'discord', 'email', 'file', 'slack', 'sms', 'webhook']);
    expect(Object.keys(defaultTemplates()).filter((k) => !k.startsWith('github.')).sort()).toEqual([
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

  it('an unknown kind is a ConfigError listing the kinds', () => {
    expect(() => createChannel('pager', {}, { name: 'x', templates, source: 'f.yaml: r' })).toThrow(/^f\.yaml: r: unknown channel kind "pager" \(use one of email, sms, slack, discord, .*webhook/);
  });
});
