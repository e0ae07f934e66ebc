import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../channel.js';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, diskResolved, rejection, sampleGroup } from '../../../test/providers.js';
import { emailChannel, emailMessageId, type EmailChannelOptions } from './email.js';

/**
 * A real SMTP server on loopback (smtp-server) that requires AUTH, refuses some recipients the
 * way mail servers do (550), and parses what it receives with mailparser.
 */
interface Delivered {
  from: string;
  to: string[];
  user: string | undefined;
  mail: ParsedMail;
}

let server: SMTPServer;
let port: number;
let delivered: Delivered[] = [];

beforeAll(async () => {
  server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'vigil' && auth.password === 'smtp-pass') return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, cb) {
      if (address.address.endsWith('@nowhere.example')) return cb(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
      if (address.address.startsWith('busy@')) return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      cb();
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (mail) => {
          delivered.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            mail,
          });
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  delivered = [];
});

const templates = templateRegistryFromConfig();
const options = (extra: Partial<EmailChannelOptions> = {}): EmailChannelOptions => ({
  host: '127.0.0.1',
  port,
  secure: false,
  requireTLS: false,
  ignoreTLS: false,
  tls: { insecureSkipVerify: false },
  user: 'vigil',
  password: 'smtp-pass',
  from: 'Vigil <vigil@alerts.example>',
  to: ['oncall@example.com', 'lead@example.com'],
  timeout: 5_000,
  ...extra,
});

