import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EMBEDDED_ALLOCATOR } from '@vigil/platform';

/**
 * The embedded engine's allocator reads JE_MALLOC_CONF once, as libchdb loads: opening the engine
 * sets it first (freed pages returned after 250 ms instead of 5 s), unless the environment says
 * otherwise. Each case is a process of its own, since the library loads once per process.
 */
describe('embedded engine allocator settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-allocator-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const seenAfterOpen = (env: Record<string, string | undefined>, name: string): string => {
    const script = `import { openStorage } from '@vigil/platform';
const before = process.env.JE_MALLOC_CONF ?? '(unset)';
const s = openStorage({ database: 'vigil', dataDir: ${JSON.stringify(join(dir, name))} });
await s.client.command({ query: 'SELECT 1' });
console.log(JSON.stringify({ before, after: process.env.JE_MALLOC_CONF }));
await s.close();`;
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    delete childEnv.JE_MALLOC_CONF;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: resolve(import.meta.dirname, '../../..'), env: childEnv, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    return run.stdout.trim().split('\n').pop()!;
  };

  it('returns freed pages after 250 ms unless JE_MALLOC_CONF is set, and leaves a value that is', () => {
    expect(EMBEDDED_ALLOCATOR).toBe('dirty_decay_ms:250');
    expect(JSON.parse(seenAfterOpen({}, 'unset'))).toEqual({ before: '(unset)', after: EMBEDDED_ALLOCATOR });
    expect(JSON.parse(seenAfterOpen({ JE_MALLOC_CONF: 'dirty_decay_ms:1000' }, 'set'))).toEqual({ before: 'dirty_decay_ms:1000', after: 'dirty_decay_ms:1000' });
  }, 60_000);
});
