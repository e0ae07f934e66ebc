import type { AlertNotification, NotificationChannel, RenderedMessage, SendContext, SendReceipt } from '../model.js';
import { DeliveryError, type ChannelDeps } from './channel.js';
import { httpStatusError } from './http-response.js';

/**
 * The skeleton of the channels that POST JSON to a URL (Slack, Discord, webhook): one request per
 * notification, no redirects followed, a timeout, network failures as transient DeliveryErrors
 * that name the receiver without its secrets. A channel says only what differs: the body it
 * renders, headers per request, and how it reads the provider's answer.
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

/** A provider's answer, its body read (it carries the error, and reading frees the connection). */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
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

export async function post(o: PostOptions): Promise<HttpAnswer> {
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
  const text = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, text };
}

export interface HttpChannelSpec {
  /** Its kind in the channel registry. */
  kind: string;
  url: string;
  timeoutMs: number;
  /** Sent with every request (content type, user agent, configured ones). */
  headers: Headers;
  /** What would be sent; its `json` is the body. */
  render(n: AlertNotification): RenderedMessage;
  /** Headers of one request (idempotency key, signature), from its body. */
  requestHeaders?(body: string, ctx: SendContext, now: number): Record<string, string>;
  /** Reads the answer: a receipt, or a DeliveryError thrown. Default: 2xx delivered, else by status (`httpStatusError`). */
  answer?(res: HttpAnswer, target: string, now: number): SendReceipt | void;
}

/** For chat channels (Slack, Discord): the title and text from the templates, and the JSON body made of them. */
export function titledJson(kind: string, deps: Pick<ChannelDeps, 'templates'>, body: (n: AlertNotification, title: string, text: string) => unknown): (n: AlertNotification) => RenderedMessage {
  return (n) => {
    const title = deps.templates.render(kind, 'title', n);
    const text = deps.templates.render(kind, 'text', n);
    return { title, text, json: body(n, title, text) };
  };
}

/** 2xx delivered; anything else by its status (408, 429, 5xx retried; Retry-After read). */
export function statusAnswer(res: HttpAnswer, target: string, now: number): SendReceipt {
  if (res.status >= 200 && res.status < 300) return { detail: `HTTP ${res.status}` };
  throw httpStatusError(target, res.status, res.headers.get('retry-after'), now);
}

export function httpChannel(spec: HttpChannelSpec, deps: ChannelDeps): NotificationChannel {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const target = receiverName(spec.kind, deps.name, spec.url);
  const answer = spec.answer ?? statusAnswer;
  return {
    kind: spec.kind,
    name: deps.name,
    render: spec.render,
    async send(n, ctx) {
      const body = JSON.stringify(spec.render(n).json);
      const headers = new Headers(spec.headers);
      for (const [k, v] of Object.entries(spec.requestHeaders?.(body, ctx, now()) ?? {})) headers.set(k, v);
      const res = await post({ fetch: doFetch, target, url: spec.url, headers, body, timeoutMs: spec.timeoutMs, signal: ctx.signal });
      return answer(res, target, now());
    },
  };
}
