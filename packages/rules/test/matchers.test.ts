import { describe, expect, it } from 'vitest';
import { MatcherError, attributeValue, matchesAll, parseMatcher, parseMatchers } from '../src/matchers.js';

const test = (spec: string, value: string) => parseMatcher('k', spec).test(value);

describe('parseMatcher', () => {
  it('"x" is equality', () => {
    expect(parseMatcher('k', 'idle')).toMatchObject({ key: 'k', op: '=', text: 'idle' });
    expect(test('idle', 'idle')).toBe(true);
    expect(test('idle', 'user')).toBe(false);
    expect(test('idle', 'idle2')).toBe(false);
    expect(test('idle', '')).toBe(false);
  });

  it('"!x" is inequality, and matches a missing (empty) attribute', () => {
    expect(parseMatcher('k', '!idle')).toMatchObject({ op: '!=', text: 'idle' });
    expect(test('!idle', 'user')).toBe(true);
    expect(test('!idle', 'idle')).toBe(false);
    expect(test('!idle', '')).toBe(true);
  });

  it('"~re" matches the whole value (anchored)', () => {
    expect(parseMatcher('k', '~user|system')).toMatchObject({ op: '=~', text: 'user|system' });
    expect(test('~user|system', 'user')).toBe(true);
    expect(test('~user|system', 'system')).toBe(true);
    expect(test('~user|system', 'superuser')).toBe(false);
    expect(test('~user|system', 'systemd')).toBe(false);
    expect(test('~sys', 'system')).toBe(false);
    expect(test('~/var/.*', '/var/lib')).toBe(true);
    expect(test('~/var/.*', '/srv/var/lib')).toBe(false);
  });

  it('"!~re" is the anchored negation', () => {
    expect(parseMatcher('k', '!~idle|wait')).toMatchObject({ op: '!~', text: 'idle|wait' });
    expect(test('!~idle|wait', 'user')).toBe(true);
    expect(test('!~idle|wait', 'idle')).toBe(false);
    expect(test('!~idle|wait', 'idler')).toBe(true);
    expect(test('!~idle|wait', '')).toBe(true);
  });

  it('edge forms: "!" (not empty), "~" (only empty), "" (only empty)', () => {
    expect(test('!', 'x')).toBe(true);
    expect(test('!', '')).toBe(false);
    expect(test('~', '')).toBe(true);
    expect(test('~', 'x')).toBe(false);
    expect(test('', '')).toBe(true);
    expect(test('', 'x')).toBe(false);
  });

  it('a regex that does not compile is refused with the key and the text', () => {
    expect(() => parseMatcher('cpu.mode', '~(idle')).toThrow(MatcherError);
    expect(() => parseMatcher('cpu.mode', '!~[a-')).toThrow(/where "cpu\.mode": "\[a-" is not a valid regular expression/);
  });
});

describe('attribute lookup', () => {
  it('reads the point attribute first, then the resource attribute, else the empty string', () => {
    expect(attributeValue('host.name', { 'host.name': 'point' }, { 'host.name': 'resource' })).toBe('point');
    expect(attributeValue('host.name', {}, { 'host.name': 'resource' })).toBe('resource');
    expect(attributeValue('host.name', {}, {})).toBe('');
  });

  it('matchesAll needs every matcher, and no matchers match everything', () => {
    const ms = parseMatchers({ 'cpu.mode': '!idle', 'host.name': '~web-.*' });
    expect(matchesAll(ms, { 'cpu.mode': 'user' }, { 'host.name': 'web-1' })).toBe(true);
    expect(matchesAll(ms, { 'cpu.mode': 'idle' }, { 'host.name': 'web-1' })).toBe(false);
    expect(matchesAll(ms, { 'cpu.mode': 'user' }, { 'host.name': 'db-1' })).toBe(false);
    expect(matchesAll(ms, { 'cpu.mode': 'user', 'host.name': 'db-1' }, { 'host.name': 'web-1' })).toBe(false);
    expect(matchesAll([], {}, {})).toBe(true);
  });
});
