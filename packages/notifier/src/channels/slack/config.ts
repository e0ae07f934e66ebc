import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/** Options of a `slack` channel: a Slack incoming webhook. */
export const SlackOptions = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'The incoming webhook URL (https://hooks.slack.com/services/...). It holds a secret: give it as ${SLACK_WEBHOOK_URL}.',
    }),
    username: Type.Optional(Type.String({ description: 'Display name of the messages, where the Slack app allows overriding it.' })),
    timeout: Duration({ default: '10s', description: 'Per-request timeout.' }),
  },
  { additionalProperties: false },
);
