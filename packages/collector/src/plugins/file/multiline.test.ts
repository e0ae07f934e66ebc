import { describe, expect, it } from 'vitest';
import { MultilineAssembler, type Assembled } from './multiline.js';

const start = /^\d{4}-\d{2}-\d{2} /;
const make = (over: Partial<{ maxLines: number; maxChars: number; flushTimeout: number }> = {}) =>
  new MultilineAssembler({ startPattern: start, flushTimeout: 1000, maxLines: 100, maxChars: 10_000, ...over });

function feed(m: MultilineAssembler, lines: string[], t = 0): Assembled[] {
  const out: Assembled[] = [];
  let end = 0;
  for (const l of lines) {
    end += l.length + 1;
    const a = m.push(l, end, false, t);
    if (a) out.push(a);
  }
  return out;
}

describe('MultilineAssembler', () => {
  const trace = [
    '2024-05-01 12:00:00 ERROR request failed',
    'java.lang.IllegalStateException: boom',
    '\tat com.shop.Cart.add(Cart.java:42)',
    '\tat com.shop.Api.post(Api.java:7)',
    'Caused by: java.io.IOException: disk',
    '\t... 3 more',
    '2024-05-01 12:00:01 INFO next',
  ];

  it('joins a Java stack trace onto the line that started it', () => {
    const m = make();
    const out = feed(m, trace);
    expect(out).toHaveLength(1);
    expect(out[0]!.text).toBe(trace.slice(0, 6).join('\n'));
    expect(out[0]!.end).toBe(trace.slice(0, 6).join('\n').length + 1);
    expect(m.pending).toBe(true);
    expect(m.flush(999)).toBeUndefined();
    expect(m.flush(1000)!.text).toBe('2024-05-01 12:00:01 INFO next');
  });

  it('times out from the last line added, not the first', () => {
    const m = make();
    m.push('2024-05-01 a', 1, false, 0);
    m.push(' more', 2, false, 900);
    expect(m.flush(1500)).toBeUndefined();
    expect(m.flush(1900)?.text).toBe('2024-05-01 a\n more');
  });

  it('leading continuation lines form a record of their own', () => {
    const out = feed(make(), ['  orphan', '  orphan 2', '2024-05-01 x', '2024-05-01 y']);
    expect(out.map((a) => a.text)).toEqual(['  orphan\n  orphan 2', '2024-05-01 x']);
  });

  it('starts a new record after maxLines', () => {
    const out = feed(make({ maxLines: 2 }), ['2024-05-01 a', 'b', 'c', 'd', 'e', '2024-05-01 f']);
    expect(out.map((a) => a.text)).toEqual(['2024-05-01 a\nb', 'c\nd', 'e']);
  });

  it('cuts a record at maxChars and flags it', () => {
    const m = make({ maxChars: 10 });
    const out = feed(m, ['2024-05-01 long line', 'more', '2024-05-01 z']);
    expect(out).toEqual([{ text: '2024-05-01', end: 26, truncated: true }]);
    expect(m.flush(0, true)).toEqual({ text: '2024-05-01', end: 39, truncated: true });
  });

  it('carries a truncated line flag into its record; reset forgets', () => {
    const m = make();
    m.push('2024-05-01 a', 10, true, 0);
    expect(m.flush(0, true)?.truncated).toBe(true);
    m.push('2024-05-01 b', 20, false, 0);
    m.reset();
    expect(m.flush(0, true)).toBeUndefined();
  });
});
