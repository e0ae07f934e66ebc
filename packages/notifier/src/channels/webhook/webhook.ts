import { createHmac } from 'node:crypto';
import type { StaticDecode } from '@sinclair/typebox';
import { ConfigError, prometheusLabelName, prometheusLabels } from '@vigil/platform';
import type { AlertNotification, NotificationChannel } from '../../model.js';
import type { ChannelDeps } from '../channel.js';
import { httpChannel } from '../http.js';
import type { WebhookOptions } from './config.js';

/**
 * Channel "webhook": Alertmanager's webhook payload, version 4, so receivers written for
 * Alertmanager work unchanged: label and annotation names are Prometheus-safe (`host.name` is
 * `host_name`, by the OpenTelemetry Prometheus exporter's rule), `commonLabels` are exactly the
 * labels every alert in the body has, `groupLabels` a subset of them. `Idempotency-Key` is the
 * same on every attempt and replay; with a signing secret the raw body is signed (HMAC-SHA256)
 * with a timestamp against replays.
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

/** Labels every map has with the same value. */
function common(maps: readonly Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = maps;
  const out: Record<string, string> = {};
  if (!first) return out;
  for (const [k, v] of Object.entries(first)) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/**
 * The version 4 payload; `maxAlerts` > 0 keeps the first ones (firing come first) and counts the
 * rest. `commonLabels` and `commonAnnotations` are computed over the alerts in the body, after
 * the names were made Prometheus-safe; `groupLabels` are the group's labels as they read there.
 */
export function webhookPayload(n: AlertNotification, maxAlerts = 0): WebhookPayload {
  const kept = maxAlerts > 0 ? n.alerts.slice(0, maxAlerts) : n.alerts;
  const base = n.externalUrl?.replace(/\/+$/, '') ?? '';
  const alerts = kept.map((a) => ({
    status: a.status,
    labels: prometheusLabels(a.labels),
    annotations: prometheusLabels(a.annotations),
    startsAt: a.startsAt,
    endsAt: a.endsAt ?? ZERO_TIME,
    generatorURL: a.generatorURL ?? (base ? `${base}/api/v1/alerts?rule=${encodeURIComponent(a.rule)}` : ''),
    fingerprint: a.fingerprint,
  }));
  const commonLabels = common(alerts.map((a) => a.labels));
  const groupLabels: Record<string, string> = {};
  for (const name of Object.keys(n.groupLabels)) {
    const safe = prometheusLabelName(name);
    if (safe !== undefined && safe in commonLabels) groupLabels[safe] = commonLabels[safe]!;
  }
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - kept.length,
    status: n.status,
    receiver: n.receiver,
    groupLabels,
    commonLabels,
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: base,
    alerts,
  };
}

/** `sha256=<hex>` of `<timestamp>.<body>`: what a receiver recomputes to check X-Vigil-Signature. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const RESERVED = ['content-type', 'idempotency-key', 'x-vigil-signature', 'x-vigil-timestamp'];

export function webhookChannel(options: WebhookChannelOptions, deps: ChannelDeps): NotificationChannel {
  const at = deps.source ?? `notifier channel ${deps.name}`;
  try {
    new URL(options.url);
  } catch {
    throw new ConfigError([`${at}.url: not a valid URL (write it as https://host[:port]/path)`]);
  }
  let headers: Headers;
  try {
    headers = new Headers(options.headers);
  } catch (err) {
    throw new ConfigError([`${at}.headers: ${(err as Error).message} (header names are tokens, values a single line)`]);
  }
  for (const h of RESERVED) headers.delete(h);
  headers.set('content-type', 'application/json');
  headers.set('user-agent', 'vigil-notifier');
  return httpChannel(
    {
      kind: 'webhook',
      url: options.url,
      timeoutMs: options.timeout,
      headers,
      render: (n) => ({ json: webhookPayload(n, options.maxAlerts) }),
      requestHeaders(body, ctx, now) {
        const out: Record<string, string> = { 'idempotency-key': ctx.idempotencyKey };
        if (options.signingSecret) {
          const ts = Math.floor(now / 1000);
          out['x-vigil-timestamp'] = String(ts);
          out['x-vigil-signature'] = webhookSignature(options.signingSecret, ts, body);
        }
        return out;
      },
    },
    deps,
  );
}
