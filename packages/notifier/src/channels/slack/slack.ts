import type { StaticDecode } from '@sinclair/typebox';
import type { AlertNotification, NotificationChannel, RenderedMessage } from '../../model.js';
import { severityColour, severityEmoji, truncate } from '../../templates/format.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import { httpStatusError } from '../http-response.js';
import { post, receiverName } from '../http-send.js';
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

export function slackChannel(options: SlackChannelOptions, deps: ChannelDeps): NotificationChannel {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const target = receiverName('slack', deps.name, options.url);
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8', 'user-agent': 'vigil-notifier' });
  const render = (n: AlertNotification): RenderedMessage => {
    const title = deps.templates.render('slack', 'title', n);
    const text = deps.templates.render('slack', 'text', n);
    return { title, text, json: slackPayload(n, title, text, { username: options.username }) };
  };
  return {
    kind: 'slack',
    name: deps.name,
    render,
    async send(n, ctx) {
      const body = JSON.stringify(render(n).json);
      const res = await post({ fetch: doFetch, target, url: options.url, headers, body, timeoutMs: options.timeout, signal: ctx.signal });
      if (res.status === 200) return { detail: res.text.slice(0, 100) };
      // Slack answers with a short error code in plain text: invalid_payload, no_service, ...
      const code = /^[a-z_]{1,60}$/.test(res.text.trim()) ? res.text.trim() : '';
      const e = httpStatusError(target, res.status, res.headers.get('retry-after'), now());
      throw new DeliveryError(code ? e.message.replace(`HTTP ${res.status} (`, `HTTP ${res.status}: ${code} (`) : e.message, {
        permanent: e.permanent,
        status: res.status,
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
      });
    },
  };
}
