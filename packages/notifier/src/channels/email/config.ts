import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/** Options of an `email` channel: SMTP submission with nodemailer. */
export const EmailOptions = Type.Object(
  {
    host: Type.String({ minLength: 1, description: 'SMTP server host name or address.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 587, description: '587 for submission with STARTTLS, 465 with secure: true, 25 for relay.' }),
    secure: Type.Boolean({ default: false, description: 'TLS from the first byte (port 465). With false, STARTTLS is used when the server offers it.' }),
    requireTLS: Type.Boolean({ default: false, description: 'Refuse to send unless STARTTLS succeeds (with secure: false).' }),
    ignoreTLS: Type.Boolean({ default: false, description: 'Never STARTTLS, even when the server offers it (a relay on the same host whose certificate cannot be checked); not with requireTLS.' }),
    tls: Type.Object(
      {
        caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA (or the self-signed certificate) the server\'s certificate must chain to, instead of the system\'s CAs.' })),
        serverName: Type.Optional(Type.String({ minLength: 1, description: 'The name the certificate must carry, when it is not host (host given as an address).' })),
        insecureSkipVerify: Type.Boolean({ default: false, description: 'Accept any certificate (encrypted, not authenticated): for tests and closed networks only.' }),
      },
      { additionalProperties: false, default: {}, description: 'How the server\'s certificate is checked (STARTTLS or secure), as Alertmanager\'s tls_config.' },
    ),
    user: Type.Optional(Type.String({ description: 'SMTP AUTH user name; no authentication when unset.' })),
    password: Type.Optional(Type.String({ description: 'SMTP AUTH password: give it as ${SMTP_PASSWORD}.' })),
    from: Type.String({ minLength: 3, description: 'Sender, e.g. "Vigil <vigil@example.com>".' }),
    to: Type.Array(Type.String({ minLength: 3 }), { default: [], description: 'Recipients; a notification with explicit recipients (POST /api/v1/notify) replaces them.' }),
    timeout: Duration({ default: '30s', description: 'Connection, greeting and socket timeout.' }),
  },
  { additionalProperties: false },
);
