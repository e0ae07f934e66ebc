import { backoffDelay, sleep } from '@vigil/platform';
import { DeliveryError } from '../channels/channel.js';
import type { SendReceipt } from '../model.js';

/** Stage "send with retry": one channel's send, tried again while it can still pass. */

export interface RetryPolicy {
  /** Attempts per delivery, the first included. */
  maxAttempts: number;
  /** Backoff before the 2nd attempt (jittered, doubling, capped at `maxDelayMs`). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Time a delivery may take, retries included (`notifier.delivery.giveUpAfter`); then it is failed and handed to the fallback receiver. */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 1_000, baseDelayMs: 500, maxDelayMs: 30_000, budgetMs: 600_000 };

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
        : `gave up after ${attempts} attempts: out of time (${policy.budgetMs}ms per delivery, delivery.giveUpAfter)`;
    return { retry: false, reason };
  }
  return { retry: true, delayMs };
}

export interface DeliveryOutcome {
  status: 'sent' | 'failed';
  attempts: number;
  /** Why it failed, '' when sent. */
  error: string;
  /** What the provider said (message id, issue number), when it said something. */
  providerId?: string;
}

/** Thrown when the role stops during a delivery: it must not count as done. */
export class StoppingError extends Error {
  constructor(what: string) {
    super(`notifier is stopping: ${what} was not finished; it is retried from the ledger on the next start`);
    this.name = 'StoppingError';
  }
}

export interface SendOptions {
  policy: RetryPolicy;
  /** Epoch ms after which no new attempt starts; an attempt in flight is aborted then. */
  deadline: number;
  /** Aborted when the role stops: no new attempt or wait starts, the delivery is left to the next start. */
  signal?: AbortSignal;
  /** Aborts an attempt in flight (a grace period after the stop): without it an attempt runs to its deadline. */
  abortAttempts?: AbortSignal;
  now?: () => number;
  random?: () => number;
}

/** One attempt: the channel's send, given a signal aborted at the deadline or on stop. */
export type Attempt = (signal: AbortSignal) => Promise<SendReceipt | void>;

export async function sendWithRetry(what: string, attempt: Attempt, opts: SendOptions): Promise<DeliveryOutcome> {
  const now = opts.now ?? Date.now;
  for (let attempts = 1; ; attempts++) {
    if (opts.signal?.aborted) throw new StoppingError(`delivery to ${what}`);
    try {
      const timeout = AbortSignal.timeout(Math.max(1, opts.deadline - now()));
      const receipt = await attempt(opts.abortAttempts ? AbortSignal.any([opts.abortAttempts, timeout]) : timeout);
      return { status: 'sent', attempts, error: '', ...(receipt?.providerId ? { providerId: receipt.providerId } : {}) };
    } catch (err) {
      if (opts.abortAttempts?.aborted) throw new StoppingError(`delivery to ${what}`);
      const decision = retryDecision(err, attempts, opts.deadline - now(), opts.policy, opts.random);
      if (!decision.retry) return { status: 'failed', attempts, error: `${(err as Error)?.message ?? String(err)}; ${decision.reason}` };
      await sleep(decision.delayMs, opts.signal);
    }
  }
}
