import { Type, type StaticDecode, type TSchema } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';
import { CHANNEL_KINDS, CHANNELS, type ChannelKind } from '../channels/registry.js';
import { RateLimitConfig } from '../pipeline/ratelimit.js';
import { RoutingConfig } from '../routing/config.js';
import { TemplatesConfig } from '../templates/config.js';

/**
 * `notifier:` in vigil.yaml, shaped after Alertmanager's config: receivers (each a set of
 * channels), a routing tree, inhibition, silences, time intervals and rate limits. Composed
 * from the schemas that live with their code: each channel kind's options (the channel registry,
 * channels/registry.ts), routing (routing/config.ts) and templates (templates/config.ts). The
 * platform's schema leaves this section open; `checkNotifierConfig` checks it with
 * `checkSection`, so problems name the key like the rest of the file.
 */

const Closed = { additionalProperties: false } as const;

const receiverChannels = Object.fromEntries(
  CHANNEL_KINDS.map((kind) => [kind, Type.Array(CHANNELS[kind].schema, { default: [], description: `${kind} channels of this receiver: ${CHANNELS[kind].description}.` })]),
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

/** `notifier.console`: sugar for a console channel of the receiver "default" (deprecated: configure receivers). */
const ConsoleSugar = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    format: Type.Union([Type.Literal('text'), Type.Literal('json')], { default: 'text', description: 'text: the title and the indented body; json: one JSON object per line.' }),
  },
  { ...Closed, default: {}, description: 'Print notifications on stdout while no receivers are configured: the console channel of the receiver "default". Deprecated: configure receivers.' },
);

/** One entry of `notifier.webhooks`: sugar for a webhook channel of the receiver "default" (deprecated: configure receivers). */
export const WebhookSugar = Type.Object(
  {
    name: Type.String({ default: 'webhook', description: 'Names the channel `webhook:<name>` (unique).' }),
    url: Type.String({ pattern: '^https?://', description: "Where to POST each notification: Alertmanager's webhook payload, version 4, one alert per request." }),
    headers: Type.Record(Type.String(), Type.String(), { default: {} }),
    timeout: Duration({ default: '5s', description: 'Per-request timeout.' }),
  },
  Closed,
);

const Templates = Type.Object(
  {
    ...TemplatesConfig.properties,
    title: Type.Optional(Type.String({ description: 'Deprecated: the title of console notifications while no receivers are configured, over the alert; write templates.overrides["console.title"].' })),
    body: Type.Optional(Type.String({ description: 'Deprecated: the text of console notifications while no receivers are configured, over each alert; write templates.overrides["console.text"].' })),
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
    resolveTimeout: Duration({
      default: '5m',
      description: 'An alert posted to the Alertmanager-compatible API (by Prometheus) without endsAt is resolved when not sent again for this long, as Alertmanager\'s resolve_timeout.',
    }),
    templates: Templates,
    receivers: Type.Array(ReceiverConfig, {
      default: [],
      description: 'Where notifications go. None configured: console and webhooks below form the receiver "default", notified per alert at once.',
    }),
    ...RoutingConfig.properties,
    rateLimits: Type.Array(RateLimitConfig, { default: [], description: 'Message budgets per channel kind or channel name.' }),
    delivery: DeliveryConfig,
    console: ConsoleSugar,
    webhooks: Type.Array(WebhookSugar, {
      default: [],
      description: 'Deprecated sugar: webhook channels of the receiver "default" while no receivers are configured (each alert at once, in Alertmanager\'s webhook format). Configure receivers instead.',
    }),
  },
  { ...Closed, default: {}, description: 'The notifier role.' },
);

export type NotifierConfig = StaticDecode<typeof NotifierConfig>;
export type ReceiverConfig = StaticDecode<typeof ReceiverConfig>;
