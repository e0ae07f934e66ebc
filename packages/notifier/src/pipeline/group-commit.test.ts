import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

describe('GroupCommit', () => {
  it('puts rows added while an insert runs into the next insert, one for all of them', async () => {
    const inserts: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const g = new GroupCommit<number>(async (rows) => {
      inserts.push(rows);
      if (inserts.length === 1) await first;
    });
    const a = g.add([1]);
    const b = g.add([2]);
    const c = g.add([3, 4]);
    release();
    await Promise.all([a, b, c]);
    expect(inserts).toEqual([[1], [2, 3, 4]]);
    expect(g.busy).toBe(false);
  });

  it('waits the gap after an insert starts before the next one', async () => {
    const starts: number[] = [];
    const g = new GroupCommit<number>(async () => void starts.push(performance.now()), 40);
    await g.add([1]);
    await Promise.all([g.add([2]), g.add([3])]);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(35);
  });

  it('rejects every caller of a failed insert and goes on with the next rows', async () => {
    let fail = true;
    const inserted: number[][] = [];
    const g = new GroupCommit<number>(async (rows) => {
      if (fail) {
        fail = false;
        throw new Error('engine down');
      }
      inserted.push(rows);
    });
    await expect(g.add([1])).rejects.toThrow('engine down');
    await g.add([2]);
    expect(inserted).toEqual([[2]]);
    await expect(g.add([])).resolves.toBeUndefined();
  });
});
