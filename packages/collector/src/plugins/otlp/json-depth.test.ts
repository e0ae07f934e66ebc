import { describe, expect, it } from 'vitest';
import { jsonTooDeepAt, MAX_JSON_DEPTH } from './json-depth.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('jsonTooDeepAt', () => {
  it('passes JSON up to the cap and names the byte that goes past it', () => {
    const at = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(jsonTooDeepAt(bytes(at(MAX_JSON_DEPTH)))).toBe(-1);
    expect(jsonTooDeepAt(bytes(at(MAX_JSON_DEPTH + 1)))).toBe(MAX_JSON_DEPTH);
    expect(jsonTooDeepAt(bytes('{"a":{"b":[1,{"c":2}]}}'), 4)).toBe(-1);
    expect(jsonTooDeepAt(bytes('{"a":{"b":[1,{"c":2}]}}'), 3)).toBe(13);
  });

  it('counts depth, not the number of brackets', () => {
    expect(jsonTooDeepAt(bytes('[' + '[],'.repeat(10_000) + '[]]'), 2)).toBe(-1);
  });

  it('skips brackets in strings, escaped quotes included, and multi-byte text', () => {
    expect(jsonTooDeepAt(bytes(JSON.stringify({ m: '[[[[{{{{"\\'.repeat(50) })), 2)).toBe(-1);
    expect(jsonTooDeepAt(bytes(JSON.stringify(['한국어 [[[', '😀{{{'])), 1)).toBe(-1);
    expect(jsonTooDeepAt(bytes('["\\"[[", [[]]]'), 2)).toBe(10);
  });

  it('scans a million levels without recursing', () => {
    const n = 1_000_000;
    expect(jsonTooDeepAt(bytes('['.repeat(n) + ']'.repeat(n)))).toBe(MAX_JSON_DEPTH);
  });
});
