import { describe, expect, it } from 'vitest';
import { classifyHttpStatus, httpStatusError, parseRetryAfter } from './http-response.js';

describe('classifyHttpStatus', () => {
  it.each([
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [599, 'retry'],
    [400, 'permanent'],
    [401, 'permanent'],
    [403, 'permanent'],
    [404, 'permanent'],
    [410, 'permanent'],
    [413, 'permanent'],
    [422, 'permanent'],
    [301, 'permanent'],
    [307, 'permanent'],
    [100, 'permanent'],
    [600, 'permanent'],
  ] as const)('HTTP %i → %s', (status, outcome) => {
    expect(classifyHttpStatus(status)).toBe(outcome);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2015-10-21T07:28:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date relative to now, a past date as 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('httpStatusError', () => {
  const now = 1_000_000;

  it('a 503 is transient and carries its Retry-After', () => {
    const e = httpStatusError('webhook "ops" (https://hooks.example.com)', 503, '2', now);
    expect(e.permanent).toBe(false);
    expect(e.status).toBe(503);
    expect(e.retryAfterMs).toBe(2000);
    expect(e.message).toBe('webhook "ops" (https://hooks.example.com) answered HTTP 503 (will retry)');
  });

  it('a 429 without Retry-After is transient with no wait asked', () => {
    const e = httpStatusError('x', 429, null, now);
    expect(e.permanent).toBe(false);
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('a 400 is permanent and says what to check; Retry-After is ignored there', () => {
    const e = httpStatusError('x', 400, '5', now);
    expect(e.permanent).toBe(true);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e.message).toMatch(/HTTP 400 \(not retried: check the URL/);
  });

  it('a redirect is permanent and says to configure the target', () => {
    expect(httpStatusError('x', 308, null, now).message).toMatch(/HTTP 308 \(not retried: configure the URL it redirects to\)/);
  });
});
