import { backoffDelay, sleep } from '@vigil/platform';
import { DeliveryError, type Channel, type Notification } from '../channels/channel.js';

/** Stage "send with retry": one channel's send, tried again while it can still pass. */

export interface RetryPolicy {
  /** Attempts per delivery, the first included. */
  maxAttempts: number;
  /** Backoff before the 2nd attempt (jittered, doubling, capped at `maxDelayMs`). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Time a batch of transitions may spend retrying, from its arrival. Bounded because the
   * batch's offsets wait for its deliveries, and a consumer that stays away too long is
   * dropped from its group.
   */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8_000, budgetMs: 20_000 };

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: string };

/**
 * After `attempts` failed attempts ending with `err`, with `remainingMs` left: wait and try
 * again, or give up. Permanent errors are not retried; a receiver's Retry-After is a minimum
 * wait, and one that does not fit in the time left means giving up now rather than later.
 */
export function retryDecision(err: unknown, attempts: number, remainingMs: number, policy: RetryPolicy, random: () => number = Math.random): RetryDecision {
  if (err instanceof DeliveryError && err.permanent) return { retry: false, reason: 'permanent error' };
  if (attempts >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempts} attempts` };
  const backoff = backoffDelay(attempts - 1, policy.baseDelayMs, policy.maxDelayMs, random);
  const asked = err instanceof DeliveryError ? err.retryAfterMs : undefined;
  const delayMs = Math.max(backoff, asked ?? 0);
  if (delayMs > remainingMs) {
    const reason =
      asked !== undefined && asked > remainingMs
        ? `gave up after ${attempts} attempts: the receiver asked to wait ${asked}ms, more than the ${Math.max(0, remainingMs)}ms left`
        : `gave up after ${attempts} attempts: out of time (${policy.budgetMs}ms per batch)`;
    return { retry: false, reason };
  }
  return { retry: true, delayMs };
}

export interface DeliveryOutcome {
  status: 'sent' | 'failed';
  attempts: number;
  /** Why it failed, '' when sent. */
  error: string;
}

/** Thrown when the role stops during a delivery: the batch must not count as done. */
export class StoppingError extends Error {
  constructor(what: string) {
    super(`notifier is stopping: ${what} was not finished; it is retried from the ledger on the next start`);
    this.name = 'StoppingError';
  }
}

export interface SendOptions {
  policy: RetryPolicy;
  /** Epoch ms after which no new attempt starts. */
  deadline: number;
  /** Aborted when the role stops: no new attempt or wait starts, the delivery is left to the next start. */
  signal?: AbortSignal;
  now?: () => number;
  random?: () => number;
}

export async function sendWithRetry(channel: Channel, notification: Notification, opts: SendOptions): Promise<DeliveryOutcome> {
  const now = opts.now ?? Date.now;
  for (let attempts = 1; ; attempts++) {
    if (opts.signal?.aborted) throw new StoppingError(`delivery to ${channel.name}`);
    try {
      await channel.send(notification);
      return { status: 'sent', attempts, error: '' };
    } catch (err) {
      const decision = retryDecision(err, attempts, opts.deadline - now(), opts.policy, opts.random);
      if (!decision.retry) return { status: 'failed', attempts, error: `${(err as Error)?.message ?? String(err)}; ${decision.reason}` };
      await sleep(decision.delayMs, opts.signal);
    }
  }
}
