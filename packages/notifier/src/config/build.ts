import { Value } from '@sinclair/typebox/value';
import { checkSection, ConfigError, type VigilConfig } from '@vigil/platform';
import { githubChannel, githubChannelConfig } from '../channels/github/index.js';
import { CHANNELS, createChannel, legacyConsoleChannel, legacyWebhookChannel, templateRegistryFromConfig } from '../channels/index.js';
import type { ChannelKind, NotificationChannel } from '../model.js';
import { RouteConfig, type ChildRouteConfig } from '../routing/config.js';
import { DEFAULT_RECEIVERS, defaultReceiverChannels, defaultRoutes } from '../routing/routes.js';
import type { TemplateRegistry } from '../templates/registry.js';
import { compileTemplates } from '../templates/templates.js';
import { perTransition } from './legacy.js';
import { CHANNEL_KINDS, NotifierConfig } from './schema.js';

/** A receiver as the pipeline uses it: its channels, built. */
export interface Receiver {
  name: string;
  channels: NotificationChannel[];
  sendResolved: boolean;
  fallback?: string;
  /** Each transition once per channel, whatever group it comes in (the implicit receiver of notifier.console and notifier.webhooks). */
  perTransition?: boolean;
}

export interface NotifierSetup {
  /** The section, checked and decoded (durations in ms). */
  settings: NotifierConfig;
  templates: TemplateRegistry;
  /** Every receiver routes can name, the implicit ones included. */
  receivers: Map<string, Receiver>;
  /** The configured receiver a channel belongs to: its sendResolved and fallback apply to it wherever it is routed. */
  owners: Map<string, Receiver>;
  /** The effective route tree (configured, default by level, or the implicit receiver's). */
  route: RouteConfig;
  /** How the route was chosen, for the start log and docs. */
  routing: 'configured' | 'by-level' | 'implicit';
}

export interface SetupOptions {
  /** Base of relative paths (file channel). */
  dataDir?: string;
  /** Replaces the channels of the implicit receiver (embedding, tests). */
  channels?: NotificationChannel[];
}

/** The implicit receiver: `notifier.console` and `notifier.webhooks`, while no receivers are configured. */
export const IMPLICIT_RECEIVER = 'default';

/**
 * Checks the notifier section and builds what it describes (no network): one ConfigError with
 * every problem, each naming its key under `<source>: notifier`. Used by `vigil validate` and at
 * the role's start.
 */
