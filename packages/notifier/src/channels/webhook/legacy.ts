import { ConfigError, type WebhookChannelConfig } from '@vigil/platform';

// The per-transition webhook of the walking skeleton, kept until the pipeline delivers AlertNotifications
// (then webhook.ts, Alertmanager's format, replaces it and this file goes).
import { DeliveryError, type Channel, type Notification } from '../channel.js';
import { httpStatusError } from '../http-response.js';

/**
 * Channel "webhook": each transition POSTed as JSON, the transition's fields plus the rendered
 * `title` and `text`. `Idempotency-Key` carries the delivery key, the same on every attempt
 * and every replay, so a receiver can drop what it already has.
 */

export function legacyWebhookBody(n: Notification): string {
  return JSON.stringify({ ...n.alert, title: n.title, text: n.text });
}

/** How errors name the receiver: its name and origin, never the path or query (they often hold tokens). */
export function webhookTarget(name: string, url: string): string {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    origin = 'an invalid URL';
  }
  return `webhook "${name}" (${origin})`;
}

export interface WebhookOptions {
  /** Where config problems are reported, e.g. `notifier.webhooks[0]`. */
  source?: string;
  now?: () => number;
}

export function legacyWebhookChannel(config: WebhookChannelConfig, opts: WebhookOptions = {}): Channel {
  const source = opts.source ?? `notifier.webhooks "${config.name}"`;
  const now = opts.now ?? Date.now;
  const target = webhookTarget(config.name, config.url);
  let url: URL;
  let base: Headers;
  try {
    url = new URL(config.url);
  } catch {
    throw new ConfigError([`${source}.url: not a valid URL (write it as https://host[:port]/path)`]);
  }
  try {
    base = new Headers(config.headers);
  } catch (err) {
    throw new ConfigError([`${source}.headers: ${(err as Error).message} (header names are tokens, values a single line)`]);
  }
  base.set('content-type', 'application/json');
  base.set('user-agent', 'vigil-notifier');

  return {
    name: `webhook:${config.name}`,
    async send(n) {
      const headers = new Headers(base);
      headers.set('idempotency-key', n.key);
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers,
          body: legacyWebhookBody(n),
          redirect: 'manual',
          signal: AbortSignal.timeout(config.timeout),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const why =
          e.name === 'TimeoutError' ? `no answer within ${config.timeout}ms` : `request failed (${e.cause?.code ?? e.cause?.message ?? e.message})`;
        throw new DeliveryError(`${target}: ${why} (will retry)`, { permanent: false, cause: err });
      }
      // Drain the body so the connection can be reused; its content is not needed.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return;
      throw httpStatusError(target, res.status, res.headers.get('retry-after'), now());
    },
  };
}
