import type { StaticDecode } from '@sinclair/typebox';
import type { AlertNotification, NotificationChannel, SendReceipt } from '../../model.js';
import { severityColour, severityEmoji, truncate } from '../../templates/format.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import { httpStatusError } from '../http-response.js';
import { httpChannel, titledJson, type HttpAnswer } from '../http.js';
import type { SlackOptions } from './config.js';

/**
 * Channel "slack": one message per notification on an incoming webhook, as MISSION B asks: an
 * attachment coloured by level, marked with its emoji, with the category and the time.
 */

export type SlackChannelOptions = StaticDecode<typeof SlackOptions>;

/** Slack reads `&`, `<` and `>` as markup (links, mentions); alert texts must not ping anyone. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack shows at most 3000 characters of an attachment text without folding it; keep well within its 40k limit. */
const MAX_TEXT = 3000;

export function slackPayload(n: AlertNotification, title: string, text: string, opts: { username?: string | undefined } = {}): Record<string, unknown> {
  const emoji = severityEmoji(n.severity, n.status);
  const category = n.commonLabels['vigil.category'] ?? '';
  const fields = [
    { title: 'Level', value: n.status === 'resolved' ? `resolved (was ${n.severity})` : n.severity, short: true },
    ...(category ? [{ title: 'Category', value: slackEscape(category), short: true }] : []),
    { title: 'Alerts', value: `${n.alerts.filter((a) => a.status === 'firing').length} firing, ${n.alerts.filter((a) => a.status !== 'firing').length} resolved`, short: true },
  ];
  const ts = Math.floor(Date.parse(n.createdAt) / 1000);
  const attachment: Record<string, unknown> = {
    color: severityColour(n.severity, n.status),
    fallback: `${emoji} ${title}`,
    title: `${emoji} ${slackEscape(title)}`,
    text: truncate(slackEscape(text), MAX_TEXT),
    fields,
    footer: `Vigil · ${n.receiver}`,
    mrkdwn_in: ['text'],
  };
  if (Number.isFinite(ts)) attachment.ts = ts;
  if (n.externalUrl) attachment.title_link = n.externalUrl;
  return {
    text: `${emoji} ${slackEscape(title)}`,
    ...(opts.username ? { username: opts.username } : {}),
    attachments: [attachment],
  };
}

/** Slack answers an error with a short code in plain text (invalid_payload, no_service, ...): named in the error. */
export function slackAnswer(res: HttpAnswer, target: string, now: number): SendReceipt {
  if (res.status === 200) return { detail: res.text.slice(0, 100) };
  const code = /^[a-z_]{1,60}$/.test(res.text.trim()) ? res.text.trim() : '';
  const e = httpStatusError(target, res.status, res.headers.get('retry-after'), now);
  throw new DeliveryError(code ? e.message.replace(`HTTP ${res.status} (`, `HTTP ${res.status}: ${code} (`) : e.message, {
    permanent: e.permanent,
    status: res.status,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
  });
}

export function slackChannel(options: SlackChannelOptions, deps: ChannelDeps): NotificationChannel {
  return httpChannel(
    {
      kind: 'slack',
      url: options.url,
      timeoutMs: options.timeout,
      headers: new Headers({ 'content-type': 'application/json; charset=utf-8', 'user-agent': 'vigil-notifier' }),
      render: titledJson('slack', deps, (n, title, text) => slackPayload(n, title, text, { username: options.username })),
      answer: slackAnswer,
    },
    deps,
  );
}
