import type { TSchema } from '@sinclair/typebox';
import { checkSection, ConfigError } from '@vigil/platform';
import type { ChannelKind, NotificationChannel } from '../model.js';
import type { TemplatesConfig } from '../templates/config.js';
import { compileTemplateRegistry, type TemplateRegistry } from '../templates/registry.js';
import type { ChannelDeps } from './channel.js';
import { ConsoleOptions } from './console/config.js';
import { consoleChannel } from './console/console.js';
import { CONSOLE_TEMPLATES } from './console/templates.js';
import { FileOptions } from './file/config.js';
import { fileChannel } from './file/file.js';
import { FILE_TEMPLATES } from './file/templates.js';
import { DiscordOptions } from './discord/config.js';
import { discordChannel } from './discord/discord.js';
import { DISCORD_TEMPLATES } from './discord/templates.js';
import { EmailOptions } from './email/config.js';
import { emailChannel } from './email/email.js';
import { EMAIL_TEMPLATES } from './email/templates.js';
import { SlackOptions } from './slack/config.js';
import { slackChannel } from './slack/slack.js';
import { SLACK_TEMPLATES } from './slack/templates.js';
import { SmsOptions } from './sms/config.js';
import { smsChannel } from './sms/sms.js';
import { SMS_TEMPLATES } from './sms/templates.js';
import { WebhookOptions } from './webhook/config.js';
import { webhookChannel } from './webhook/webhook.js';

export * from './channel.js';
export { classifyHttpStatus, parseRetryAfter, httpStatusError, type HttpOutcome } from './http-response.js';
export { post, receiverName } from './http-send.js';
export { ConsoleOptions } from './console/config.js';
export { consoleChannel, formatConsole, type ConsoleChannelOptions, type ConsoleFormat } from './console/console.js';
export { FileOptions } from './file/config.js';
export { fileChannel, fileLine, type FileChannelOptions } from './file/file.js';
export { EmailOptions } from './email/config.js';
export { emailChannel, emailMessageId, smtpError, type EmailChannelOptions } from './email/email.js';
export { EMAIL_HTML } from './email/templates.js';
export { SmsOptions } from './sms/config.js';
export { smsChannel, twilioError, type SmsChannelOptions } from './sms/sms.js';
export { SlackOptions } from './slack/config.js';
export { slackChannel, slackPayload, slackEscape, type SlackChannelOptions } from './slack/slack.js';
export { DiscordOptions } from './discord/config.js';
export { discordChannel, discordPayload, discordError, type DiscordChannelOptions } from './discord/discord.js';
export { WebhookOptions } from './webhook/config.js';
export { webhookChannel, webhookPayload, webhookSignature, type WebhookChannelOptions, type WebhookPayload } from './webhook/webhook.js';
export { legacyConsoleChannel, legacyFormatConsole } from './console/legacy.js';
export { legacyWebhookChannel, legacyWebhookBody, webhookTarget } from './webhook/legacy.js';

/** What a factory may get besides ChannelDeps: where config problems are reported, the data directory (file channel). */
export interface FactoryDeps extends ChannelDeps {
  /** What precedes option keys in ConfigErrors, e.g. `vigil.yaml: notifier.receivers[0].slack[0]`. */
  source?: string;
  /** Base of relative paths (file channel). */
  dataDir?: string;
}

/**
 * One channel kind: its options schema (defaults and descriptions, checked with checkSection),
 * its default templates, and its factory. Adding a kind is one folder and one line in CHANNELS.
 */
export interface ChannelFactory {
  kind: ChannelKind;
  schema: TSchema;
  /** Default templates by `<kind>.<part>`. */
  templates: Record<string, string>;
  create(options: unknown, deps: FactoryDeps): NotificationChannel;
}

function factory<S extends TSchema, O>(kind: ChannelKind, schema: S, templates: Record<string, string>, create: (o: O, d: FactoryDeps) => NotificationChannel): ChannelFactory {
  return { kind, schema, templates, create: (o, d) => create(o as O, d) };
}

/** Every channel kind but github (channels/github/ registers itself here when it lands). */
export const CHANNELS: Partial<Record<ChannelKind, ChannelFactory>> = {
  email: factory('email', EmailOptions, EMAIL_TEMPLATES, emailChannel),
  sms: factory('sms', SmsOptions, SMS_TEMPLATES, smsChannel),
  slack: factory('slack', SlackOptions, SLACK_TEMPLATES, slackChannel),
  discord: factory('discord', DiscordOptions, DISCORD_TEMPLATES, discordChannel),
  console: factory('console', ConsoleOptions, CONSOLE_TEMPLATES, consoleChannel),
  file: factory('file', FileOptions, FILE_TEMPLATES, fileChannel),
  webhook: factory('webhook', WebhookOptions, {}, webhookChannel),
};

/** Every channel's default templates, by `<kind>.<part>`: what the template registry starts from. */
export function defaultTemplates(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of Object.values(CHANNELS)) Object.assign(out, f.templates);
  return out;
}

/** The registry of `notifier.templates` over every channel's defaults; a ConfigError names each bad template. */
export function templateRegistryFromConfig(config: Partial<TemplatesConfig> = {}, source = 'notifier.templates'): TemplateRegistry {
  return compileTemplateRegistry(config, { defaults: defaultTemplates(), source });
}

/**
 * A channel from its kind and raw options (as in the config file): options checked against the
 * kind's schema (defaults filled, durations decoded), problems as a ConfigError naming `at.<key>`.
 */
export function createChannel(kind: string, options: unknown, deps: FactoryDeps & { source: string }): NotificationChannel {
  const f = (CHANNELS as Record<string, ChannelFactory | undefined>)[kind];
  if (!f) throw new ConfigError([`${deps.source}: unknown channel kind "${kind}" (use one of ${Object.keys(CHANNELS).join(', ')})`]);
  return f.create(checkSection(f.schema, options, deps.source), deps);
}

// The template registry the channels render with, for the role, the API's preview and `vigil template render`.
export { TemplatesConfig } from '../templates/config.js';
export { compileTemplateRegistry, describeTemplateError, HELPER_NAMES, SAMPLE_NOTIFICATIONS, type TemplateRegistry, type TemplateRegistryOptions } from '../templates/registry.js';
export { notificationOf, notificationView, notificationRule, CATEGORY_LABEL, type NotificationView, type AlertView } from '../templates/view.js';
export { GROUP_TITLE, GROUP_TEXT, BUILTIN_PARTIALS } from '../templates/defaults.js';
export { severityColour, severityColourInt, severityEmoji, truncate, join, timeIn, SEVERITY_COLOURS, SEVERITY_EMOJI } from '../templates/format.js';
export { templateCommand, sampleNotification, formatRendered, TEMPLATE_USAGE } from '../templates/cli.js';
