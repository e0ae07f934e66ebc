import type { TSchema } from '@sinclair/typebox';
import { checkSection, ConfigError, type AlertSeverity } from '@vigil/platform';
import type { NotificationChannel } from '../model.js';
import type { TemplatesConfig } from '../templates/config.js';
import { compileTemplateRegistry, type TemplateRegistry } from '../templates/registry.js';
import type { ChannelDeps } from './channel.js';
import { ConsoleOptions } from './console/config.js';
import { consoleChannel } from './console/console.js';
import { CONSOLE_TEMPLATES } from './console/templates.js';
import { DiscordOptions } from './discord/config.js';
import { discordChannel } from './discord/discord.js';
import { DISCORD_TEMPLATES } from './discord/templates.js';
import { EmailOptions } from './email/config.js';
import { emailChannel } from './email/email.js';
import { EMAIL_TEMPLATES } from './email/templates.js';
import { FileOptions } from './file/config.js';
import { fileChannel } from './file/file.js';
import { FILE_TEMPLATES } from './file/templates.js';
import { GithubChannelSchema, resolveGithubToken, type GithubChannelConfig } from './github/config.js';
import { githubChannel } from './github/github.js';
import { SlackOptions } from './slack/config.js';
import { slackChannel } from './slack/slack.js';
import { SLACK_TEMPLATES } from './slack/templates.js';
import { SmsOptions } from './sms/config.js';
import { smsChannel } from './sms/sms.js';
import { SMS_TEMPLATES } from './sms/templates.js';
import { WebhookOptions } from './webhook/config.js';
import { webhookChannel } from './webhook/webhook.js';

/**
 * The channel registry: the one list of channel kinds. Each kind is one folder
 * (`channels/<kind>/`: config schema, factory, default templates, tests) and one entry here; the
 * kind union, the config schema's receiver keys, the default routing by level, rate-limit kinds,
 * preview options and usage texts are all derived from it.
 */

const ALL: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** One channel kind. */
export interface ChannelFactory {
  /** Its options (defaults and descriptions), checked with checkSection. */
  readonly schema: TSchema;
  /** Default templates by `<kind>.<part>`. */
  readonly templates: Readonly<Record<string, string>>;
  /** The levels a channel of this kind is notified of when no route is configured (MISSION B). */
  readonly levels: readonly AlertSeverity[];
  /** Options that build a channel which only renders (`vigil template render`, the preview API); nothing is sent with them. */
  readonly preview: Readonly<Record<string, unknown>>;
  /** One line for usage texts and docs. */
  readonly description: string;
  create(options: unknown, deps: ChannelDeps): NotificationChannel;
}

function factory<O>(f: Omit<ChannelFactory, 'create'> & { create: (options: O, deps: ChannelDeps) => NotificationChannel }): ChannelFactory {
  return { ...f, create: (o, d) => f.create(o as O, d) };
}

export const CHANNELS = {
  email: factory({
    schema: EmailOptions,
    templates: EMAIL_TEMPLATES,
    levels: ['warning', 'critical'],
    preview: { host: 'localhost', from: 'Vigil <vigil@localhost>' },
    description: 'email over SMTP: subject, text and HTML parts',
    create: emailChannel,
  }),
  sms: factory({
    schema: SmsOptions,
    templates: SMS_TEMPLATES,
    levels: ['critical'],
    preview: { accountSid: 'AC00000000000000000000000000000000', authToken: 'preview', from: '+15550000000' },
    description: 'SMS through Twilio',
    create: smsChannel,
  }),
  slack: factory({
    schema: SlackOptions,
    templates: SLACK_TEMPLATES,
    levels: ALL,
    preview: { url: 'https://hooks.slack.com/services/preview' },
    description: 'a Slack incoming webhook',
    create: slackChannel,
  }),
  discord: factory({
    schema: DiscordOptions,
    templates: DISCORD_TEMPLATES,
    levels: ALL,
    preview: { url: 'https://discord.com/api/webhooks/preview' },
    description: 'a Discord channel webhook',
    create: discordChannel,
  }),
  webhook: factory({
    schema: WebhookOptions,
    templates: {},
    levels: ALL,
    preview: { url: 'http://localhost/preview' },
    description: "Alertmanager's webhook payload (version 4) POSTed as JSON",
    create: webhookChannel,
  }),
  github: factory<GithubChannelConfig>({
    schema: GithubChannelSchema,
    templates: {},
    levels: ['critical'],
    preview: { repo: 'acme/preview', token: 'preview' },
    description: 'one GitHub issue per alert (or per error fingerprint)',
    create: (options, deps) => githubChannel(resolveGithubToken(options, deps.source ?? `channel ${deps.name}`), { name: deps.name, ...(deps.source ? { source: deps.source } : {}), ...(deps.now ? { now: deps.now } : {}) }),
  }),
  console: factory({
    schema: ConsoleOptions,
    templates: CONSOLE_TEMPLATES,
    levels: ALL,
    preview: {},
    description: 'stdout: a title and indented text, or one JSON line',
    create: consoleChannel,
  }),
  file: factory({
    schema: FileOptions,
    templates: FILE_TEMPLATES,
    levels: ALL,
    preview: {},
    description: 'one JSON line per notification appended to a file',
    create: fileChannel,
  }),
} as const satisfies Record<string, ChannelFactory>;

export type ChannelKind = keyof typeof CHANNELS;

/** Every channel kind, in the registry's order. */
export const CHANNEL_KINDS = Object.keys(CHANNELS) as ChannelKind[];

export function isChannelKind(kind: string): kind is ChannelKind {
  return Object.hasOwn(CHANNELS, kind);
}

/** `email, sms, ..., file`: for messages and usage texts. */
export function channelKindList(separator = ', '): string {
  return CHANNEL_KINDS.join(separator);
}

/** The kinds each level goes to when no route is configured: each kind's `levels`. */
export function kindsForLevel(level: AlertSeverity): ChannelKind[] {
  return CHANNEL_KINDS.filter((k) => CHANNELS[k].levels.includes(level));
}

/** Every channel's default templates, by `<kind>.<part>`: what the template registry starts from. */
export function defaultTemplates(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of CHANNEL_KINDS) Object.assign(out, CHANNELS[kind].templates);
  return out;
}

/** The registry of `notifier.templates` over every channel's defaults; a ConfigError names each bad template. */
export function templateRegistryFromConfig(config: Partial<TemplatesConfig> = {}, source = 'notifier.templates'): TemplateRegistry {
  return compileTemplateRegistry(config, { defaults: defaultTemplates(), source });
}

/**
 * A channel from its kind and raw options (as in the config file): options checked against the
 * kind's schema (defaults filled, durations decoded), problems as a ConfigError naming `source.<key>`.
 */
export function createChannel(kind: string, options: unknown, deps: ChannelDeps & { source: string }): NotificationChannel {
  if (!isChannelKind(kind)) throw new ConfigError([`${deps.source}: unknown channel kind "${kind}" (use one of ${channelKindList()})`]);
  const f: ChannelFactory = CHANNELS[kind];
  return f.create(checkSection(f.schema, options, deps.source), deps);
}
