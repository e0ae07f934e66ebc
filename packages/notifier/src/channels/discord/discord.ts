import type { StaticDecode } from '@sinclair/typebox';
import type { AlertNotification, NotificationChannel, SendReceipt } from '../../model.js';
import { severityColourInt, severityEmoji, truncate } from '../../templates/format.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import { classifyHttpStatus, parseRetryAfter } from '../http-response.js';
import { httpChannel, titledJson, type HttpAnswer } from '../http.js';
import type { DiscordOptions } from './config.js';

/**
 * Channel "discord": one embed per notification on a channel webhook, coloured by level, with
 * fields and a timestamp. Mentions are disabled, so an alert text cannot ping @everyone.
 */

export type DiscordChannelOptions = StaticDecode<typeof DiscordOptions>;

/** Discord's embed limits (title 256, description 4096, field name 256, value 1024). */
const LIMITS = { title: 256, description: 4096, fieldValue: 1024 } as const;

export function discordPayload(n: AlertNotification, title: string, text: string, opts: { username?: string | undefined } = {}): Record<string, unknown> {
  const category = n.commonLabels['vigil.category'] ?? '';
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const fields = [
    { name: 'Level', value: n.status === 'resolved' ? `resolved (was ${n.severity})` : n.severity, inline: true },
    ...(category ? [{ name: 'Category', value: truncate(category, LIMITS.fieldValue), inline: true }] : []),
    { name: 'Alerts', value: `${firing} firing, ${n.alerts.length - firing} resolved`, inline: true },
  ];
  const embed: Record<string, unknown> = {
    title: truncate(`${severityEmoji(n.severity, n.status)} ${title}`, LIMITS.title),
    description: truncate(text, LIMITS.description),
    color: severityColourInt(n.severity, n.status),
    fields,
    footer: { text: `Vigil · ${n.receiver}` },
  };
  if (!Number.isNaN(Date.parse(n.createdAt))) embed.timestamp = new Date(n.createdAt).toISOString();
  if (n.externalUrl) embed.url = n.externalUrl;
  return {
    ...(opts.username ? { username: opts.username } : {}),
    embeds: [embed],
    allowed_mentions: { parse: [] },
  };
}

interface DiscordError {
  code?: number;
  message?: string;
  retry_after?: number;
  global?: boolean;
}

/** Discord's answer to an error: its JSON `code` and `message`; on 429 `retry_after` in seconds (JSON) or the Retry-After header. */
export function discordError(target: string, status: number, body: string, retryAfter: string | null, nowMs: number): DeliveryError {
  let err: DiscordError = {};
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object') err = parsed as DiscordError;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const outcome = classifyHttpStatus(status);
  let retryAfterMs: number | undefined;
  if (status === 429) {
    const fromBody = typeof err.retry_after === 'number' && err.retry_after >= 0 ? Math.ceil(err.retry_after * 1000) : undefined;
    const fromHeader = parseRetryAfter(retryAfter, nowMs);
    retryAfterMs = fromBody !== undefined && fromHeader !== undefined ? Math.max(fromBody, fromHeader) : (fromBody ?? fromHeader);
  } else if (status === 503) retryAfterMs = parseRetryAfter(retryAfter, nowMs);
  const what = err.message ? `: ${err.message}${err.code !== undefined ? ` (code ${err.code})` : ''}${err.global ? ' (global rate limit)' : ''}` : '';
  const hint =
    outcome === 'retry'
      ? 'will retry'
      : status === 401 || status === 404
        ? 'not retried: the webhook was deleted or its URL is wrong; configure a valid webhook URL'
        : 'not retried: Discord refused the message';
  return new DeliveryError(`${target} answered HTTP ${status}${what} (${hint})`, {
    permanent: outcome === 'permanent',
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/** 2xx delivered (with ?wait=true Discord answers 200 with the message, whose id is the receipt); else `discordError`. */
export function discordAnswer(res: HttpAnswer, target: string, now: number): SendReceipt {
  if (res.status >= 200 && res.status < 300) {
    const id = res.status === 200 ? /"id"\s*:\s*"(\d+)"/.exec(res.text)?.[1] : undefined;
    return id ? { providerId: id } : {};
  }
  throw discordError(target, res.status, res.text, res.headers.get('retry-after'), now);
}

export function discordChannel(options: DiscordChannelOptions, deps: ChannelDeps): NotificationChannel {
  return httpChannel(
    {
      kind: 'discord',
      url: options.url,
      timeoutMs: options.timeout,
      headers: new Headers({ 'content-type': 'application/json', 'user-agent': 'vigil-notifier' }),
      render: titledJson('discord', deps, (n, title, text) => discordPayload(n, title, text, { username: options.username })),
      answer: discordAnswer,
    },
    deps,
  );
}
