import { describe, expect, it } from 'vitest';
import { formatCheckpoints, parseCheckpoints, pruneCheckpoints, type CheckpointEntry } from './checkpoint.js';
import { changeAt, fingerprintOf, matches, startOffset, type Known } from './fingerprint.js';

const B = (s: string) => Buffer.from(s);

describe('fingerprints', () => {
  it('a short fingerprint matches any file that starts with the same bytes; an empty one matches nothing', () => {
    const short = fingerprintOf(B('hello\n'), 1024);
    expect(short.length).toBe(6);
    expect(matches(short, B('hello\nworld\n'))).toBe(true);
    expect(matches(short, B('hello'))).toBe(false);
    expect(matches(short, B('HELLO\nworld\n'))).toBe(false);
    expect(matches(fingerprintOf(B(''), 1024), B('anything'))).toBe(false);
    const full = fingerprintOf(B('x'.repeat(2000)), 16);
    expect(full.length).toBe(16);
    expect(matches(full, B('x'.repeat(16)))).toBe(true);
  });

  const fp = fingerprintOf(B('2024-05-01 first line of the file\n'), 1024);
  const tracked = { dev: 1, ino: 10, offset: 500, fingerprint: fp };
  const head = B('2024-05-01 first line of the file\nsecond\n');

  it('tells growth, truncation, copy-truncate rewritten past the offset, and replacement apart', () => {
    expect(changeAt(tracked, { dev: 1, ino: 10, size: 800 }, head)).toBe('same');
    expect(changeAt(tracked, { dev: 1, ino: 10, size: 500 }, head)).toBe('same');
    expect(changeAt(tracked, { dev: 1, ino: 10, size: 499 }, head)).toBe('truncated');
    expect(changeAt(tracked, { dev: 1, ino: 10, size: 0 }, B(''))).toBe('truncated');
    expect(changeAt(tracked, { dev: 1, ino: 10, size: 900 }, B('2024-05-02 other content entirely\n'))).toBe('truncated');
    expect(changeAt(tracked, { dev: 1, ino: 11, size: 900 }, head)).toBe('replaced');
    expect(changeAt(tracked, { dev: 2, ino: 10, size: 900 }, head)).toBe('replaced');
  });

  it('starts a new file at a known offset, else at 0, or at its end on the first scan with startAt end', () => {
    const known: Known[] = [{ fingerprint: fp, offset: 300, dev: 1, ino: 10 }];
    expect(startOffset(head, { dev: 1, ino: 10, size: 1000 }, known, true)).toEqual({ offset: 300, resumed: known[0] });
    expect(startOffset(head, { dev: 1, ino: 99, size: 1000 }, known, false).offset).toBe(300); // a copy, or renamed while we were down
    expect(startOffset(head, { dev: 1, ino: 10, size: 200 }, known, false).offset).toBe(0); // truncated while we were down
    const other = B('something else\n');
    expect(startOffset(other, { dev: 1, ino: 5, size: 1000 }, known, true)).toEqual({ offset: 1000 });
    expect(startOffset(other, { dev: 1, ino: 5, size: 1000 }, known, false)).toEqual({ offset: 0 });
  });

  it('prefers the entry on the same inode, then the longest fingerprint', () => {
    const shortFp = fingerprintOf(B('2024'), 1024);
    const a: Known = { fingerprint: shortFp, offset: 1, dev: 1, ino: 7 };
    const b: Known = { fingerprint: fp, offset: 2, dev: 1, ino: 8 };
    expect(startOffset(head, { dev: 1, ino: 9, size: 100 }, [a, b], false).offset).toBe(2);
    expect(startOffset(head, { dev: 1, ino: 7, size: 100 }, [a, b], false).offset).toBe(1);
  });
});

describe('checkpoint file', () => {
  const e = (seen: number, hash = `h${seen}`): CheckpointEntry => ({ path: `/l/${seen}`, fingerprint: { length: 10, hash }, offset: seen * 10, dev: 1, ino: seen, seen });

  it('round-trips and skips malformed entries', () => {
    const entries = [e(1), e(2)];
    expect(parseCheckpoints(formatCheckpoints(entries))).toEqual(entries);
    expect(parseCheckpoints('{"version":1,"files":[{"offset":"x"},{"offset":5,"fingerprint":{"length":3,"hash":"ab"}}]}')).toEqual([
      { path: '', fingerprint: { length: 3, hash: 'ab' }, offset: 5, dev: 0, ino: 0, seen: 0 },
    ]);
    expect(() => parseCheckpoints('{"version":9}')).toThrow(/version 9/);
  });

  it('forgets entries not seen for too long, and keeps the newest when there are too many', () => {
    expect(pruneCheckpoints([e(1), e(50), e(100)], 100, 60, 10).map((x) => x.seen)).toEqual([100, 50]);
    expect(pruneCheckpoints([e(1), e(50), e(100)], 100, 1000, 2).map((x) => x.seen)).toEqual([100, 50]);
  });
});
