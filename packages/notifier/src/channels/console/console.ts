import type { StaticDecode } from '@sinclair/typebox';
import type { AlertNotification, NotificationChannel, RenderedMessage } from '../../model.js';
import type { ChannelDeps } from '../channel.js';
import type { ConsoleOptions } from './config.js';

/**
 * Channel "console": notifications on stdout, for the all-in-one process and for trying rules
 * out. This is product output, not a log line, so it bypasses the logger.
 */

export type ConsoleChannelOptions = StaticDecode<typeof ConsoleOptions>;
export type ConsoleFormat = ConsoleChannelOptions['format'];

/** `text`: the title, then the body indented by two spaces. `json`: one JSON object on one line. */
export function formatConsole(n: AlertNotification, m: RenderedMessage, format: ConsoleFormat): string {
  const title = m.title ?? '';
  const text = m.text ?? '';
  if (format === 'json') {
    return `${JSON.stringify({ key: n.key, receiver: n.receiver, status: n.status, severity: n.severity, title, text, alerts: n.alerts })}\n`;
  }
  const body = text === '' ? '' : `${text.replace(/^/gm, '  ')}\n`;
  return `${title}\n${body}`;
}

function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(chunk, (err) => (err ? reject(err) : resolve())));
}

export function consoleChannel(options: ConsoleChannelOptions, deps: ChannelDeps & { write?: (chunk: string) => Promise<void> }): NotificationChannel {
  const write = deps.write ?? writeStdout;
  const render = (n: AlertNotification): RenderedMessage => ({
    title: deps.templates.render('console', 'title', n),
    text: deps.templates.render('console', 'text', n),
  });
  return {
    kind: 'console',
    name: deps.name,
    render,
    send: (n) => write(formatConsole(n, render(n), options.format)),
  };
}
