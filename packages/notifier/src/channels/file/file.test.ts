import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../channel.js';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, rejection, sampleGroup } from '../../../test/providers.js';
import { fileChannel } from './file.js';

const templates = templateRegistryFromConfig();

describe('file channel (JSON lines outbox)', () => {
  it('appends one JSON object per notification, under the data directory for a relative path', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
    const ch = createChannel('file', {}, { name: 'default/file', templates, source: 'x', dataDir });
    const a = sampleGroup([cpuHigh]);
    const b = sampleGroup([diskResolved]);
    expect(await ch.send(a, ctx('k-a'))).toEqual({ detail: join(dataDir, 'notifications.jsonl') });
    await ch.send(b, ctx('k-b'));
    const lines = readFileSync(join(dataDir, 'notifications.jsonl'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { idempotencyKey: 'k-a', channel: 'default/file', key: a.key, receiver: 'ops', status: 'firing', severity: 'critical', title: '[FIRING:CRITICAL] cpu_high on web-1', text: expect.stringContaining('Value: 93.1% over 5m'), notification: a },
      { idempotencyKey: 'k-b', channel: 'default/file', key: b.key, receiver: 'ops', status: 'resolved', severity: 'warning', title: '[RESOLVED] disk_full on web-2', text: expect.any(String), notification: b },
    ]);
  });

  it('concurrent sends never interleave lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
    const path = join(dir, 'sub', 'out.jsonl');
    const ch = fileChannel({ path }, { name: 'f', templates });
    const big = sampleGroup([{ ...cpuHigh, annotations: { summary: 'x'.repeat(100_000) } }]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ch.send(big, ctx(`k${i}`))));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(20);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { idempotencyKey: string }).idempotencyKey)).size).toBe(20);
  });

  it('a path that cannot be written is permanent, naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
    writeFileSync(join(dir, 'plain'), '');
    const err = (await rejection(fileChannel({ path: join(dir, 'plain', 'out.jsonl') }, { name: 'f', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/(EEXIST|ENOTDIR), not retried: fix the path or its permissions\)$/);
    expect(err.message).toContain(`cannot append to ${join(dir, 'plain', 'out.jsonl')} (`);
  });
});
