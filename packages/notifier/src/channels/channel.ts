import type { TemplateRegistry } from '../templates/registry.js';

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
  /** What precedes option keys in ConfigErrors, e.g. `vigil.yaml: notifier.receivers[0].slack[0]`. */
  source?: string;
  /** Base of relative paths (file channel). */
  dataDir?: string;
}
