import { describe, expect, it } from 'vitest';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, sampleGroup } from '../../../test/providers.js';
import { consoleChannel, formatConsole } from './console.js';

const templates = templateRegistryFromConfig();

describe('console channel', () => {
  it('text: the title, then the body indented', async () => {
    const out: string[] = [];
    const ch = consoleChannel({ format: 'text' }, { name: 'console', templates, write: async (c) => void out.push(c) });
    await ch.send(sampleGroup([diskResolved]), ctx());
    expect(out).toEqual([
      [
        '[RESOLVED] disk_full on web-2',
        '  Disk / on web-2 at 85%',
        '  Value: 0.85 over 1m',
        '  Severity: warning',
        '  Labels: alertname=disk_full host.name=web-2 vigil.category=host',
        '  Started: 2024-05-01 11:00:00 UTC',
        '  Resolved: 2024-05-01 11:30:00 UTC (lasted 30m)',
        '',
      ].join('\n'),
    ]);
  });

  it('json: one line with the key, receiver, status, texts and alerts', () => {
    const n = sampleGroup([cpuHigh]);
    const line = formatConsole(n, { title: 't', text: 'a\nb' }, 'json');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ key: n.key, receiver: 'ops', status: 'firing', severity: 'critical', title: 't', text: 'a\nb', alerts: n.alerts });
    expect(n.alerts[0]!.labels.severity).toBe('critical');
  });

  it('is created from config with its default format', async () => {
    const ch = createChannel('console', {}, { name: 'console', templates, source: 'x' });
    expect(ch.render(sampleGroup([cpuHigh])).title).toBe('[FIRING:CRITICAL] cpu_high on web-1');
    expect(() => createChannel('console', { format: 'xml' }, { name: 'console', templates, source: 'f.yaml: r.console[0]' })).toThrow(/f\.yaml: r\.console\[0\]\.format: "xml" is not allowed \(use one of text, json\)/);
  });
});
