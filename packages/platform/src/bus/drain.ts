import { sleep } from '../backoff.js';

/** Resolves true once `pending()` is 0 (polled every 20 ms), false after `timeoutMs`: the in-process buses' drain at stop. */
export async function untilDrained(pending: () => number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pending() > 0) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
