import { checkSection } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { TimeIntervalConfig } from './config.js';
import { compileTimeIntervals, localTime } from './timeintervals.js';

function interval(timeIntervals: unknown[]) {
  const problems: string[] = [];
  const c = checkSection(TimeIntervalConfig, { name: 'x', timeIntervals }, 'ti');
  const m = compileTimeIntervals([c], 'timeIntervals', problems);
  expect(problems).toEqual([]);
  return (iso: string) => m.get('x')!.holds(Date.parse(iso));
}

describe('time intervals', () => {
  it('reads local fields through Intl, on both sides of DST', () => {
    expect(localTime(Date.parse('2025-03-30T00:59:00Z'), 'Europe/Berlin')).toMatchObject({ day: 30, hour: 1, minute: 59, weekday: 0 });
    expect(localTime(Date.parse('2025-03-30T01:00:00Z'), 'Europe/Berlin')).toMatchObject({ day: 30, hour: 3, minute: 0 });
    expect(localTime(Date.parse('2025-03-08T04:30:00Z'), 'America/New_York')).toMatchObject({ day: 7, hour: 23, weekday: 5 });
  });

  it('office hours in Europe/Berlin follow the wall clock across the spring change', () => {
    const office = interval([{ weekdays: ['monday:friday'], times: [{ startTime: '09:00', endTime: '17:00' }], location: 'Europe/Berlin' }]);
    // Friday 28 March, CET (UTC+1).
    expect(office('2025-03-28T07:59:59Z')).toBe(false);
    expect(office('2025-03-28T08:00:00Z')).toBe(true);
    expect(office('2025-03-28T15:59:59Z')).toBe(true);
    expect(office('2025-03-28T16:00:00Z')).toBe(false); // end exclusive
    // Weekend.
    expect(office('2025-03-29T10:00:00Z')).toBe(false);
    // Monday 31 March, CEST (UTC+2).
    expect(office('2025-03-31T06:59:59Z')).toBe(false);
    expect(office('2025-03-31T07:00:00Z')).toBe(true);
    expect(office('2025-03-31T14:59:59Z')).toBe(true);
    expect(office('2025-03-31T15:00:00Z')).toBe(false);
  });

  it('a window inside the skipped hour never holds; one around it is an hour shorter', () => {
    const skipped = interval([{ times: [{ startTime: '02:00', endTime: '03:00' }], location: 'Europe/Berlin' }]);
    for (let t = Date.parse('2025-03-29T23:00:00Z'); t < Date.parse('2025-03-30T04:00:00Z'); t += 60_000) expect(skipped(new Date(t).toISOString())).toBe(false);
    const around = interval([{ times: [{ startTime: '01:00', endTime: '04:00' }], location: 'Europe/Berlin' }]);
    let minutes = 0;
    for (let t = Date.parse('2025-03-29T22:00:00Z'); t < Date.parse('2025-03-30T06:00:00Z'); t += 60_000) if (around(new Date(t).toISOString())) minutes++;
    expect(minutes).toBe(120);
  });

  it('the repeated hour of the autumn change holds twice', () => {
    const repeated = interval([{ times: [{ startTime: '02:00', endTime: '03:00' }], location: 'Europe/Berlin' }]);
    let minutes = 0;
    for (let t = Date.parse('2025-10-25T22:00:00Z'); t < Date.parse('2025-10-26T04:00:00Z'); t += 60_000) if (repeated(new Date(t).toISOString())) minutes++;
    expect(minutes).toBe(120);
    expect(repeated('2025-10-26T00:00:00Z')).toBe(true); // 02:00 CEST
    expect(repeated('2025-10-26T01:30:00Z')).toBe(true); // 02:30 CET
    expect(repeated('2025-10-26T02:00:00Z')).toBe(false); // 03:00 CET
  });

  it('America/New_York: weekdays and hours in local time, both changes', () => {
    const office = interval([{ weekdays: ['monday:friday'], times: [{ startTime: '09:00', endTime: '17:00' }], location: 'America/New_York' }]);
    expect(office('2025-03-07T13:59:00Z')).toBe(false); // Fri 08:59 EST
    expect(office('2025-03-07T14:00:00Z')).toBe(true); // Fri 09:00 EST
    expect(office('2025-03-10T12:59:00Z')).toBe(false); // Mon 08:59 EDT
    expect(office('2025-03-10T13:00:00Z')).toBe(true); // Mon 09:00 EDT
    expect(office('2025-11-03T13:30:00Z')).toBe(false); // Mon 08:30 EST
    expect(office('2025-11-03T14:00:00Z')).toBe(true);
    const weekdays = interval([{ weekdays: ['monday:friday'], location: 'America/New_York' }]);
    expect(weekdays('2025-03-08T04:30:00Z')).toBe(true); // Saturday in UTC, Friday 23:30 in New York
    expect(weekdays('2025-03-08T05:30:00Z')).toBe(false);
  });

  it('days of the month (negative from the end), months by name, years, any of several ranges', () => {
    const lastDay = interval([{ daysOfMonth: ['-1'] }]);
    expect(lastDay('2025-02-28T12:00:00Z')).toBe(true);
    expect(lastDay('2025-02-27T12:00:00Z')).toBe(false);
    expect(lastDay('2024-02-28T12:00:00Z')).toBe(false);
    expect(lastDay('2024-02-29T12:00:00Z')).toBe(true);
    const firstWeek = interval([{ daysOfMonth: ['1:7'], months: ['december', '1:2'], years: ['2025'] }]);
    expect(firstWeek('2025-12-03T00:00:00Z')).toBe(true);
    expect(firstWeek('2025-02-07T23:59:00Z')).toBe(true);
    expect(firstWeek('2025-03-03T00:00:00Z')).toBe(false);
    expect(firstWeek('2026-01-03T00:00:00Z')).toBe(false);
    expect(firstWeek('2025-12-08T00:00:00Z')).toBe(false);
    const nightsOrSundays = interval([{ times: [{ startTime: '22:00', endTime: '24:00' }, { startTime: '00:00', endTime: '06:00' }] }, { weekdays: ['sunday'] }]);
    expect(nightsOrSundays('2025-03-05T23:00:00Z')).toBe(true);
    expect(nightsOrSundays('2025-03-05T05:59:00Z')).toBe(true);
    expect(nightsOrSundays('2025-03-05T12:00:00Z')).toBe(false);
    expect(nightsOrSundays('2025-03-09T12:00:00Z')).toBe(true);
    const always = interval([{}]);
    expect(always('2025-03-05T12:00:00Z')).toBe(true);
    const never = interval([]);
    expect(never('2025-03-05T12:00:00Z')).toBe(false);
  });

  it('names the key of every problem', () => {
    const problems: string[] = [];
    const raw = [
      { name: 'a', timeIntervals: [{ weekdays: ['funday'], daysOfMonth: ['0', '32'], months: ['13'], years: ['2026:2025'], times: [{ startTime: '17:00', endTime: '09:00' }] }] },
      { name: 'a' },
    ].map((r, i) => checkSection(TimeIntervalConfig, r, `t[${i}]`));
    compileTimeIntervals(raw, 'timeIntervals', problems);
    expect(problems).toEqual([
      'timeIntervals[0].timeIntervals[0].times[0]: startTime 17:00 is not before endTime 09:00 (split a range across midnight in two)',
      'timeIntervals[0].timeIntervals[0].weekdays[0]: "funday" is not a weekday or range of them (monday:friday)',
      'timeIntervals[0].timeIntervals[0].daysOfMonth[0]: "0" is not a day of the month (1..31, -31..-1) or a range of them',
      'timeIntervals[0].timeIntervals[0].daysOfMonth[1]: "32" is not a day of the month (1..31, -31..-1) or a range of them',
      'timeIntervals[0].timeIntervals[0].months[0]: "13" is not a month (1..12 or january..december) or a range of them',
      'timeIntervals[0].timeIntervals[0].years[0]: "2026:2025" starts after it ends (write the earlier one first)',
      'timeIntervals[1].name: "a" is defined twice (names must be unique)',
    ]);
    expect(() => checkSection(TimeIntervalConfig, { name: 'x', timeIntervals: [{ times: [{ startTime: '9:00', endTime: '17:00' }] }] }, 'ti')).toThrow(/ti\.timeIntervals\[0\]\.times\[0\]\.startTime/);
  });
});
