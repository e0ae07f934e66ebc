import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../channel.js';
import { createChannel, templateRegistryFromConfig } from '../index.js';
import { ctx, cpuHigh, rejection, sampleGroup, startReceiver, type Receiver } from '../../../test/providers.js';
import { smsChannel, type SmsChannelOptions } from './sms.js';

/**
 * A loopback Twilio Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json with Basic auth
 * (account SID and auth token), form-encoded To, From (or MessagingServiceSid) and Body; 201 with
 * the message resource; errors as Twilio documents them ({code, message, more_info, status}).
 */
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-token-for-tests';
let twilio: Receiver;
let script: { status: number; body: unknown }[] = [];
let seq = 0;

beforeAll(async () => {
  twilio = await startReceiver((req, res) => {
    const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const err = (status: number, code: number, message: string) => json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(req.url);
    if (req.method !== 'POST' || !m) return err(404, 20404, 'The requested resource was not found');
    const auth = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''));
    const [user, pass] = auth ? Buffer.from(auth[1]!, 'base64').toString().split(':') : [];
    if (user !== m[1] || pass !== TOKEN) return err(401, 20003, 'Authenticate');
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return err(400, 20001, 'Invalid content type');
    const reply = script.shift();
    if (reply) return json(reply.status, reply.body);
    const form = new URLSearchParams(req.body);
    const to = form.get('To') ?? '';
    if (!/^\+[1-9]\d{1,14}$/.test(to)) return err(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!form.get('From') && !form.get('MessagingServiceSid')) return err(400, 21603, "A 'From' phone number is required.");
    const body = form.get('Body') ?? '';
    if (body === '') return err(400, 21602, 'Message body is required.');
    if (body.length > 1600) return err(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    json(201, { sid: `SM${String(++seq).padStart(32, '0')}`, account_sid: m[1], to, from: form.get('From'), body, status: 'queued', num_segments: '1', error_code: null });
  });
});
afterAll(() => twilio.close());
beforeEach(() => {
  twilio.received.length = 0;
  script = [];
});

const templates = templateRegistryFromConfig();
const options = (extra: Partial<SmsChannelOptions> = {}): SmsChannelOptions => ({
  accountSid: SID,
  authToken: TOKEN,
  from: '+15017122661',
  to: ['+15558675310', '+447700900123'],
  maxLength: 160,
  apiBaseUrl: twilio.url,
  timeout: 5_000,
  ...extra,
});
const forms = () => twilio.received.map((r) => Object.fromEntries(new URLSearchParams(r.body)));

describe('sms channel (twilio SDK against a loopback Messages API)', () => {
  it('texts each recipient once, short, authenticated; the message SIDs are the receipt', async () => {
    const ch = smsChannel(options(), { name: 'ops/sms[0]', templates });
    const receipt = await ch.send(sampleGroup([cpuHigh]), ctx());
    expect(forms()).toEqual([
      { To: '+15558675310', From: '+15017122661', Body: 'CRITICAL: cpu_high on web-1 93.1% - CPU on web-1 is at 93% at 2024-05-01 12:00:10 UTC' },
      { To: '+447700900123', From: '+15017122661', Body: 'CRITICAL: cpu_high on web-1 93.1% - CPU on web-1 is at 93% at 2024-05-01 12:00:10 UTC' },
    ]);
    expect(receipt).toEqual({ providerId: expect.stringMatching(/^SM\d{32},SM\d{32}$/) });
  });

  it('cuts the text to maxLength; recipients on the notification replace the configured ones', async () => {
    const ch = smsChannel(options({ maxLength: 40 }), { name: 'ops/sms[0]', templates });
    await ch.send(sampleGroup(undefined, { recipients: ['+15551234567'] }), ctx());
    const f = forms();
    expect(f.map((x) => x.To)).toEqual(['+15551234567']);
    expect(Array.from(f[0]!.Body!)).toHaveLength(40);
    expect(f[0]!.Body!.endsWith('…')).toBe(true);
  });

  it('a messaging service SID goes as MessagingServiceSid', async () => {
    await smsChannel(options({ from: 'MG0123456789abcdef0123456789abcdef', to: ['+15558675310'] }), { name: 's', templates }).send(sampleGroup(), ctx());
    expect(forms()[0]).toMatchObject({ MessagingServiceSid: 'MG0123456789abcdef0123456789abcdef' });
  });

  it('a retry after a partial failure texts only the recipients not reached yet', async () => {
    const ch = smsChannel(options({ to: ['+15558675310', '+15558675311'] }), { name: 's', templates });
    script = [{ status: 201, body: { sid: 'SM1', status: 'queued' } }, { status: 503, body: { code: 20500, message: 'Internal Server Error', status: 503 } }];
    const err = (await rejection(ch.send(sampleGroup(), ctx('k-partial')))) as unknown as DeliveryError;
    expect(err.permanent).toBe(false);
    await ch.send(sampleGroup(), ctx('k-partial'));
    expect(forms().map((f) => f.To)).toEqual(['+15558675310', '+15558675311', '+15558675311']);
  });

  it('Twilio errors: 400 invalid number and 401 are permanent, 429 transient, with code and message', async () => {
    const bad = (await rejection(smsChannel(options({ to: ['+1'] }), { name: 's', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(bad.permanent).toBe(true);
    expect(bad.message).toBe("sms \"s\": Twilio answered HTTP 400 code 21211: The 'To' number +1 is not a valid phone number. (not retried: check the numbers and the account)");
    const auth = (await rejection(smsChannel(options({ authToken: 'wrong' }), { name: 's', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([auth.permanent, auth.status]).toEqual([true, 401]);
    expect(auth.message).toContain('code 20003: Authenticate (not retried: check the account SID and auth token)');
    expect(auth.message).not.toContain('wrong');
    script = [{ status: 429, body: { code: 20429, message: 'Too Many Requests', status: 429 } }];
    const limited = (await rejection(smsChannel(options(), { name: 's', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect([limited.permanent, limited.status]).toEqual([false, 429]);
  });

  it('an unreachable API is transient', async () => {
    const gone = await startReceiver(() => undefined);
    await gone.close();
    const err = (await rejection(smsChannel(options({ apiBaseUrl: gone.url }), { name: 's', templates }).send(sampleGroup(), ctx()))) as unknown as DeliveryError;
    expect(err.permanent).toBe(false);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('options from config: apiBaseUrl defaults to Twilio; a bad number is named', () => {
    expect(() => createChannel('sms', { accountSid: SID, authToken: TOKEN, from: '+15017122661', to: ['0612'] }, { name: 's', templates, source: 'f.yaml: r.sms[0]' })).toThrow(/f\.yaml: r\.sms\[0\]\.to\[0\]: "0612" does not have the expected form/);
    const ch = createChannel('sms', { accountSid: SID, authToken: TOKEN, from: '+15017122661' }, { name: 's', templates, source: 'f.yaml: r.sms[0]' });
    expect(ch.render(sampleGroup()).text).toBe('CRITICAL: 2 alerts (1 firing, 1 resolved) at 2024-05-01 12:00:10 UTC');
  });
});
