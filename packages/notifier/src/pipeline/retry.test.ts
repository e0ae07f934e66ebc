import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../channels/channel.js';
import { retryDecision, sendWithRetry, StoppingError, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, budgetMs: 10_000 };
const mid = () => 0.5;
const transient = (retryAfterMs?: number) => new DeliveryError('HTTP 503', { permanent: false, status: 503, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

describe('retryDecision', () => {
  it('does not retry a permanent error', () => {
    expect(retryDecision(new DeliveryError('HTTP 400', { permanent: true, status: 400 }), 1, 10_000, policy, mid)).toEqual({ retry: false, reason: 'permanent error' });
  });

  it('retries transient and unknown errors with capped exponential backoff', () => {
    // backoffDelay with random 0.5 waits 3/4 of the cap: 100, 200, 400 ms, ...
    expect(retryDecision(transient(), 1, 10_000, policy, mid)).toEqual({ retry: true, delayMs: 75 });
    expect(retryDecision(new Error('socket hang up'), 2, 10_000, policy, mid)).toEqual({ retry: true, delayMs: 150 });
    expect(retryDecision(transient(), 3, 10_000, policy, mid)).toEqual({ retry: true, delayMs: 300 });
    const capped = retryDecision(transient(), 3, 10_000, { ...policy, maxAttempts: 20 }, () => 1);
    expect(capped).toEqual({ retry: true, delayMs: 400 });
    expect(retryDecision(transient(), 12, 10_000, { ...policy, maxAttempts: 20 }, () => 1)).toEqual({ retry: true, delayMs: 1_000 });
  });

  it('jitter stays between half and all of the cap', () => {
    expect(retryDecision(transient(), 1, 10_000, policy, () => 0)).toEqual({ retry: true, delayMs: 50 });
    expect(retryDecision(transient(), 1, 10_000, policy, () => 1)).toEqual({ retry: true, delayMs: 100 });
  });

  it('stops after maxAttempts', () => {
    expect(retryDecision(transient(), 4, 10_000, policy, mid)).toEqual({ retry: false, reason: 'gave up after 4 attempts' });
  });

  it('waits at least what Retry-After asks', () => {
    expect(retryDecision(transient(2_500), 1, 10_000, policy, mid)).toEqual({ retry: true, delayMs: 2_500 });
    expect(retryDecision(transient(0), 1, 10_000, policy, mid)).toEqual({ retry: true, delayMs: 75 });
  });

  it('gives up now when the wait does not fit in the time left, saying why', () => {
    const asked = retryDecision(transient(60_000), 1, 5_000, policy, mid);
    expect(asked).toEqual({ retry: false, reason: 'gave up after 1 attempts: the receiver asked to wait 60000ms, more than the 5000ms left' });
    const late = retryDecision(transient(), 2, 100, policy, mid);
    expect(late).toEqual({ retry: false, reason: 'gave up after 2 attempts: out of time (10000ms per delivery, delivery.giveUpAfter)' });
  });
});


/** A channel that fails with the given errors, then succeeds. */
function flaky(errors: unknown[]): { name: string; calls: number; send(): Promise<void> } {
  const ch = {
    name: 'flaky',
    calls: 0,
    async send() {
      const e = errors[ch.calls++];
      if (e !== undefined) throw e;
    },
  };
  return ch;
}

describe('sendWithRetry', () => {
  const fast: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 };

  it('sends once when the channel accepts', async () => {
    const ch = flaky([]);
    expect(await sendWithRetry(ch.name, () => ch.send(), { policy: fast, deadline: Date.now() + 5_000 })).toEqual({ status: 'sent', attempts: 1, error: '' });
    expect(ch.calls).toBe(1);
  });

  it('retries transient failures until it passes', async () => {
    const ch = flaky([transient(), new Error('ECONNRESET')]);
    expect(await sendWithRetry(ch.name, () => ch.send(), { policy: fast, deadline: Date.now() + 5_000 })).toEqual({ status: 'sent', attempts: 3, error: '' });
  });

  it('gives up after maxAttempts with the last error and the reason', async () => {
    const ch = flaky([transient(), transient(), transient(), transient()]);
    const out = await sendWithRetry(ch.name, () => ch.send(), { policy: fast, deadline: Date.now() + 5_000 });
    expect(out).toEqual({ status: 'failed', attempts: 3, error: 'HTTP 503; gave up after 3 attempts' });
    expect(ch.calls).toBe(3);
  });

  it('does not retry a permanent failure', async () => {
    const ch = flaky([new DeliveryError('HTTP 404', { permanent: true, status: 404 })]);
    expect(await sendWithRetry(ch.name, () => ch.send(), { policy: fast, deadline: Date.now() + 5_000 })).toEqual({ status: 'failed', attempts: 1, error: 'HTTP 404; permanent error' });
  });

  it('does not start an attempt once stopping, and says the delivery is left for later', async () => {
    const abort = new AbortController();
    const ch = flaky([transient()]);
    const p = sendWithRetry(ch.name, () => ch.send(), { policy: { ...fast, baseDelayMs: 60_000, maxDelayMs: 60_000, budgetMs: 120_000 }, deadline: Date.now() + 120_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 20);
    await expect(p).rejects.toBeInstanceOf(StoppingError);
    expect(ch.calls).toBe(1);
  });
});
