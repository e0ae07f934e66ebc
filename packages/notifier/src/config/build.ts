import { Value } from '@sinclair/typebox/value';
import { checkSection, ConfigError, formatDuration, type VigilConfig } from '@vigil/platform';
import { CHANNEL_KINDS, channelKindList, createChannel, kindsForLevel, templateRegistryFromConfig, type ChannelKind } from '../channels/registry.js';
import type { NotificationChannel, Receiver } from '../model.js';
import { RouteConfig, type ChildRouteConfig } from '../routing/config.js';
import { DEFAULT_RECEIVERS, defaultRoutes } from '../routing/routes.js';
import type { TemplatesConfig } from '../templates/config.js';
import type { TemplateRegistry } from '../templates/registry.js';
import { NotifierConfig } from './schema.js';

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
  /** Keys written the old way that still work, each with what to write instead (logged at start). */
  deprecations: string[];
}

export interface SetupOptions {
  /** Base of relative paths (file channel). */
  dataDir?: string;
}

/** The implicit receiver: `notifier.console` and `notifier.webhooks`, while no receivers are configured. */
export const IMPLICIT_RECEIVER = 'default';

/**
 * The old keys' templates (`notifier.templates.title`/`.body`, written over one alert) as the
 * console channel's: each alert of the notification rendered in turn.
 */
function sugarTemplates(t: NotifierConfig['templates']): Partial<TemplatesConfig> {
  const { title, body, ...rest } = t;
  const overrides = { ...rest.overrides };
  if (title !== undefined) overrides['console.title'] ??= `{{#with alert}}${title}{{/with}}`;
  if (body !== undefined) overrides['console.text'] ??= `{{#each alerts}}{{#unless @first}}\n\n{{/unless}}${body}{{/each}}`;
  return { ...rest, overrides };
}

/**
 * Checks the notifier section and builds what it describes (no network): one ConfigError with
 * every problem, each naming its key under `<source>: notifier`. Used by `vigil validate` and at
 * the role's start. The platform leaves the section open: it is all checked here.
 */
export function checkNotifierConfig(config: VigilConfig, source = 'config', opts: SetupOptions = {}): NotifierSetup {
  const at = `${source}: notifier`;
  const raw = (config.notifier ?? {}) as Record<string, unknown>;
  const settings = checkSection(NotifierConfig, raw, at);
  const problems: string[] = [];
  const deprecations: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
      return undefined;
    }
  };

  const sugar = settings.receivers.length === 0;
  const templates = attempt(() => templateRegistryFromConfig(sugarTemplates(settings.templates), `${at}.templates`));
  if (settings.templates.title !== undefined || settings.templates.body !== undefined) {
    deprecations.push(`${at}.templates.title/.body: deprecated; write templates.overrides["console.title"] and ["console.text"] (they see the whole notification: {{#each alerts}})`);
  }

  const receivers = new Map<string, Receiver>();
  const owners = new Map<string, Receiver>();
  const rawReceivers = Array.isArray(raw.receivers) ? (raw.receivers as Record<string, unknown>[]) : [];
  const build = (kind: ChannelKind, options: unknown, name: string, where: string): NotificationChannel | undefined =>
    templates ? attempt(() => createChannel(kind, options, { name, templates, source: where, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) })) : undefined;
  settings.receivers.forEach((r, ri) => {
    const rat = `${at}.receivers[${ri}]`;
    if (receivers.has(r.name)) problems.push(`${rat}.name: receiver "${r.name}" is defined twice (names must be unique)`);
    const receiver: Receiver = { name: r.name, channels: [], sendResolved: r.sendResolved, ...(r.fallback !== undefined ? { fallback: r.fallback } : {}) };
    for (const kind of CHANNEL_KINDS) {
      // The raw options: each channel checks its own against its schema, so problems name its keys.
      const options = (rawReceivers[ri]?.[kind] as unknown[] | undefined) ?? [];
      options.forEach((o, i) => {
        const channel = build(kind, o, `${r.name}/${kind}[${i}]`, `${rat}.${kind}[${i}]`);
        if (!channel) return;
        receiver.channels.push(channel);
        owners.set(channel.name, receiver);
      });
    }
    if (receiver.channels.length === 0 && !problems.some((p) => p.startsWith(rat))) {
      problems.push(`${rat}: receiver "${r.name}" has no channel (add ${channelKindList()} entries)`);
    }
    receivers.set(r.name, receiver);
  });
  if (!sugar && (settings.webhooks.length > 0 || raw.console !== undefined)) {
    deprecations.push(`${at}: console and webhooks are ignored while receivers are configured; move them into a receiver (console: [{ format: ${settings.console.format} }], webhook: [{ url: ... }])`);
  }

  let route: RouteConfig;
  let routing: NotifierSetup['routing'];
  if (sugar) {
    // Sugar for the keys from before receivers: one receiver of a console and webhook channels,
    // each alert notified on its own and at once, as they always were.
    routing = 'implicit';
    const implicit: Receiver = { name: IMPLICIT_RECEIVER, channels: [], sendResolved: true };
    if (settings.console.enabled) {
      const c = build('console', { format: settings.console.format }, 'console', `${at}.console`);
      if (c) implicit.channels.push(c);
    }
    const names = new Set<string>();
    settings.webhooks.forEach((w, i) => {
      if (names.has(w.name)) problems.push(`${at}.webhooks[${i}].name: "${w.name}" is used twice (give each webhook its own name)`);
      names.add(w.name);
      const c = build('webhook', { url: w.url, headers: w.headers, timeout: formatDuration(w.timeout) }, `webhook:${w.name}`, `${at}.webhooks[${i}]`);
      if (c) implicit.channels.push(c);
    });
    if (settings.webhooks.length > 0) {
      deprecations.push(`${at}.webhooks: deprecated; configure a receiver with webhook channels (receivers: [{ name: ops, webhook: [{ url: ... }] }]). The body is Alertmanager's webhook payload (version 4), one alert per request`);
    }
    if (raw.console !== undefined) deprecations.push(`${at}.console: deprecated; configure a receiver with a console channel (receivers: [{ name: ops, console: [{ format: text }] }])`);
    for (const c of implicit.channels) owners.set(c.name, implicit);
    receivers.set(IMPLICIT_RECEIVER, implicit);
    route = settings.route ?? decodeRoute({ receiver: IMPLICIT_RECEIVER, groupBy: ['...'], groupWait: '0s', groupInterval: '1s', repeatInterval: '8760h' });
  } else if (settings.route) {
    routing = 'configured';
    route = settings.route;
  } else {
    // MISSION B: info to Slack; warning to email and Slack; critical to email, SMS and Slack; each kind's levels in the registry.
    routing = 'by-level';
    const all = [...receivers.values()].flatMap((r) => r.channels);
    for (const s of ['info', 'warning', 'critical'] as const) {
      const kinds = kindsForLevel(s);
      receivers.set(DEFAULT_RECEIVERS[s], { name: DEFAULT_RECEIVERS[s], channels: all.filter((c) => (kinds as string[]).includes(c.kind)), sendResolved: true });
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
  return { settings, templates, receivers, owners, route, routing, deprecations };
}

function decodeRoute(raw: Record<string, unknown>): RouteConfig {
  return Value.Decode(RouteConfig, Value.Default(RouteConfig, raw)) as RouteConfig;
}

/** Kinds of a receiver's channels, for logs. */
export function receiverKinds(r: Receiver): string[] {
  return [...new Set(r.channels.map((c) => c.kind))];
}
