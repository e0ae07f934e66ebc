import { describe, expect, it } from 'vitest';
import { inArrivalOrderBy, runGroups } from './order.js';

describe('inArrivalOrderBy', () => {
  it('groups by key, keeping the arrival order within and across groups', () => {
    const items = ['a1', 'b1', 'a2', 'c1', 'b2', 'a3'];
    expect(inArrivalOrderBy(items, (s) => s[0]!)).toEqual([['a1', 'a2', 'a3'], ['b1', 'b2'], ['c1']]);
    expect(inArrivalOrderBy([], (s: string) => s)).toEqual([]);
  });
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runGroups', () => {
  it('runs items of a group in order and groups side by side, up to the limit', async () => {
    const log: string[] = [];
    let running = 0;
    let most = 0;
    await runGroups([['a1', 'a2'], ['b1', 'b2'], ['c1']], 2, async (item) => {
      running++;
      most = Math.max(most, running);
      log.push(`start ${item}`);
      await tick(item.startsWith('a') ? 15 : 5);
      log.push(`end ${item}`);
      running--;
    });
    expect(most).toBe(2);
    for (const g of ['a', 'b']) expect(log.indexOf(`end ${g}1`)).toBeLessThan(log.indexOf(`start ${g}2`));
    expect(log.filter((l) => l.startsWith('end'))).toHaveLength(5);
  });

  it('rejects with the first error only after what was running has settled, and starts nothing new', async () => {
    const done: string[] = [];
    const p = runGroups([['bad', 'after-bad'], ['slow'], ['later']], 2, async (item) => {
      if (item === 'bad') throw new Error('boom');
      await tick(item === 'slow' ? 30 : 1);
      done.push(item);
    });
    await expect(p).rejects.toThrow('boom');
    expect(done).toEqual(['slow']);
  });
});
