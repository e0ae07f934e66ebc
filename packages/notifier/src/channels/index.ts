import { ConfigError, type VigilConfig } from '@vigil/platform';
import type { Channel } from './channel.js';
import { consoleChannel } from './console/console.js';
import { webhookChannel } from './webhook/webhook.js';

export * from './channel.js';
export { classifyHttpStatus, parseRetryAfter, httpStatusError, type HttpOutcome } from './http-response.js';
export { consoleChannel, formatConsole, type ConsoleChannelOptions, type ConsoleFormat } from './console/console.js';
export { webhookChannel, webhookBody, webhookTarget, type WebhookOptions } from './webhook/webhook.js';

/** The channels the config enables, one line per kind. Throws a ConfigError for one that cannot work. */
export function channelsFromConfig(config: VigilConfig['notifier'], source = 'notifier'): Channel[] {
  const channels: Channel[] = [];
  const problems: string[] = [];
  if (config.console.enabled) channels.push(consoleChannel({ format: config.console.format }));
  config.webhooks.forEach((w, i) => {
    try {
      channels.push(webhookChannel(w, { source: `${source}.webhooks[${i}]` }));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return channels;
}
