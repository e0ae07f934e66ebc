import { describe, expect, it } from 'vitest';
import { timeSlices } from '@vigil/platform';

describe('timeSlices', () => {
  it('asks for no pause within the budget, then one that lets waiting I/O run first', async () => {
    let t = 0;
    const slice = timeSlices(8, () => t);
    t = 7;
    expect(slice()).toBeUndefined();
    t = 8;
    const order: string[] = [];
    setImmediate(() => order.push('io'));
    const pause = slice();
    expect(pause).toBeInstanceOf(Promise);
    await pause!.then(() => order.push('resumed'));
    expect(order).toEqual(['io', 'resumed']);
    // The budget starts again after the pause.
    t = 15;
    expect(slice()).toBeUndefined();
    t = 16.5;
    expect(slice()).toBeInstanceOf(Promise);
  });

  it('keeps a long loop from holding a timer back for longer than about its budget', async () => {
    const slice = timeSlices(5);
    const started = performance.now();
    let firedAfter = Number.NaN;
    setTimeout(() => (firedAfter = performance.now() - started), 0);
    // 200 ms of synchronous work in small steps.
    while (performance.now() - started < 200) {
      const until = performance.now() + 0.5;
      while (performance.now() < until);
      const p = slice();
      if (p) await p;
    }
    expect(firedAfter).toBeLessThan(60);
  });
});
