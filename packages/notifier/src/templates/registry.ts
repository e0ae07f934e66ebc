import { readdirSync, readFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import Handlebars from 'handlebars';
import { ConfigError, type AlertTransition } from '@vigil/platform';
import type { AlertNotification } from '../model.js';
import type { TemplatesConfig } from './config.js';
import { BUILTIN_PARTIALS } from './defaults.js';
import { isTimeZone, join, severityColour, severityEmoji, timeIn, truncate } from './format.js';
import { duration, number, percent, upper } from './templates.js';
import { notificationOf, notificationRule, notificationView, type NotificationView } from './view.js';

/**
 * The notification templates of one notifier: each channel's defaults, replaced by name from
 * `notifier.templates` (files in `dir`, then `overrides`). Everything is compiled and tried on
 * sample notifications when the registry is built, so a bad template stops the config load with
 * the file or key and the line, never a delivery.
 *
 * Names are `<channel>.<part>` (slack.title, email.html), `<rule>.<channel>.<part>` for one rule,
 * or `<part>` for every channel. A notification whose alerts all come from one rule uses that
 * rule's templates first.
 */
export interface TemplateRegistry {
  /** Renders `<channel>.<part>` for `n`. Titles come out on one line; texts without trailing blanks. */
  render(channel: string, part: string, n: AlertNotification): string;
  /** Which template `render` would use: a file, a config key or `default <channel>.<part>`. */
  origin(channel: string, part: string, n: AlertNotification): string;
}

export interface TemplateRegistryOptions {
  /** Each channel's default templates, by `<channel>.<part>`. */
  defaults: Record<string, string>;
  /** What precedes keys in error messages, e.g. `vigil.yaml: notifier.templates`. */
  source?: string;
}

/** Handlebars helpers usable in every template. */
export const HELPER_NAMES = ['upper', 'lower', 'percent', 'number', 'time', 'duration', 'severityColour', 'severityColor', 'severityEmoji', 'truncate', 'join', 'eq'] as const;

/** Label maps whose keys have dots (OpenTelemetry names): `{{labels.host.name}}` reads the label `host.name`. */
const DOTTED_MAPS = new Set(['labels', 'commonLabels', 'groupLabels']);

function dottedLabelNames<T>(node: T): T {
  if (Array.isArray(node)) node.forEach(dottedLabelNames);
  else if (node !== null && typeof node === 'object') {
    const n = node as { type?: string; data?: boolean; parts?: string[] };
    if (n.type === 'PathExpression' && !n.data && n.parts && n.parts.length > 2 && DOTTED_MAPS.has(n.parts[0]!)) {
      n.parts = [n.parts[0]!, n.parts.slice(1).join('.')];
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc') dottedLabelNames(v);
  }
  return node;
}

interface Entry {
  name: string;
  origin: string;
  text: string;
}

interface Compiled {
  origin: string;
  fn: (view: NotificationView) => string;
}

/** `line N: reason` from a Handlebars parse or compile error, on one line. */
export function describeTemplateError(err: unknown): string {
  const e = err as Error & { lineNumber?: number };
  let message = e.message ?? String(err);
  let line = e.lineNumber;
  const m = /^Parse error on line (\d+):\s*/.exec(message);
  if (m) {
    line = Number(m[1]);
    message = `parse error: ${message.slice(m[0].length)}`;
  }
  message = message.replace(/\s*\n\s*/g, ' ').replace(/ - \d+:\d+$/, '');
  return `${line !== undefined ? `line ${line}: ` : ''}${message}`;
}

const SAMPLE_ALERTS: AlertTransition[] = [
  {
    fingerprint: '0123456789abcdef',
    status: 'firing',
    severity: 'critical',
    labels: { alertname: 'cpu_high', 'host.name': 'web-1', 'vigil.category': 'host' },
    annotations: { summary: 'CPU is high', description: 'CPU above 90%' },
    startsAt: '2024-05-01T12:00:00.000Z',
    value: 0.93,
    rule: 'cpu_high',
    window: 60_000,
  },
  {
    fingerprint: 'fedcba9876543210',
    status: 'resolved',
    severity: 'warning',
    labels: { alertname: 'cpu_high', 'host.name': 'web-2', 'vigil.category': 'host' },
    annotations: {},
    startsAt: '2024-05-01T11:00:00.000Z',
    endsAt: '2024-05-01T11:05:30.000Z',
    value: 0.41,
    rule: 'cpu_high',
    window: 60_000,
  },
];

/** Notifications every template is tried on at load: a group with firing and resolved alerts, and one resolved alert. */
export const SAMPLE_NOTIFICATIONS: AlertNotification[] = [
  notificationOf(SAMPLE_ALERTS, { receiver: 'sample', createdAt: '2024-05-01T12:01:00.000Z', externalUrl: 'http://localhost:8080' }),
  notificationOf([SAMPLE_ALERTS[1]!], { receiver: 'sample', createdAt: '2024-05-01T11:06:00.000Z' }),
];

function parseName(name: string): { rule?: string; channel?: string; part: string } {
  const bits = name.split('.');
  const part = bits.pop()!;
  const channel = bits.pop();
  const rule = bits.length > 0 ? bits.join('.') : undefined;
  return { ...(rule !== undefined ? { rule } : {}), ...(channel !== undefined ? { channel } : {}), part };
}

function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `["${key}"]`;
}

/** Reads `<name>.hbs` and `<name>.partial.hbs` from a directory; a missing or unreadable one is a ConfigError. */
function readTemplateDir(dir: string, at: string): { templates: Entry[]; partials: Entry[] } {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.hbs')).sort();
  } catch (err) {
    throw new ConfigError([`${at}.dir: cannot read the template directory ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  const templates: Entry[] = [];
  const partials: Entry[] = [];
  for (const f of files) {
    const path = joinPath(dir, f);
    const text = readFileSync(path, 'utf8');
    if (f.endsWith('.partial.hbs')) partials.push({ name: f.slice(0, -'.partial.hbs'.length), origin: path, text });
    else templates.push({ name: f.slice(0, -'.hbs'.length), origin: path, text });
  }
  return { templates, partials };
}

/**
 * Builds the registry from `notifier.templates`. Throws a ConfigError listing every template
 * that does not parse, uses an unknown helper or partial, fails on a sample notification, or has
 * a name no channel uses.
 */
export function compileTemplateRegistry(config: Partial<TemplatesConfig>, opts: TemplateRegistryOptions): TemplateRegistry {
  const at = opts.source ?? 'notifier.templates';
  const problems: string[] = [];
  const timeZone = config.timeZone ?? 'UTC';
  if (!isTimeZone(timeZone)) problems.push(`${at}.timeZone: "${timeZone}" is not a time zone this system knows (use an IANA name such as UTC or Europe/Paris)`);

  const hb = Handlebars.create();
  const helper = (name: string, fn: (args: unknown[], hash: Record<string, unknown>) => unknown) =>
    hb.registerHelper(name, (...args: unknown[]) => {
      const options = args.pop() as { hash?: Record<string, unknown> };
      return fn(args, options.hash ?? {});
    });
  helper('upper', ([v]) => upper(v));
  helper('lower', ([v]) => String(v ?? '').toLowerCase());
  helper('percent', ([v]) => percent(v));
  helper('number', ([v]) => number(v));
  helper('time', ([v], hash) => timeIn(v, typeof hash.tz === 'string' ? hash.tz : timeZone));
  helper('duration', ([a, b]) => duration(a, b));
  helper('severityColour', ([s, st]) => severityColour(s, st));
  helper('severityColor', ([s, st]) => severityColour(s, st));
  helper('severityEmoji', ([s, st]) => severityEmoji(s, st));
  helper('truncate', ([v, n]) => truncate(v, n));
  helper('join', ([v, sep]) => join(v, sep));
  helper('eq', ([a, b]) => a === b);

  const knownHelpers = Object.fromEntries(HELPER_NAMES.map((h) => [h, true]));
  const compileOptions = (part: string) => ({ noEscape: part !== 'html', knownHelpers, knownHelpersOnly: true });

  const parse = (e: Entry) => {
    try {
      return dottedLabelNames(hb.parse(e.text));
    } catch (err) {
      problems.push(`${e.origin}: ${describeTemplateError(err)}`);
      return undefined;
    }
  };

  // Partials are compiled when first used, with the options of the template using them (so they
  // escape inside html parts only); this makes that compilation read dotted label names too.
  const compileText = hb.compile.bind(hb);
  hb.compile = ((input: unknown, options?: Parameters<typeof Handlebars.compile>[1]) =>
    compileText((typeof input === 'string' ? dottedLabelNames(hb.parse(input)) : input) as string, options)) as typeof hb.compile;
  const partial = (e: Entry) => {
    if (parse(e)) hb.registerPartial(e.name, e.text);
  };
  for (const [name, text] of Object.entries(BUILTIN_PARTIALS)) partial({ name, origin: `built-in partial ${name}`, text });
  const fromDir = config.dir !== undefined ? readTemplateDir(config.dir, at) : { templates: [], partials: [] };
  for (const p of fromDir.partials) partial(p);

  // Parts each channel renders, from the defaults: a user template must name one of them.
  const channelParts = new Map<string, Set<string>>();
  for (const name of Object.keys(opts.defaults)) {
    const { channel, part } = parseName(name);
    if (!channel) continue;
    if (!channelParts.has(channel)) channelParts.set(channel, new Set());
    channelParts.get(channel)!.add(part);
  }
  const allParts = new Set([...channelParts.values()].flatMap((s) => [...s]));

  const compiled = new Map<string, Compiled>();
  const compile = (e: Entry, checkName: boolean) => {
    const { channel, part } = parseName(e.name);
    if (checkName) {
      if (channel === undefined ? !allParts.has(part) : !channelParts.get(channel)?.has(part)) {
        const known = [...channelParts].map(([c, parts]) => [...parts].map((p) => `${c}.${p}`).join(', ')).join(', ');
        problems.push(`${e.origin}: no channel renders a template named "${e.name}" (name it <channel>.<part>, <rule>.<channel>.<part> or <part>; channel parts: ${known})`);
        return;
      }
    }
    const ast = parse(e);
    if (!ast) return;
    try {
      hb.precompile(ast, compileOptions(part));
      const fn = hb.compile<NotificationView>(ast, compileOptions(part));
      // compile() is lazy and partials resolve only at run time: render samples now.
      for (const s of SAMPLE_NOTIFICATIONS) {
        for (const c of channel !== undefined ? [channel] : [...channelParts.keys()]) fn(notificationView(s, c));
      }
      compiled.set(e.name, { origin: e.origin, fn });
    } catch (err) {
      problems.push(`${e.origin}: ${describeTemplateError(err)} (helpers: ${HELPER_NAMES.join(', ')}; partials: ${Object.keys(hb.partials).join(', ')})`);
    }
  };

  // Later wins: defaults, then files, then config overrides.
  for (const [name, text] of Object.entries(opts.defaults)) compile({ name, origin: `default ${name}`, text }, false);
  const user = new Map<string, Compiled>();
  for (const e of fromDir.templates) {
    compile(e, true);
    const c = compiled.get(e.name);
    if (c && c.origin === e.origin) user.set(e.name, c);
  }
  for (const [name, text] of Object.entries(config.overrides ?? {})) {
    compile({ name, origin: `${at}.overrides${quoteKey(name)}`, text }, true);
    const c = compiled.get(name);
    if (c && c.origin.startsWith(`${at}.overrides`)) user.set(name, c);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const pick = (channel: string, part: string, n: AlertNotification): Compiled => {
    const rule = notificationRule(n);
    const candidates = [...(rule ? [`${rule}.${channel}.${part}`] : []), `${channel}.${part}`, part];
    for (const c of candidates) {
      const t = user.get(c);
      if (t) return t;
    }
    const d = compiled.get(`${channel}.${part}`);
    if (!d) throw new Error(`no template ${channel}.${part}: the channel ${channel} has no default for the part ${part}`);
    return d;
  };

  return {
    render(channel, part, n) {
      const out = pick(channel, part, n).fn(notificationView(n, channel));
      return part === 'title' ? out.replace(/\s*[\r\n]+\s*/g, ' ').trim() : out.trimEnd();
    },
    origin: (channel, part, n) => pick(channel, part, n).origin,
  };
}
