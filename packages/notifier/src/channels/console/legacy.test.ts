import { describe, expect, it } from 'vitest';
import type { AlertTransition } from '@vigil/platform';
import type { Notification } from '../channel.js';
import { legacyConsoleChannel as consoleChannel, legacyFormatConsole as formatConsole } from './legacy.js';

const alert: AlertTransition = {
  fingerprint: 'abcdabcdabcdabcd',
  status: 'resolved',
  severity: 'warning',
  labels: { alertname: 'mem_high', 'host.name': 'web-2' },
  annotations: {},
  startsAt: '2024-05-01T12:00:00.000Z',
  endsAt: '2024-05-01T12:10:00.000Z',
  value: 0.5,
  rule: 'mem_high',
  window: 60_000,
};
const n: Notification = { key: 'k', alert, title: '[RESOLVED] mem_high on web-2', text: 'Value: 50%\nSeverity: warning' };

describe('console channel', () => {
  it('text: the title, then the body indented', () => {
    expect(formatConsole(n, 'text')).toBe('[RESOLVED] mem_high on web-2\n  Value: 50%\n  Severity: warning\n');
    expect(formatConsole({ ...n, text: '' }, 'text')).toBe('[RESOLVED] mem_high on web-2\n');
  });

  it('json: one line with the transition, the title and the text', () => {
    const line = formatConsole(n, 'json');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ ...alert, title: n.title, text: n.text });
  });

  it('is named console and writes each notification once', async () => {
    const out: string[] = [];
    const ch = consoleChannel({ format: 'text', write: async (c) => void out.push(c) });
    expect(ch.name).toBe('console');
    await ch.send(n);
    expect(out).toEqual([formatConsole(n, 'text')]);
  });

  it('writes to stdout by default', async () => {
    const ch = consoleChannel({ format: 'json' });
    const chunks: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string, cb?: (err?: Error | null) => void) => {
      chunks.push(String(chunk));
      cb?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      await ch.send(n);
    } finally {
      process.stdout.write = original;
    }
    expect(chunks).toEqual([formatConsole(n, 'json')]);
  });
});
