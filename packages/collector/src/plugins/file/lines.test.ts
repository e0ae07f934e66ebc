import { describe, expect, it } from 'vitest';
import { LineSplitter } from './lines.js';
import { utf8Boundary } from './text.js';

type Out = [text: string, end: number, truncated: boolean];

/** What the splitter must produce, computed the obvious way on the whole input. */
function reference(input: Buffer, max: number): Out[] {
  const out: Out[] = [];
  let start = 0;
  for (let nl = input.indexOf(10); nl >= 0; nl = input.indexOf(10, start)) {
    let stop = nl > start && input[nl - 1] === 13 ? nl - 1 : nl;
    let truncated = false;
    if (stop - start > max) {
      stop = start + utf8Boundary(input, start, max);
      truncated = true;
    }
    out.push([input.toString('utf8', start, stop), nl + 1, truncated]);
    start = nl + 1;
  }
  return out;
}

function split(input: Buffer, max: number, cuts: number[]): Out[] {
  const s = new LineSplitter(max, 'utf8');
  const out: Out[] = [];
  const sink = (t: string, e: number, tr: boolean) => out.push([t, e, tr]);
  let at = 0;
  for (const c of [...cuts, input.length]) {
    // The caller reuses its buffer: copy into a scratch buffer and scribble on it afterwards.
    const scratch = Buffer.alloc(c - at + 4);
    input.copy(scratch, 2, at, c);
    s.push(scratch, 2, 2 + (c - at), sink);
    scratch.fill(0x41);
    at = c;
  }
  expect(s.offset).toBe(input.length);
  return out;
}

const samples = [
  'a\nbb\nccc\n',
  'one\r\ntwo\r\n\r\nthree\n',
  'no newline at the end',
  '\n\n\n',
  'héllo wörld 😀 ünïcödé\nzwei\n',
  'exactly8\n123456789\n1234567\n',
  '\xff\xfe garbage \xc3\x28 more\n',
];

describe('LineSplitter', () => {
  it('gives the same lines, offsets and truncation for every way of cutting the input into two or three chunks', () => {
    for (const sample of samples) {
      const input = Buffer.from(sample, sample.includes('\xff') ? 'latin1' : 'utf8');
      for (const max of [3, 8, 1000]) {
        const want = reference(input, max);
        for (let i = 0; i <= input.length; i++) {
          expect(split(input, max, [i]), `${JSON.stringify(sample)} max ${max} cut ${i}`).toEqual(want);
          for (let j = i; j <= input.length; j += 3) expect(split(input, max, [i, j])).toEqual(want);
        }
      }
    }
  });

  it('keeps at most maxLineBytes of a huge line in memory and flags it truncated', () => {
    const s = new LineSplitter(10, 'utf8');
    const out: Out[] = [];
    const sink = (t: string, e: number, tr: boolean) => out.push([t, e, tr]);
    for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1000, 0x78), 0, 1000, sink);
    expect(s.pending).toBeLessThanOrEqual(12);
    s.push(Buffer.from('\nok\n'), 0, 4, sink);
    expect(out).toEqual([
      ['x'.repeat(10), 1_000_001, true],
      ['ok', 1_000_004, false],
    ]);
  });

  it('never cuts a multi-byte character in two', () => {
    const line = Buffer.from('aé😀b\n'); // 1 + 2 + 4 + 1 bytes
    const got = [1, 2, 3, 4, 5, 6, 7, 8].map((max) => reference(line, max)[0]![0]);
    expect(got).toEqual(['a', 'a', 'aé', 'aé', 'aé', 'aé', 'aé😀', 'aé😀b']);
    expect(got.join('')).not.toContain('\ufffd');
  });

  it('replaces invalid UTF-8 with U+FFFD and goes on', () => {
    const out: Out[] = [];
    new LineSplitter(100, 'utf8').push(Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x0a, 0x00, 0x01, 0x0a]), 0, 8, (t, e, tr) => out.push([t, e, tr]));
    expect(out).toEqual([
      ['a\ufffdb\ufffd', 5, false],
      ['\u0000\u0001', 8, false],
    ]);
  });

  it('decodes latin1 byte for byte', () => {
    const out: string[] = [];
    new LineSplitter(100, 'latin1').push(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), 0, 5, (t) => out.push(t));
    expect(out).toEqual(['café']);
  });

  it('flush emits an unfinished line at the current offset; reset drops it', () => {
    const s = new LineSplitter(100, 'utf8', 50);
    const out: Out[] = [];
    const sink = (t: string, e: number, tr: boolean) => out.push([t, e, tr]);
    s.push(Buffer.from('done\npart'), 0, 9, sink);
    expect(s.pending).toBe(4);
    expect(s.flush(sink)).toBe(true);
    expect(s.flush(sink)).toBe(false);
    s.push(Buffer.from('gone'), 0, 4, sink);
    s.reset(0);
    s.push(Buffer.from('x\n'), 0, 2, sink);
    expect(out).toEqual([
      ['done', 55, false],
      ['part', 59, false],
      ['x', 2, false],
    ]);
  });
});

describe('utf8Boundary', () => {
  it('backs off only over an incomplete trailing sequence', () => {
    const b = Buffer.from('😀😀'); // 8 bytes
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((m) => utf8Boundary(b, 0, m))).toEqual([0, 0, 0, 0, 4, 4, 4, 4, 8]);
    const invalid = Buffer.from([0x80, 0x80, 0x80, 0x80]);
    expect(utf8Boundary(invalid, 0, 3)).toBe(3);
  });
});