export function checkNotifierConfig(config: VigilConfig, source = 'config', opts: SetupOptions = {}): NotifierSetup {
  const at = `${source}: notifier`;
  const raw = (config.notifier ?? {}) as Record<string, unknown>;
  // The platform's schema already checked and decoded these (durations are numbers now); the rest is ours.
  const { groupId, console: legacyConsole, webhooks, ...rest } = config.notifier;
  const settings = checkSection(NotifierConfig, rest, at);
  settings.groupId = groupId;
  settings.console = legacyConsole;
  settings.webhooks = webhooks;
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
      return undefined;
    }
  };

  const { title, body, ...registryConfig } = settings.templates;
  const templates = attempt(() => templateRegistryFromConfig(registryConfig, `${at}.templates`));
  const legacyTemplates = attempt(() => compileTemplates({ title, body }, `${at}.templates`));

  const receivers = new Map<string, Receiver>();
  const owners = new Map<string, Receiver>();
  const rawReceivers = Array.isArray(raw.receivers) ? (raw.receivers as Record<string, unknown>[]) : [];
  settings.receivers.forEach((r, ri) => {
    const rat = `${at}.receivers[${ri}]`;
    if (receivers.has(r.name)) problems.push(`${rat}.name: receiver "${r.name}" is defined twice (names must be unique)`);
    const receiver: Receiver = { name: r.name, channels: [], sendResolved: r.sendResolved, ...(r.fallback !== undefined ? { fallback: r.fallback } : {}) };
    for (const kind of CHANNEL_KINDS) {
      const options = (rawReceivers[ri]?.[kind] as unknown[] | undefined) ?? [];
      options.forEach((o, i) => {
        if (!templates) return;
        const name = `${r.name}/${kind}[${i}]`;
        const source = `${rat}.${kind}[${i}]`;
        const channel = attempt(() =>
          // channels/github/ is not in the CHANNELS registry (yet): built here from its own config check.
          kind === 'github' && !CHANNELS.github
            ? githubChannel(githubChannelConfig(o, source), { name, source })
            : createChannel(kind, o, { name, templates, source, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) }),
        );
        if (channel) {
          receiver.channels.push(channel);
          owners.set(channel.name, receiver);
        }
      });
    }
    if (receiver.channels.length === 0 && !problems.some((p) => p.startsWith(rat))) {
      problems.push(`${rat}: receiver "${r.name}" has no channel (add email, sms, slack, discord, webhook, github, console or file entries)`);
    }
    receivers.set(r.name, receiver);
  });

  let route: RouteConfig;
  let routing: NotifierSetup['routing'];
  if (settings.receivers.length === 0) {
    // Before receivers existed every transition went to every channel at once: per alert, no wait.
    routing = 'implicit';
    const implicit: Receiver = { name: IMPLICIT_RECEIVER, channels: opts.channels ?? [], sendResolved: true, perTransition: true };
    if (!opts.channels && legacyTemplates) {
      if (settings.console.enabled) implicit.channels.push(perTransition(legacyConsoleChannel({ format: settings.console.format }), 'console', legacyTemplates));
      const names = new Set<string>();
      settings.webhooks.forEach((w, i) => {
        if (names.has(w.name)) problems.push(`${at}.webhooks[${i}].name: "${w.name}" is used twice (give each webhook its own name)`);
        names.add(w.name);
        const channel = attempt(() => legacyWebhookChannel(w, { source: `${at}.webhooks[${i}]` }));
        if (channel) implicit.channels.push(perTransition(channel, 'webhook', legacyTemplates));
      });
    }
    for (const c of implicit.channels) owners.set(c.name, implicit);
    receivers.set(IMPLICIT_RECEIVER, implicit);
    route = settings.route ?? decodeRoute({ receiver: IMPLICIT_RECEIVER, groupBy: ['...'], groupWait: '0s', groupInterval: '1s', repeatInterval: '8760h' });
  } else if (settings.route) {
    routing = 'configured';
    route = settings.route;
  } else {
    // MISSION B: info to Slack; warning to email and Slack; critical to email, SMS and Slack (routing/routes.ts).
    routing = 'by-level';
    const all = [...receivers.values()].flatMap((r) => r.channels);
    const bySeverity = defaultReceiverChannels(all);
    for (const s of ['info', 'warning', 'critical'] as const) {
      receivers.set(DEFAULT_RECEIVERS[s], { name: DEFAULT_RECEIVERS[s], channels: bySeverity[s], sendResolved: true });
    }
    route = defaultRoutes();
  }

  // Every receiver a route or a fallback names must exist.
  const known = (name: string) => receivers.has(name);
  const walk = (r: RouteConfig | ChildRouteConfig, path: string) => {
    if (r.receiver !== undefined && !known(r.receiver)) problems.push(`${path}.receiver: no receiver is named "${r.receiver}" (receivers: ${[...receivers.keys()].join(', ')})`);
    r.routes.forEach((c, i) => walk(c, `${path}.routes[${i}]`));
  };
  if (settings.route) walk(settings.route, `${at}.route`);
  settings.receivers.forEach((r, i) => {
    if (r.fallback === undefined) return;
    if (r.fallback === r.name) problems.push(`${at}.receivers[${i}].fallback: a receiver cannot be its own fallback`);
    else if (!known(r.fallback)) problems.push(`${at}.receivers[${i}].fallback: no receiver is named "${r.fallback}"`);
  });

  if (problems.length > 0 || !templates) throw new ConfigError([...new Set(problems)]);
  return { settings, templates, receivers, owners, route, routing };
}

function decodeRoute(raw: Record<string, unknown>): RouteConfig {
  return Value.Decode(RouteConfig, Value.Default(RouteConfig, raw)) as RouteConfig;
}

/** Kinds of a receiver's channels, for logs. */
export function receiverKinds(r: Receiver): ChannelKind[] {
  return [...new Set(r.channels.map((c) => c.kind))];
}
