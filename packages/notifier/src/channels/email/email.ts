import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { StaticDecode } from '@sinclair/typebox';
import nodemailer from 'nodemailer';
import { ConfigError } from '@vigil/platform';
import type { AlertNotification, NotificationChannel, RenderedMessage } from '../../model.js';
import { DeliveryError, type ChannelDeps } from '../channel.js';
import type { EmailOptions } from './config.js';

/**
 * Channel "email": one message per notification over SMTP (nodemailer), with a plain-text and an
 * HTML part from templates; the subject is the title. The Message-ID is derived from the delivery's
 * idempotency key, so a resend after a crash carries the same id and mail systems can fold it.
 */

export type EmailChannelOptions = StaticDecode<typeof EmailOptions>;

/** `<hash@domain>` from the idempotency key and the sender's domain. */
export function emailMessageId(idempotencyKey: string, from: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'vigil.invalid';
  return `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}@${domain}>`;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  command?: string;
}

/**
 * SMTP's answer classes: 5xx (and failed AUTH) will fail again the same way; 4xx, dropped
 * connections and timeouts may pass later.
 */
export function smtpError(target: string, err: SmtpError): DeliveryError {
  const code = err.responseCode;
  // A certificate that cannot be checked fails the same way every time (nodemailer: ESOCKET or ETLS with the TLS error's text).
  const certificate = (err.code === 'ESOCKET' || err.code === 'ETLS') && /certificate|self[- ]signed|altnames|CERT_/i.test(err.message ?? '');
  const permanent = err.code === 'EAUTH' || certificate || (code !== undefined && code >= 500 && code < 600);
  const what = code !== undefined ? `SMTP ${code}${err.command ? ` after ${err.command}` : ''}` : (err.code ?? 'error');
  const hint = permanent
    ? certificate
      ? "not retried: the server's certificate cannot be checked; give its CA in tls.caFile (or the name it carries in tls.serverName), or set ignoreTLS or tls.insecureSkipVerify for a server you trust"
      : err.code === 'EAUTH'
      ? 'not retried: check the user and password'
      : 'not retried: check the sender, the recipients and what the server accepts'
    : 'will retry';
  // The server's text can quote addresses; keep the first line, it says which rule refused.
  const reason = (err.message ?? '').split('\n')[0]!.slice(0, 200);
  return new DeliveryError(`${target}: ${what}: ${reason} (${hint})`, { permanent, ...(code !== undefined ? { status: code } : {}), cause: err });
}

/** nodemailer's TLS options from the channel's `tls`: the CA read once at start, the name to check, or no check at all. */
export function tlsOptions(tls: EmailChannelOptions['tls'], where = 'email'): { ca?: string; servername?: string; rejectUnauthorized: boolean } {
  let ca: string | undefined;
  if (tls.caFile !== undefined) {
    try {
      ca = readFileSync(tls.caFile, 'utf8');
    } catch (err) {
      throw new ConfigError([`${where}.tls.caFile: cannot read ${tls.caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`${where}.tls.caFile: ${tls.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
  }
  return {
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(ca !== undefined ? { ca } : {}),
    ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
  };
}

export function emailChannel(options: EmailChannelOptions, deps: ChannelDeps): NotificationChannel {
  const target = `email "${deps.name}" (smtp://${options.host}:${options.port})`;
  if (options.requireTLS && options.ignoreTLS) throw new ConfigError([`${deps.source ?? `email "${deps.name}"`}.ignoreTLS: cannot be true with requireTLS (one insists on STARTTLS, the other never tries it)`]);
  const transport = nodemailer.createTransport({
    host: options.host,
    port: options.port,
    secure: options.secure,
    requireTLS: options.requireTLS,
    ignoreTLS: options.ignoreTLS,
    tls: tlsOptions(options.tls, deps.source ?? `email "${deps.name}"`),
    ...(options.user !== undefined ? { auth: { user: options.user, pass: options.password ?? '' } } : {}),
    connectionTimeout: options.timeout,
    greetingTimeout: options.timeout,
    socketTimeout: options.timeout,
  });
  const render = (n: AlertNotification): RenderedMessage => ({
    title: deps.templates.render('email', 'title', n),
    text: deps.templates.render('email', 'text', n),
    html: deps.templates.render('email', 'html', n),
  });
  return {
    kind: 'email',
    name: deps.name,
    render,
    async send(n, ctx) {
      const to = n.recipients && n.recipients.length > 0 ? n.recipients : options.to;
      if (to.length === 0) throw new DeliveryError(`${target}: no recipients (set "to" on the channel, or give recipients) (not retried)`, { permanent: true });
      const m = render(n);
      const messageId = emailMessageId(ctx.idempotencyKey, options.from);
      try {
        const info = await transport.sendMail({
          from: options.from,
          to,
          subject: m.title ?? '',
          text: m.text ?? '',
          html: m.html ?? '',
          messageId,
          headers: { 'X-Vigil-Receiver': n.receiver, 'X-Vigil-Status': n.status, 'X-Vigil-Severity': n.severity },
        });
        return { providerId: messageId, detail: String(info.response ?? '').slice(0, 200) };
      } catch (err) {
        throw smtpError(target, err as SmtpError);
      }
    },
  };
}
