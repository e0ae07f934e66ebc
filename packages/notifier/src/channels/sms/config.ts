import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/** Options of an `sms` channel: Twilio's Messages API through the twilio SDK. */
export const SmsOptions = Type.Object(
  {
    accountSid: Type.String({ minLength: 1, description: 'Twilio account SID (AC...); ${TWILIO_ACCOUNT_SID} is usual.' }),
    authToken: Type.String({ minLength: 1, description: 'Twilio auth token: give it as ${TWILIO_AUTH_TOKEN}.' }),
    from: Type.String({ minLength: 1, description: 'Sending number in E.164 (+15017122661) or a messaging service SID (MG...).' }),
    to: Type.Array(Type.String({ pattern: '^\\+[1-9]\\d{1,14}$' }), { default: [], description: 'Recipients in E.164; a notification with explicit recipients replaces them. One message each.' }),
    maxLength: Type.Integer({ minimum: 20, maximum: 1600, default: 320, description: 'Longest message body in characters (Twilio accepts 1600; 160 is one GSM segment).' }),
    apiBaseUrl: Type.String({
      pattern: '^https?://',
      default: 'https://api.twilio.com',
      description: "Root of Twilio's REST API; point it elsewhere for a proxy or a test server speaking the Messages API.",
    }),
    timeout: Duration({ default: '15s', description: 'Per-request timeout.' }),
  },
  { additionalProperties: false },
);
