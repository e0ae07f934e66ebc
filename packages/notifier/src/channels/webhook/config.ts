import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/** Options of a `webhook` channel: Alertmanager's webhook payload (version 4) POSTed as JSON. */
export const WebhookOptions = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Where to POST each notification (http:// or https://).' }),
    headers: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Extra request headers (Authorization: "Bearer ${HOOK_TOKEN}"); cannot replace Content-Type, Idempotency-Key or the signature headers.' }),
    signingSecret: Type.Optional(
      Type.String({
        description:
          'When set (as ${VAR}), each request carries X-Vigil-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>"> and X-Vigil-Timestamp: <unix seconds>.',
      }),
    ),
    maxAlerts: Type.Integer({ minimum: 0, default: 0, description: 'At most this many alerts per request, the rest counted in truncatedAlerts; 0 sends all.' }),
    timeout: Duration({ default: '10s', description: 'Per-request timeout.' }),
  },
  { additionalProperties: false },
);
