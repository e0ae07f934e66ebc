import { createHmac } from 'node:crypto';
import type { StaticDecode } from '@sinclair/typebox';
import { ConfigError } from '@vigil/platform';
import type { AlertNotification, NotificationChannel } from '../../model.js';
import type { ChannelDeps } from '../channel.js';
import { httpStatusError } from '../http-response.js';
import { post, receiverName } from '../http-send.js';
import type { WebhookOptions } from './config.js';

/**
 * Channel "webhook": Alertmanager's webhook payload, version 4, so receivers written for
 * Alertmanager work unchanged. `Idempotency-Key` is the same on every attempt and replay;
 * with a signing secret the raw body is signed (HMAC-SHA256) with a timestamp against replays.
 */

export type WebhookChannelOptions = StaticDecode<typeof WebhookOptions>;

/** Alertmanager's zero time: what it sends as `endsAt` for an alert still firing. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }[];
}

/** The version 4 payload; `maxAlerts` > 0 keeps the first ones (firing come first) and counts the rest. */
export function webhookPayload(n: AlertNotification, maxAlerts = 0): WebhookPayload {
  const kept = maxAlerts > 0 ? n.alerts.slice(0, maxAlerts) : n.alerts;
  const base = n.externalUrl?.replace(/\/+$/, '') ?? '';
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - kept.length,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: base,
    alerts: kept.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt ?? ZERO_TIME,
      generatorURL: base ? `${base}/api/v1/alerts?rule=${encodeURIComponent(a.rule)}` : '',
      fingerprint: a.fingerprint,
    })),
  };
}

/** `sha256=<hex>` of `<timestamp>.<body>`: what a receiver recomputes to check X-Vigil-Signature. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const RESERVED = ['content-type', 'idempotency-key', 'x-vigil-signature', 'x-vigil-timestamp'];

export function webhookChannel(options: WebhookChannelOptions, deps: ChannelDeps & { source?: string }): NotificationChannel {
  const at = deps.source ?? `notifier channel ${deps.name}`;
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const target = receiverName('webhook', deps.name, options.url);
  try {
    new URL(options.url);
  } catch {
    throw new ConfigError([`${at}.url: not a valid URL (write it as https://host[:port]/path)`]);
  }
  let base: Headers;
  try {
    base = new Headers(options.headers);
  } catch (err) {
    throw new ConfigError([`${at}.headers: ${(err as Error).message} (header names are tokens, values a single line)`]);
  }
  for (const h of RESERVED) base.delete(h);
  base.set('content-type', 'application/json');
  base.set('user-agent', 'vigil-notifier');

  const render = (n: AlertNotification) => ({ json: webhookPayload(n, options.maxAlerts) });
  return {
    kind: 'webhook',
    name: deps.name,
    render,
    async send(n, ctx) {
      const body = JSON.stringify(render(n).json);
      const headers = new Headers(base);
      headers.set('idempotency-key', ctx.idempotencyKey);
      if (options.signingSecret) {
        const ts = Math.floor(now() / 1000);
        headers.set('x-vigil-timestamp', String(ts));
        headers.set('x-vigil-signature', webhookSignature(options.signingSecret, ts, body));
      }
      const res = await post({ fetch: doFetch, target, url: options.url, headers, body, timeoutMs: options.timeout, signal: ctx.signal });
      if (res.status >= 200 && res.status < 300) return { detail: `HTTP ${res.status}` };
      throw httpStatusError(target, res.status, res.headers.get('retry-after'), now());
    },
  };
}
