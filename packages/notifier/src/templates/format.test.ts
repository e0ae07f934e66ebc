import { describe, expect, it } from 'vitest';
import { isTimeZone, join, severityColour, severityColourInt, severityEmoji, timeIn, truncate } from './format.js';

describe('severity colours and marks', () => {
  it.each([
    ['info', 'firing', '#439FE0', 0x439fe0, 'ℹ️'],
    ['warning', 'firing', '#F2A900', 0xf2a900, '⚠️'],
    ['critical', 'firing', '#D00000', 0xd00000, '🚨'],
    ['critical', 'resolved', '#2EB67D', 0x2eb67d, '✅'],
    ['bogus', undefined, '#439FE0', 0x439fe0, 'ℹ️'],
  ])('%s %s → %s', (severity, status, hex, int, emoji) => {
    expect(severityColour(severity, status)).toBe(hex);
    expect(severityColourInt(severity, status)).toBe(int);
    expect(severityEmoji(severity, status)).toBe(emoji);
  });
});

describe('truncate', () => {
  it('cuts to max code points with an ellipsis, leaves short texts and bad limits alone', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abcd', 4)).toBe('abcd');
    expect(truncate('🚨🚨🚨🚨', 3)).toBe('🚨🚨…');
    expect(truncate('abc', 1)).toBe('…');
    expect(truncate('abc', 'x')).toBe('abc');
    expect(truncate(undefined, 3)).toBe('');
  });
});

describe('join', () => {
  it('joins arrays and object values; ", " by default', () => {
    expect(join(['a', 'b'])).toBe('a, b');
    expect(join(['a', 'b'], ' | ')).toBe('a | b');
    expect(join({ x: '1', y: '2' }, ',')).toBe('1,2');
    expect(join('plain')).toBe('plain');
    expect(join(undefined)).toBe('');
  });
});

describe('timeIn', () => {
  it('shows UTC by default, other zones with their abbreviation, and passes odd values through', () => {
    expect(timeIn('2024-05-01T12:34:56.789Z')).toBe('2024-05-01 12:34:56 UTC');
    expect(timeIn('2024-01-15T12:00:00Z', 'Europe/Paris')).toBe('2024-01-15 13:00:00 GMT+1');
    expect(timeIn('2024-07-15T12:00:00Z', 'Asia/Seoul')).toBe('2024-07-15 21:00:00 GMT+9');
    expect(timeIn(Date.UTC(2024, 0, 2, 3, 4, 5), 'UTC')).toBe('2024-01-02 03:04:05 UTC');
    expect(timeIn('2024-05-01T00:00:00Z', 'Not/AZone')).toBe('2024-05-01 00:00:00 UTC');
    expect(timeIn('soon')).toBe('soon');
    expect(timeIn(undefined)).toBe('');
  });

  it('knows which zones exist', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
