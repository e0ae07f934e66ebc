import { Type, type StaticDecode, type TSchema } from '@sinclair/typebox';
import { Duration, WebhookChannel } from '@vigil/platform';
import { CHANNELS } from '../channels/index.js';
import { GithubChannelSchema } from '../channels/github/config.js';
import type { ChannelKind } from '../model.js';
import { RoutingConfig } from '../routing/config.js';
import { TemplatesConfig } from '../templates/config.js';

/**
 * `notifier:` in vigil.yaml, shaped after Alertmanager's config: receivers (each a set of
 * channels), a routing tree, inhibition, silences, time intervals and rate limits. Composed
 * from the schemas that live with their code: each channel kind's options
 * (channels/<kind>/config.ts), routing (routing/config.ts) and templates (templates/config.ts).
 * The platform's schema leaves this section open; `checkNotifierConfig` checks it with
 * `checkSection`, so problems name the key like the rest of the file.
 */

const Closed = { additionalProperties: false } as const;

export const CHANNEL_KINDS: ChannelKind[] = ['email', 'sms', 'slack', 'discord', 'webhook', 'github', 'console', 'file'];

/** A kind whose folder has not landed accepts any options here; building its channel then says the kind is unknown. */
const channelOptions = (kind: ChannelKind): TSchema =>
  CHANNELS[kind]?.schema ?? (kind === 'github' ? GithubChannelSchema : Type.Object({}, { additionalProperties: true }));

const receiverChannels = Object.fromEntries(
  CHANNEL_KINDS.map((kind) => [kind, Type.Array(channelOptions(kind), { default: [], description: `${kind} channels of this receiver.` })]),
) as unknown as Record<ChannelKind, TSchema>;

export const ReceiverConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: 'Unique receiver name (letters, digits, _ . : -), used by routes and fallbacks.' }),
    ...receiverChannels,
    sendResolved: Type.Boolean({ default: true, description: 'Also notify when the alerts of a group resolve.' }),
    fallback: Type.Optional(Type.String({ description: 'Receiver that gets a notification this one gave up on (after delivery.giveUpAfter).' })),
  },
  Closed,
);

const LegacyConsole = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    format: Type.Union([Type.Literal('text'), Type.Literal('json')], { default: 'text', description: 'text: the title and the indented body; json: one JSON object per line.' }),
  },
  { ...Closed, default: {}, description: 'Print notifications on stdout (one per transition while no receivers are configured).' },
);

const Templates = Type.Object(
  {
    ...TemplatesConfig.properties,
    title: Type.Optional(Type.String({ description: 'Handlebars template of the title line of console and notifier.webhooks messages (per transition).' })),
    body: Type.Optional(Type.String({ description: 'Handlebars template of the body of console and notifier.webhooks messages (per transition).' })),
  },
  { ...Closed, default: {}, description: TemplatesConfig.description },
);

export const DeliveryConfig = Type.Object(
  {
    giveUpAfter: Duration({ default: '10m', description: 'How long one notification may be retried on one channel before it is failed and handed to the receiver\'s fallback.' }),
    retry: Type.Object(
      {
        initialBackoff: Duration({ default: '500ms', description: 'Wait before the 2nd attempt; doubles each time, with jitter.' }),
        maxBackoff: Duration({ default: '30s', description: 'Longest wait between attempts (a Retry-After may ask for more).' }),
        maxAttempts: Type.Integer({ minimum: 1, default: 1000, description: 'Attempts per notification and channel, the first included.' }),
      },
      { ...Closed, default: {} },
    ),
  },
  { ...Closed, default: {}, description: 'Retries and giving up.' },
);

export const NotifierConfig = Type.Object(
  {
    groupId: Type.String({ default: 'vigil-notifier', description: 'Kafka consumer group.' }),
    externalUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'Vigil\'s URL as people reach it, for links in notifications.' })),
    templates: Templates,
    receivers: Type.Array(ReceiverConfig, {
      default: [],
      description: 'Where notifications go. None configured: console and webhooks below form the receiver "default", notified per transition.',
    }),
    ...RoutingConfig.properties,
    delivery: DeliveryConfig,
    console: LegacyConsole,
    webhooks: Type.Array(WebhookChannel, { default: [], description: 'HTTP endpoints that receive every transition (the implicit receiver "default", used while no receivers are configured).' }),
  },
  { ...Closed, default: {}, description: 'The notifier role.' },
);

export type NotifierConfig = StaticDecode<typeof NotifierConfig>;
export type ReceiverConfig = StaticDecode<typeof ReceiverConfig>;
