import { describe, expect, it } from 'vitest';
import { dedupToken, planRanges } from '../src/ledger.js';

const r = (first: number, last: number) => ({ first: BigInt(first), last: BigInt(last) });
const plan = (batch: [number, number], intents: [number, number][]) =>
  planRanges(r(...batch), intents.map((i) => r(...i))).map((p) => [Number(p.range.first), Number(p.range.last), Number(p.token.first), Number(p.token.last)]);

describe('planRanges', () => {
  it('keeps a fresh batch whole', () => {
    expect(plan([10, 19], [])).toEqual([[10, 19, 10, 19]]);
  });

  it('replays a recorded range under its token, then the rest as a new range', () => {
    expect(plan([10, 25], [[10, 19]])).toEqual([
      [10, 19, 10, 19],
      [20, 25, 20, 25],
    ]);
  });

  it('cuts a full replay (new group, offset reset) along every recorded range', () => {
    expect(plan([0, 12], [[0, 2], [3, 5], [6, 9]])).toEqual([
      [0, 2, 0, 2],
      [3, 5, 3, 5],
      [6, 9, 6, 9],
      [10, 12, 10, 12],
    ]);
  });

  it('keeps the token of an intent longer than the batch', () => {
    expect(plan([10, 14], [[10, 19]])).toEqual([[10, 14, 10, 19]]);
  });

  it('fills a gap before a recorded range with a new range that ends where the intent starts', () => {
    expect(plan([0, 9], [[5, 9]])).toEqual([
      [0, 4, 0, 4],
      [5, 9, 5, 9],
    ]);
  });

  it('ignores intents outside the batch and takes the longest of duplicates', () => {
    expect(plan([10, 19], [[0, 9], [20, 30], [10, 12], [10, 15]])).toEqual([
      [10, 15, 10, 15],
      [16, 19, 16, 19],
    ]);
  });

  it('names tokens by topic, partition and range', () => {
    expect(dedupToken('otlp_metrics', 2, r(5, 9), 1764000000000)).toBe('vigil-ingest:otlp_metrics:2:5-9@1764000000000');
  });
});
