import { describe, expect, it } from 'vitest';
import { Loops } from '../src/plugins/loops.js';

describe('Loops', () => {
  it('runs at once, then an interval after each start, never overlapping; stop waits for the run in flight', async () => {
    const errors: string[] = [];
    const loops = new Loops((e) => errors.push(e.message));
    const starts: number[] = [];
    let inFlight = 0;
    let overlapped = false;
    let finished = 0;
    loops.every(40, async () => {
      starts.push(Date.now());
      if (++inFlight > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, 25));
      inFlight--;
      finished++;
      if (starts.length === 2) throw new Error('boom');
    });
    await new Promise((r) => setTimeout(r, 150));
    const stopping = loops.stop();
    await stopping;
    const runs = starts.length;
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(finished).toBe(runs);
    expect(overlapped).toBe(false);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(38);
    // A task that throws is reported and its loop goes on.
    expect(errors).toEqual(['boom']);
    await new Promise((r) => setTimeout(r, 100));
    expect(starts.length).toBe(runs);
  });
});
