import { ConfigError, logger, requireStorage, type Role, type RoleContext, type Subscription, type VigilConfig } from '@vigil/platform';
import { channelsFromConfig, type Channel } from './channels/index.js';
import { notifierMetrics } from './metrics.js';
import { DeliveryLedger } from './pipeline/ledger.js';
import { notificationPipeline } from './pipeline/pipeline.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './pipeline/retry.js';
import { compileTemplates, type CompiledTemplates } from './templates/templates.js';

export interface NotifierOptions {
  /** Replaces the channels the config enables (embedding, tests). */
  channels?: Channel[];
  retry?: Partial<RetryPolicy>;
  /** Alerts delivered side by side within a batch; default 16. */
  concurrency?: number;
}

const log = logger('notifier');

/**
 * Checks the notifier section beyond its schema: templates compile, channels can be built
 * (no network). One ConfigError with every problem, for `vigil validate` and the role's start.
 */
export function checkNotifierConfig(config: VigilConfig, source = 'config'): { templates: CompiledTemplates; channels: Channel[] } {
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
  const templates = attempt(() => compileTemplates(config.notifier.templates, `${source}: notifier.templates`));
  const channels = attempt(() => channelsFromConfig(config.notifier, `${source}: notifier`));
  if (problems.length > 0 || !templates || !channels) throw new ConfigError(problems);
  return { templates, channels };
}

/**
 * The notifier role: reads alert transitions from `kafka.topics.alerts` as consumer group
 * `notifier.groupId` and delivers each one to every enabled channel once. Templates and
 * channels are checked here, so a bad one stops the start with a ConfigError.
 */
export function createNotifierRole(ctx: RoleContext, options: NotifierOptions = {}): Role {
  const storage = requireStorage(ctx, 'notifier');
  const config = ctx.config.notifier;
  const { alerts, dlq } = ctx.config.kafka.topics;
  const checked = checkNotifierConfig(ctx.config);
  const templates = checked.templates;
  const channels = options.channels ?? checked.channels;
  const names = channels.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`notifier: two channels are named "${twice}"; channel names key the delivery ledger and must be unique`);
  const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const metrics = notifierMetrics(ctx.telemetry.meter);

  let subscription: Subscription | undefined;
  let stopping: AbortController | undefined;

  return {
    name: 'notifier',
    async start() {
      if (subscription) return;
      await ctx.bus.ensureTopics([{ name: alerts }, { name: dlq }]);
      const producer = await ctx.bus.producer();
      stopping = new AbortController();
      const handler = notificationPipeline({
        channels,
        templates,
        ledger: new DeliveryLedger(storage, names),
        deadLetters: (records) => producer.send(dlq, records),
        metrics,
        retry,
        concurrency: options.concurrency ?? 16,
        signal: stopping.signal,
      });
      subscription = await ctx.bus.subscribe({ groupId: config.groupId, topics: [alerts], handler });
      if (channels.length === 0) log.warn({ topic: alerts }, 'no notification channel is enabled: transitions are read and dropped (enable notifier.console or add notifier.webhooks)');
      log.info({ topic: alerts, group: config.groupId, channels: names }, 'notifier started');
    },
    async stop() {
      // No new attempt or retry wait starts; a send in flight finishes and is recorded. What is left is redelivered to the next start.
      stopping?.abort();
      await subscription?.stop();
      subscription = undefined;
      log.info('notifier stopped');
    },
  };
}
