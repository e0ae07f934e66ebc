import type { AlertSeverity, AlertTransition } from '@vigil/platform';

/**
 * The notifier's shared model: what the routing stage hands to the delivery stage, what a
 * channel and a receiver are. Routing (routing/), channels (channels/<kind>/) and delivery
 * (pipeline/) meet only here.
 *
 *   vigil.alerts ─► dispatcher (route ─► silence/inhibit/mute ─► group, virtual clock)
 *                      │ flushes a group for a receiver
 *                      ▼
 *                  AlertNotification ─► rate limit ─► ledger check ─► channel.send (retry) ─► ledger record
 *                                                                         │ gave up
 *                                                                         └─► receiver's fallback
 */

/** One message for one receiver: a group of alerts, as Alertmanager sends them. */
export interface AlertNotification {
  /**
   * Delivery key, deterministic: the same group, receiver and set of alert transitions always
   * give the same key (`notificationKey`), so a replay or a restart finds it in the ledger.
   */
  key: string;
  receiver: string;
  /** Identity of the group within its route: the route path plus the group-by label values. */
  groupKey: string;
  groupLabels: Record<string, string>;
  /** firing when any alert in it is firing. */
  status: 'firing' | 'resolved';
  /** The highest severity among the firing alerts (among all when none fires). */
  severity: AlertSeverity;
  /** Firing alerts first, then resolved ones; each the latest transition of its fingerprint. */
  alerts: AlertTransition[];
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  /** Messages a rate limit held back on this channel since the last one sent; summarised in this one. */
  heldBack?: HeldBack;
  /** RFC 3339: when the group was flushed. */
  createdAt: string;
  /** `notifier.externalUrl`, for links back to Vigil. */
  externalUrl?: string;
  /** Set for `POST /api/v1/notify`: explicit recipients overriding the channel's configured ones (email addresses, phone numbers). */
  recipients?: string[];
}

export interface HeldBack {
  count: number;
  firing: number;
  resolved: number;
  /** RFC 3339 of the first one held back. */
  since: string;
}

/** What a channel would send, for previews (`vigil template render`, the preview endpoint) and tests. */
export interface RenderedMessage {
  /** e.g. the email subject, the GitHub issue title, the Slack fallback text. */
  title?: string;
  /** Plain text (SMS, email text part, console line). */
  text?: string;
  /** HTML (the email HTML part). */
  html?: string;
  /** The exact JSON body for HTTP channels (Slack, Discord, webhook, GitHub). */
  json?: unknown;
}

export interface SendContext {
  /** Stable per delivery (the notification key plus the channel): give it to providers that accept idempotency keys. */
  idempotencyKey: string;
  /** Aborted when the notifier stops or the delivery's time is up. */
  signal: AbortSignal;
}

/** What a provider said, recorded in the ledger (message id, issue number, ...). Optional. */
export interface SendReceipt {
  providerId?: string;
  detail?: string;
}

/**
 * One configured destination. Sends once and throws a DeliveryError (channels/channel.ts) on
 * failure; retrying, deduplication, rate limits and recording are stages around it, so a new
 * channel is one folder with a config schema, default templates, `render` and `send`, and one
 * entry in the registry (channels/registry.ts).
 */
export interface NotificationChannel {
  /** A kind of the channel registry (`ChannelKind`, channels/registry.ts). */
  readonly kind: string;
  /**
   * Unique and stable across restarts, part of the ledger key: `<receiver>/<kind>[<index>]`;
   * `console` and `webhook:<name>` for the channels of `notifier.console` and `notifier.webhooks`.
   */
  readonly name: string;
  render(n: AlertNotification): RenderedMessage;
  send(n: AlertNotification, ctx: SendContext): Promise<SendReceipt | void>;
}

/** A receiver as routes name it: its channels, built, and what applies to each of them wherever it is routed. */
export interface Receiver {
  name: string;
  channels: NotificationChannel[];
  /** Also notify when the alerts of a group resolve. */
  sendResolved: boolean;
  /** The receiver that gets a notification this one gave up on. */
  fallback?: string;
}

/**
 * Identity of a group within its route: the route's id and the group-by label values, as
 * `{}/0{severity="critical"}:{alertname="cpu_high",host.name="web-1"}`.
 */
export function groupKey(routeId: string, groupLabels: Readonly<Record<string, string>>): string {
  let s = '';
  for (const k of Object.keys(groupLabels).sort()) s += `${s ? ',' : ''}${k}=${JSON.stringify(groupLabels[k])}`;
  return `${routeId}:{${s}}`;
}

/**
 * The transition with `severity` among its labels, as receivers expect it (the rules role puts it
 * there; transitions of older producers, the notify API and samples may lack it).
 */
export function withSeverityLabel(a: AlertTransition): AlertTransition {
  return a.labels.severity === a.severity ? a : { ...a, labels: { ...a.labels, severity: a.severity } };
}

/** The highest of a set of severities. */
export function highestSeverity(severities: Iterable<AlertSeverity>): AlertSeverity {
  let best: AlertSeverity = 'info';
  for (const s of severities) {
    if (s === 'critical') return 'critical';
    if (s === 'warning') best = 'warning';
  }
  return best;
}
