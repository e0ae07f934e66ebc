import { readFile } from 'node:fs/promises';
import { ConfigError, decodeAlert, loadConfigFile, type AlertTransition } from '@vigil/platform';
import { CHANNELS, channelKindList, createChannel, isChannelKind, templateRegistryFromConfig, type ChannelKind } from './channels/registry.js';
import { checkNotifierConfig } from './config/build.js';
import type { AlertNotification, RenderedMessage } from './model.js';
import { notificationOf } from './templates/view.js';

/**
 * `vigil template render --channel KIND --alert FILE [--config FILE] [--format text|json]`: what a
 * channel would send for a sample, without sending it (each kind's preview options from the
 * channel registry). The sample is one alert transition, an array of them (one group), or a
 * whole AlertNotification.
 */

export const TEMPLATE_USAGE = `vigil template render --channel ${channelKindList('|')} --alert sample.json [--config FILE] [--format text|json]`;

interface Args {
  channel: ChannelKind;
  alert: string;
  config?: string;
  format: 'text' | 'json';
}

function parseArgs(argv: string[]): Args | string {
  if (argv[0] !== 'render') return argv[0] === undefined ? 'missing subcommand render' : `unknown subcommand "${argv[0]}"`;
  const out: Partial<Args> = { format: 'text' };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--channel') {
      const kind = value() ?? '';
      if (!isChannelKind(kind)) return `--channel "${kind}" is not a channel kind (use one of ${channelKindList()})`;
      out.channel = kind;
    }
    else if (flag === '--alert') out.alert = value();
    else if (flag === '--config' || flag === '-c') out.config = value();
    else if (flag === '--format') {
      const f = value();
      if (f !== 'text' && f !== 'json') return `--format is text or json, not "${f}"`;
      out.format = f;
    } else return `unknown option ${a}`;
  }
  if (!out.channel) return '--channel is required';
  if (!out.alert) return '--alert is required (a JSON file with one alert transition, an array of them, or a notification)';
  return out as Args;
}

/** The notification a sample file describes. Throws an Error naming the file and what is wrong. */
export function sampleNotification(json: unknown, file: string): AlertNotification {
  const transition = (v: unknown, at: string): AlertTransition => {
    try {
      return decodeAlert(Buffer.from(JSON.stringify(v)));
    } catch (err) {
      throw new Error(`${file}: ${at}: ${(err as Error).message}`);
    }
  };
  if (Array.isArray(json)) {
    if (json.length === 0) throw new Error(`${file}: the array has no alert transition`);
    const alerts = json.map((v, i) => transition(v, `[${i}]`));
    return notificationOf(alerts, { createdAt: latest(alerts) });
  }
  if (json !== null && typeof json === 'object' && Array.isArray((json as { alerts?: unknown }).alerts) && 'receiver' in json) {
    const n = json as AlertNotification;
    return { ...n, alerts: n.alerts.map((a, i) => transition(a, `alerts[${i}]`)) };
  }
  const a = transition(json, 'the alert');
  return notificationOf([a], { createdAt: latest([a]) });
}

/** The preview's time: the latest instant in the sample, so the output does not depend on when it runs. */
function latest(alerts: AlertTransition[]): string {
  let max = 0;
  for (const a of alerts) max = Math.max(max, Date.parse(a.startsAt), a.endsAt ? Date.parse(a.endsAt) : 0);
  return new Date(max).toISOString();
}

export function formatRendered(m: RenderedMessage, format: 'text' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(m, null, 2)}\n`;
  const parts: string[] = [];
  if (m.title !== undefined) parts.push(`--- title\n${m.title}`);
  if (m.text !== undefined) parts.push(`--- text\n${m.text}`);
  if (m.html !== undefined) parts.push(`--- html\n${m.html.trimEnd()}`);
  if (m.json !== undefined) parts.push(`--- json\n${JSON.stringify(m.json, null, 2)}`);
  return `${parts.join('\n\n')}\n`;
}

export interface TemplateCommandIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export async function templateCommand(argv: string[], io: TemplateCommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`vigil template: ${args}\nusage: ${TEMPLATE_USAGE}\n`);
    return 2;
  }
  try {
    // With a config: its templates as the notifier would build them (checked like the rest of the section).
    const registry = args.config ? checkNotifierConfig(await loadConfigFile(args.config), args.config).templates : templateRegistryFromConfig({}, 'defaults: notifier.templates');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(args.alert, 'utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`${args.alert}: ${e.code ? `cannot read it (${e.code})` : `not JSON (${e.message})`}`);
    }
    const n = sampleNotification(json, args.alert);
    const channel = createChannel(args.channel, CHANNELS[args.channel].preview, { name: `preview/${args.channel}`, templates: registry, source: `preview ${args.channel}` });
    io.stdout.write(formatRendered(channel.render(n), args.format));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`invalid configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 2;
    }
    io.stderr.write(`vigil template: ${(err as Error).message}\n`);
    return 1;
  }
}
