import type { AlertTransition } from '@vigil/platform';
import type { TemplateRegistry } from '../templates/registry.js';

/** One transition, rendered, on its way to one channel. */
export interface Notification {
  /** The delivery key, `transitionKey(alert)`: the same for every replay of this transition. */
  key: string;
  alert: AlertTransition;
  title: string;
  text: string;
}

/**
 * Where notifications go. A channel sends once and throws on failure; retrying, deduplication
 * and recording are stages around it (see pipeline/), so a new channel is one folder with one
 * `send`.
 */
export interface Channel {
  /** Unique among the channels, stable across restarts: it is part of the ledger's key (`console`, `webhook:ops`). */
  readonly name: string;
  send(notification: Notification): Promise<void>;
}

/**
 * A send that failed, and whether trying again can help. Any other error thrown by a channel
 * counts as transient.
 */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  readonly status: number | undefined;
  /** The receiver asked to wait this long before the next attempt (HTTP Retry-After). */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, opts: { permanent: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DeliveryError';
    this.permanent = opts.permanent;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** What every channel factory gets besides its own options: `<kind>Channel(options, deps)`. */
export interface ChannelDeps {
  /** The channel's unique, stable name (see NotificationChannel.name). */
  name: string;
  /** Where the channel's texts come from (templates/registry.ts). */
  templates: TemplateRegistry;
  /** HTTP channels call this; tests and proxies can replace it. */
  fetch?: typeof fetch;
  /** Clock for Retry-After dates and signature timestamps. */
  now?: () => number;
}
