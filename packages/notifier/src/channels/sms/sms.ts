import type { StaticDecode } from '@sinclair/typebox';
import twilio from 'twilio';
import type { AlertNotification, NotificationChannel, RenderedMessage } from '../../model.js';
import { truncate } from '../../templates/format.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import { classifyHttpStatus } from '../http-response.js';
import type { SmsOptions } from './config.js';

/**
 * Channel "sms": a short text to each recipient through Twilio's Messages API (the twilio SDK).
 * Twilio takes no idempotency key for messages, so the channel remembers which recipients of a
 * delivery already got theirs: a retry after a partial failure texts only the others.
 */

export type SmsChannelOptions = StaticDecode<typeof SmsOptions>;

/**
 * The SDK's HTTP client, with its requests sent to `apiBaseUrl` instead of api.twilio.com: the
 * SDK builds absolute URLs per domain, and its `httpClient` option is the documented seam.
 */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(
    private readonly base: URL,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, keepAlive: true });
  }

  override request<T>(opts: Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0]) {
    const u = new URL(opts.uri);
    const rebased = new URL(`${this.base.pathname.replace(/\/+$/, '')}${u.pathname}${u.search}`, this.base.origin);
    return super.request<T>({ ...opts, uri: rebased.href } as typeof opts & { data?: T });
  }
}

interface TwilioRestError extends Error {
  status?: number;
  code?: number;
  moreInfo?: string;
}

/** Twilio's error: 400 with a Twilio code (21211 bad number, 21610 unsubscribed, ...) will not pass later; 429 and 5xx may. */
export function twilioError(target: string, err: TwilioRestError): DeliveryError {
  if (typeof err.status !== 'number') {
    return new DeliveryError(`${target}: request failed (${(err as { code?: unknown }).code ?? err.message}) (will retry)`, { permanent: false, cause: err });
  }
  const outcome = classifyHttpStatus(err.status);
  const hint = outcome === 'retry' ? 'will retry' : err.status === 401 ? 'not retried: check the account SID and auth token' : 'not retried: check the numbers and the account';
  return new DeliveryError(`${target}: Twilio answered HTTP ${err.status}${err.code !== undefined ? ` code ${err.code}` : ''}: ${err.message} (${hint})`, {
    permanent: outcome === 'permanent',
    status: err.status,
    cause: err,
  });
}

/** A bounded memory of (delivery, recipient) pairs already texted. */
class SentRecipients {
  private readonly keys = new Set<string>();
  constructor(private readonly max: number) {}
  has(key: string): boolean {
    return this.keys.has(key);
  }
  add(key: string): void {
    this.keys.add(key);
    if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value!);
  }
}

export function smsChannel(options: SmsChannelOptions, deps: ChannelDeps): NotificationChannel {
  const target = `sms "${deps.name}"`;
  const client = twilio(options.accountSid, options.authToken, {
    httpClient: new RebasedRequestClient(new URL(options.apiBaseUrl), options.timeout),
    autoRetry: false,
  });
  const sent = new SentRecipients(10_000);
  const render = (n: AlertNotification): RenderedMessage => ({ text: truncate(deps.templates.render('sms', 'text', n), options.maxLength) });
  return {
    kind: 'sms',
    name: deps.name,
    render,
    async send(n, ctx) {
      const to = n.recipients && n.recipients.length > 0 ? n.recipients : options.to;
      if (to.length === 0) throw new DeliveryError(`${target}: no recipients (set "to" on the channel, or give recipients) (not retried)`, { permanent: true });
      const body = render(n).text ?? '';
      const sids: string[] = [];
      for (const number of to) {
        const key = `${ctx.idempotencyKey}\u0000${number}`;
        if (sent.has(key)) continue;
        if (ctx.signal.aborted) throw new DeliveryError(`${target}: aborted before every recipient was texted (will retry)`, { permanent: false });
        try {
          const m = await client.messages.create(options.from.startsWith('MG') ? { to: number, messagingServiceSid: options.from, body } : { to: number, from: options.from, body });
          sids.push(m.sid);
          sent.add(key);
        } catch (err) {
          throw twilioError(target, err as TwilioRestError);
        }
      }
      return sids.length > 0 ? { providerId: sids.join(',') } : {};
    },
  };
}