describe('email channel', () => {
  it('sends the subject, a text part and the HTML health report, authenticated, to the configured recipients', async () => {
    const ch = emailChannel(options(), { name: 'ops/email[0]', templates });
    const n = sampleGroup();
    const receipt = await ch.send(n, ctx('ops/email[0]:k1'));
    expect(delivered).toHaveLength(1);
    const d = delivered[0]!;
    expect(d.user).toBe('vigil');
    expect(d.from).toBe('vigil@alerts.example');
    expect(d.to).toEqual(['oncall@example.com', 'lead@example.com']);
    expect(d.mail.subject).toBe('[FIRING:1:CRITICAL] 2 alerts');
    expect(d.mail.messageId).toBe(emailMessageId('ops/email[0]:k1', 'Vigil <vigil@alerts.example>'));
    expect(receipt).toMatchObject({ providerId: d.mail.messageId });
    expect(d.mail.text).toContain('[FIRING:CRITICAL] cpu_high on web-1: 93.1% - CPU on web-1 is at 93%');
    expect(d.mail.text).toContain('Resolved: 2024-05-01 11:30:00 UTC (lasted 30m)');
    const html = d.mail.html as string;
    expect(html).toContain('Vigil health report &middot; unhealthy');
    expect(html).toContain('background:#D00000');
    // One table row per alert with its level's colour bar; resolved rows green.
    expect(html).toContain('border-left:4px solid #D00000');
    expect(html).toContain('border-left:4px solid #2EB67D');
    expect(html).toContain('<strong>1</strong> firing, <strong>1</strong> resolved');
    expect(html).toContain('href="http://vigil.local:8080"');
    expect(d.mail.headers.get('x-vigil-status')).toBe('firing');
  });

  it('escapes alert texts in the HTML part', async () => {
    const ch = emailChannel(options(), { name: 'e', templates });
    await ch.send(sampleGroup([{ ...cpuHigh, annotations: { summary: '<img src=x onerror=alert(1)> & co' } }]), ctx());
    const html = delivered[0]!.mail.html as string;
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt; &amp; co');
    expect(html).not.toContain('<img src=x');
  });

  it('recipients on the notification replace the configured ones; the same key gives the same Message-ID', async () => {
    const ch = emailChannel(options(), { name: 'e', templates });
    await ch.send(sampleGroup([diskResolved], { recipients: ['someone@example.org'] }), ctx('same'));
    await ch.send(sampleGroup([diskResolved], { recipients: ['someone@example.org'] }), ctx('same'));
    expect(delivered.map((d) => d.to)).toEqual([['someone@example.org'], ['someone@example.org']]);
    expect(delivered[0]!.mail.messageId).toBe(delivered[1]!.mail.messageId);
    expect(delivered[0]!.mail.html).toContain('Vigil health report &middot; healthy');
  });

  it('wrong credentials: permanent, says to check them', async () => {
    const err = (await rejection(emailChannel(options({ password: 'nope' }), { name: 'e', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(new RegExp(`^email "e" \\(smtp://127\\.0\\.0\\.1:${port}\\): SMTP 535 after AUTH PLAIN: .*\\(not retried: check the user and password\\)$`));
    expect(err.message).not.toContain('nope');
  });

  it('a 550 recipient is permanent, a 451 one transient', async () => {
    const rejected = (await rejection(emailChannel(options({ to: ['x@nowhere.example'] }), { name: 'e', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([rejected.permanent, rejected.status]).toEqual([true, 550]);
    const busy = (await rejection(emailChannel(options({ to: ['busy@example.com'] }), { name: 'e', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([busy.permanent, busy.status]).toEqual([false, 451]);
  });

  it('no server listening: transient', async () => {
    const err = (await rejection(emailChannel(options({ port: 1 }), { name: 'e', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err.permanent).toBe(false);
    expect(err.message).toContain('(will retry)');
  });

  it('no recipient at all is permanent; options come from config with defaults', async () => {
    const ch = createChannel('email', { host: '127.0.0.1', port, from: 'vigil@alerts.example' }, { name: 'e', templates, source: 'f.yaml: r.email[0]' });
    const err = (await rejection(ch.send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err.permanent).toBe(true);
    expect(() => createChannel('email', { port }, { name: 'e', templates, source: 'f.yaml: r.email[0]' })).toThrow(/f\.yaml: r\.email\[0\]\.host: is required/);
  });

  it('render gives the subject, text and html it would send', () => {
    const m = emailChannel(options(), { name: 'e', templates }).render(sampleGroup([cpuHigh]));
    expect(m.title).toBe('[FIRING:CRITICAL] cpu_high on web-1');
    expect(m.html).toMatch(/^<!DOCTYPE html>/);
    expect(m.text).toContain('Severity: critical');
  });
});

/**
 * A server that offers STARTTLS with a self-signed certificate, as Debian's Postfix does out of
 * the box (ssl-cert-snakeoil): the channel checks the certificate unless told how to trust it.
 */
describe('email channel over STARTTLS', () => {
  let tlsServer: SMTPServer;
  let tlsPort: number;
  let dir: string;
  const secured: boolean[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-smtp-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=mail.vigil.test', '-addext', 'subjectAltName=DNS:mail.vigil.test'], { stdio: 'ignore' });
    tlsServer = new SMTPServer({
      secure: false,
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
      authOptional: true,
      logger: false,
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          secured.push(session.secure);
          cb();
        });
      },
    });
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', () => r()));
    tlsPort = (tlsServer.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => tlsServer.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsOptions = (extra: Partial<EmailChannelOptions>) => options({ port: tlsPort, user: undefined, password: undefined, ...extra });
  const send = (o: EmailChannelOptions) => emailChannel(o, { name: 'ops/email[0]', templates }).send(sampleGroup([cpuHigh]), ctx());

  it('refuses a certificate it cannot check, permanently, saying how to trust it', async () => {
    const err = await rejection(send(tlsOptions({})));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/tls\.caFile/);
  });

  it('sends over STARTTLS with the CA in tls.caFile and the certificate\'s name in tls.serverName', async () => {
    const before = secured.length;
    await send(tlsOptions({ tls: { caFile: join(dir, 'cert.pem'), serverName: 'mail.vigil.test', insecureSkipVerify: false } }));
    expect(secured.slice(before)).toEqual([true]);
  });

  it('refuses at start a CA file it cannot read or that holds no certificate, and requireTLS with ignoreTLS, naming the key', () => {
    const make = (o: EmailChannelOptions) => () => emailChannel(o, { name: 'ops/email[0]', templates, source: 'notifier.receivers[0].email[0]' });
    expect(make(tlsOptions({ tls: { caFile: join(dir, 'missing.pem'), insecureSkipVerify: false } }))).toThrow(/notifier\.receivers\[0\]\.email\[0\]\.tls\.caFile: cannot read .*missing\.pem \(ENOENT\)/);
    expect(make(tlsOptions({ tls: { caFile: join(dir, 'key.pem'), insecureSkipVerify: false } }))).toThrow(/tls\.caFile: .* holds no PEM certificate/);
    expect(make(tlsOptions({ requireTLS: true, ignoreTLS: true }))).toThrow(/email\[0\]\.ignoreTLS: cannot be true with requireTLS/);
  });

  it('sends with tls.insecureSkipVerify (encrypted), and in clear with ignoreTLS', async () => {
    const before = secured.length;
    await send(tlsOptions({ tls: { insecureSkipVerify: true } }));
    await send(tlsOptions({ ignoreTLS: true }));
    expect(secured.slice(before)).toEqual([true, false]);
  });
});
