import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/** Options of a `discord` channel: a Discord channel webhook. */
export const DiscordOptions = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'The webhook URL (https://discord.com/api/webhooks/<id>/<token>). It holds a secret: give it as ${DISCORD_WEBHOOK_URL}.',
    }),
    username: Type.Optional(Type.String({ maxLength: 80, description: 'Overrides the webhook’s default name.' })),
    timeout: Duration({ default: '10s', description: 'Per-request timeout.' }),
  },
  { additionalProperties: false },
);
