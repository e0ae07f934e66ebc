import { describe, expect, it } from 'vitest';
import { epochToMs, parseTimestamp } from './timestamp.js';
import { classificationOf, severityFromNumber, severityFromSyslog, severityFromWord, severityText } from './severity.js';

describe('parseTimestamp', () => {
  const now = new Date(2024, 0, 10, 12, 0, 0).getTime();

  it.each([
    ['2024-01-15T10:00:00Z', Date.UTC(2024, 0, 15, 10)],
    ['2024-01-15T10:00:00.123456+02:00', Date.UTC(2024, 0, 15, 8, 0, 0, 123)],
    ['10/Oct/2000:13:55:36 -0700', Date.UTC(2000, 9, 10, 20, 55, 36)],
    ['10/Oct/2000:13:55:36 +0130', Date.UTC(2000, 9, 10, 12, 25, 36)],
    ['1705312800', 1705312800000],
    ['1705312800123', 1705312800123],
    ['1705312800123456789', 1705312800123],
  ])('%s', (text, ms) => {
    expect(parseTimestamp(text, now)).toBe(ms);
  });

  it('local-time formats: nginx error log, Python asctime, syslog without a year (last year when it would be in the future)', () => {
    expect(parseTimestamp('2024/01/15 10:00:00', now)).toBe(new Date(2024, 0, 15, 10).getTime());
    expect(parseTimestamp('2024-01-15 10:00:00,250', now)).toBe(new Date(2024, 0, 15, 10, 0, 0, 250).getTime());
    expect(parseTimestamp('Jan  9 22:14:15', now)).toBe(new Date(2024, 0, 9, 22, 14, 15).getTime());
    expect(parseTimestamp('Dec 31 23:59:59', now)).toBe(new Date(2023, 11, 31, 23, 59, 59).getTime());
  });

  it('more of the formats real programs print', () => {
    // Django's runserver and werkzeug: the access-log date with a space before the time, no zone.
    expect(parseTimestamp('15/Jan/2024 10:00:00', now)).toBe(new Date(2024, 0, 15, 10).getTime());
    // klog (kubelet): month and day only.
    expect(parseTimestamp('0109 22:14:15.123456', now)).toBe(new Date(2024, 0, 9, 22, 14, 15, 123).getTime());
    expect(parseTimestamp('1231 23:59:59.000001', now)).toBe(new Date(2023, 11, 31, 23, 59, 59).getTime());
    // PostgreSQL's %m with a zone name, gunicorn's [%Y-%m-%d %H:%M:%S %z], Apache's error log, Redis, zap's ISO 8601 without a colon in the offset.
    expect(parseTimestamp('2024-01-15 10:00:00.123 UTC', now)).toBe(Date.UTC(2024, 0, 15, 10, 0, 0, 123));
    expect(parseTimestamp('2024-01-15 10:00:00 +0000', now)).toBe(Date.UTC(2024, 0, 15, 10));
    expect(parseTimestamp('Mon Jan 15 10:00:00.123456 2024', now)).toBe(new Date(2024, 0, 15, 10, 0, 0, 123).getTime());
    expect(parseTimestamp('15 Jan 2024 10:00:00.123', now)).toBe(new Date(2024, 0, 15, 10, 0, 0, 123).getTime());
    expect(parseTimestamp('2024-01-15T10:00:00.123+0100', now)).toBe(Date.UTC(2024, 0, 15, 9, 0, 0, 123));
  });

  it('not a time', () => {
    expect(parseTimestamp('yesterday', now)).toBeUndefined();
    expect(parseTimestamp('32/Foo/2000:13:55:36 -0700', now)).toBeUndefined();
  });

  it('epochs by magnitude', () => {
    expect([epochToMs(1705312800), epochToMs(1705312800.5), epochToMs(1705312800123), epochToMs(1705312800123456)]).toEqual([1705312800000, 1705312800500, 1705312800123, 1705312800123]);
  });
});

describe('severities', () => {
  it('words, pino numbers, OTel numbers, syslog severities; classifications back', () => {
    expect(['trace', 'DEBUG', 'Info', 'notice', 'warning', 'ERR', 'critical', 'fatal', 'emerg', 'low', 'medium', 'high'].map((w) => severityFromWord(w))).toEqual([1, 5, 9, 10, 13, 17, 21, 21, 23, 9, 13, 17]);
    expect(severityFromWord('loud')).toBeUndefined();
    // .NET's console (trce dbug info warn fail crit), logrus on a terminal (ERRO FATA), klog (I W E F), PostgreSQL (LOG, DEBUG1), MySQL (Note, System), winston (http, verbose, silly).
    expect(['trce', 'dbug', 'fail', 'crit', 'ERRO', 'FATA', 'I', 'W', 'E', 'F', 'LOG', 'DEBUG1', 'Note', 'System', 'http', 'verbose', 'silly'].map((w) => severityFromWord(w))).toEqual([
      1, 5, 17, 21, 17, 21, 9, 13, 17, 21, 9, 5, 9, 10, 8, 5, 1,
    ]);
    expect([10, 20, 30, 40, 50, 60, 3, 24, 25, 0].map(severityFromNumber)).toEqual([1, 5, 9, 13, 17, 21, 3, 24, undefined, undefined]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(severityFromSyslog)).toEqual([23, 22, 21, 17, 13, 10, 9, 5]);
    expect([9, 13, 17, 21, 23].map(classificationOf)).toEqual(['low', 'medium', 'high', 'critical', 'critical']);
    expect([severityText(13), severityText(18), severityText(99)]).toEqual(['WARN', 'ERROR2', 'UNSPECIFIED']);
  });
});
