import { MIN_STORED_TIME_MS, formatDuration, parseDuration, parseRfc3339 } from '@vigil/platform';

/**
 * The notifier API's input that its schemas cannot judge (times, durations, bounds), checked before
 * anything is stored: a 400 naming the field, never a RangeError answered as 503. Pure: `now` is passed in.
 */

/** Answered 400 `{ error: 'invalid_parameter', message }`; the message starts with the field. */
export class BadRequest extends Error {}

/**
 * The longest silence, and how far ahead one may end: a silence is kept in ClickHouse until its
 * end plus the retention, and a date past 2106 wraps around there and deletes it at once.
 */
export const MAX_SILENCE_MS = 3650 * 86_400_000;

const TIME_HINT = 'RFC 3339, e.g. 2025-11-22T02:53:20Z';

function time(field: string, text: string, now: number): number {
  const ms = parseRfc3339(text);
  if (ms === undefined) throw new BadRequest(`${field}: ${JSON.stringify(text)} is not an RFC 3339 time (${TIME_HINT})`);
  if (ms < MIN_STORED_TIME_MS) throw new BadRequest(`${field}: ${JSON.stringify(text)} is before ${new Date(MIN_STORED_TIME_MS).toISOString()} (${TIME_HINT})`);
  if (ms > now + MAX_SILENCE_MS) throw new BadRequest(`${field}: ${JSON.stringify(text)} is more than ${formatDuration(MAX_SILENCE_MS)} from now (silences end within ${formatDuration(MAX_SILENCE_MS)})`);
  return ms;
}

export interface SilenceTimesInput {
  startsAt?: string | undefined;
  endsAt?: string | undefined;
  duration?: string | undefined;
}

/** startsAt (default now) and endsAt (given, or startsAt + duration) of a new silence, as RFC 3339. */
export function silenceTimes(body: SilenceTimesInput, now: number): { startsAt: string; endsAt: string } {
  const start = body.startsAt === undefined ? now : time('startsAt', body.startsAt, now);
  let end: number;
  if (body.endsAt !== undefined) end = time('endsAt', body.endsAt, now);
  else if (body.duration !== undefined) {
    const ms = parseDuration(body.duration);
    if (ms === undefined || ms <= 0) throw new BadRequest(`duration: ${JSON.stringify(body.duration)} is not a duration longer than zero (e.g. 30m, 2h, 7d)`);
    if (!(ms <= MAX_SILENCE_MS)) throw new BadRequest(`duration: ${JSON.stringify(body.duration)} is longer than ${formatDuration(MAX_SILENCE_MS)}, the longest silence (give a shorter duration)`);
    end = start + ms;
    if (end > now + MAX_SILENCE_MS) throw new BadRequest(`duration: ${JSON.stringify(body.duration)} from startsAt ends more than ${formatDuration(MAX_SILENCE_MS)} from now (silences end within ${formatDuration(MAX_SILENCE_MS)})`);
  } else throw new BadRequest('endsAt: give endsAt (RFC 3339) or duration (e.g. 2h)');
  return { startsAt: new Date(start).toISOString(), endsAt: new Date(end).toISOString() };
}

/** The start of `since` (e.g. 24h) back from now; not before 1970, where nothing is stored. */
export function sinceStart(text: string, now: number): number {
  const ms = parseDuration(text);
  if (ms === undefined || !(ms <= now - MIN_STORED_TIME_MS)) {
    throw new BadRequest(`since: ${JSON.stringify(text)} is not a duration reaching back no further than 1970 (e.g. 1h, 7d; at most ${formatDuration(now - MIN_STORED_TIME_MS)})`);
  }
  return now - ms;
}

/** `limit` again after the schema, which lets "1e400" through as Infinity. */
export function checkLimit(limit: number, max: number): number {
  if (Number.isInteger(limit) && limit >= 1 && limit <= max) return limit;
  throw new BadRequest(`limit: ${JSON.stringify(String(limit))} is not a whole number from 1 to ${max}`);
}
