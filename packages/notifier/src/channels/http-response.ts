import { DeliveryError } from './channel.js';

/**
 * How HTTP channels (webhook now; Slack, Discord, GitHub later) read a receiver's answer.
 * Pure: status and headers in, a decision out.
 */

export type HttpOutcome = 'delivered' | 'retry' | 'permanent';

/**
 * 2xx delivered. 408 (timeout), 429 (rate limited) and 5xx may pass on a later attempt. Other
 * 4xx will not: the request itself is wrong (bad URL, bad credentials, rejected payload).
 * 3xx is refused too, because following it would turn the POST into a GET on some receivers.
 */
export function classifyHttpStatus(status: number): HttpOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) return 'retry';
  return 'permanent';
}

/**
 * `Retry-After` in milliseconds from `nowMs`: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** The error for a receiver's non-2xx answer. `target` names the receiver without secrets (no path or query). */
export function httpStatusError(target: string, status: number, retryAfter: string | null, nowMs: number): DeliveryError {
  const outcome = classifyHttpStatus(status);
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(retryAfter, nowMs) : undefined;
  const hint =
    outcome === 'retry'
      ? 'will retry'
      : status >= 300 && status < 400
        ? 'not retried: configure the URL it redirects to'
        : 'not retried: check the URL, the headers and what the receiver accepts';
  return new DeliveryError(`${target} answered HTTP ${status} (${hint})`, {
    permanent: outcome === 'permanent',
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
