import { DeliveryError } from './channel.js';

/**
 * One POST for the HTTP channels (Slack, Discord, webhook): no redirects followed, a timeout, and
 * network failures as transient DeliveryErrors naming the receiver. The caller reads the answer.
 */

/** How errors name a receiver: its kind, name and origin, never the path or query (webhook URLs carry their tokens there). */
export function receiverName(kind: string, name: string, url: string): string {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    origin = 'an invalid URL';
  }
  return `${kind} "${name}" (${origin})`;
}

export interface PostOptions {
  fetch: typeof fetch;
  target: string;
  url: string;
  headers: Headers;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export async function post(o: PostOptions): Promise<{ status: number; headers: Headers; text: string }> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    res = await o.fetch(o.url, {
      method: 'POST',
      headers: o.headers,
      body: o.body,
      redirect: 'manual',
      signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      timeout.aborted ? `no answer within ${o.timeoutMs}ms` : o.signal?.aborted ? 'aborted (the notifier is stopping)' : `request failed (${e.cause?.code ?? e.cause?.message ?? e.message})`;
    throw new DeliveryError(`${o.target}: ${why} (will retry)`, { permanent: false, cause: err });
  }
  // Read the body: it carries the provider's error, and reading frees the connection for reuse.
  const text = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, text };
}
