import type { Channel, Notification } from '../channel.js';

// The per-transition console channel of the walking skeleton, kept until the pipeline delivers AlertNotifications.

/**
 * Channel "console": notifications on stdout, for the all-in-one process and for trying rules
 * out. This is product output, not a log line, so it bypasses the logger.
 */

type ConsoleFormat = 'text' | 'json';

export interface LegacyConsoleOptions {
  format: ConsoleFormat;
  /** Where lines go; stdout by default. */
  write?: (chunk: string) => Promise<void>;
}

/** `text`: the title, then the body indented by two spaces. `json`: one JSON object on one line. */
export function legacyFormatConsole(n: Notification, format: ConsoleFormat): string {
  if (format === 'json') return `${JSON.stringify({ ...n.alert, title: n.title, text: n.text })}\n`;
  const body = n.text === '' ? '' : `${n.text.replace(/^/gm, '  ')}\n`;
  return `${n.title}\n${body}`;
}

function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(chunk, (err) => (err ? reject(err) : resolve())));
}

export function legacyConsoleChannel(opts: LegacyConsoleOptions): Channel {
  const write = opts.write ?? writeStdout;
  return {
    name: 'console',
    send: (n) => write(legacyFormatConsole(n, opts.format)),
  };
}
