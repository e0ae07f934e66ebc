import {
  broadcastTopic,
  ChangelogStore,
  changelogTopic,
  encodeAlert,
  logger,
  requireStorage,
  watchConsumer,
  type AlertTransition,
  type PartitionListener,
  type Role,
  type RoleContext,
  type Storage,
  type Subscription,
} from '@vigil/platform';
import { PostedAlerts } from './api/alertmanager-model.js';
import { checkNotifierConfig as buildSetup, receiverKinds, type NotifierSetup, type SetupOptions } from './config/build.js';
import { notifierMetrics, type NotifierMetrics } from './metrics.js';
import { Deliverer } from './pipeline/deliver.js';
import { Inbox } from './pipeline/inbox.js';
import { DeliveryLedger } from './pipeline/ledger.js';
import { NotificationPipeline } from './pipeline/pipeline.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './pipeline/retry.js';
import { SharedSilences, type SilenceSaver } from './pipeline/shared-silences.js';
import { SilenceStore, SnapshotStore } from './pipeline/state.js';
import { compileRouting, type CompiledRouting } from './routing/compile.js';
import { Dispatcher } from './routing/dispatcher.js';
import { RateLimiter } from './pipeline/ratelimit.js';
import { AlertPartitions, decodeAlertEntry, encodeAlertEntry } from './pipeline/partitions.js';
import type { AlertEntry } from './routing/dispatcher.js';

/** How long a rebalance (or a stop) waits for notifications in flight, so the next owner knows they went out. */
const HANDOVER_WAIT_MS = 5_000;

export interface NotifierOptions {
  retry?: Partial<RetryPolicy>;
  /** How long attempts in flight may run on after stop() before they are cancelled; default 5s. */
  stopGraceMs?: number;
}

/** What the notifier's HTTP API works with (api/). */
export interface NotifierServices {
  setup: NotifierSetup;
  storage: Storage;
  ledger: DeliveryLedger;
  deliverer: Deliverer;
  dispatcher: Dispatcher;
  routing: CompiledRouting;
  /** Silences made or expired through the API: shared with every instance of the group, kept in the history. */
  silenceStore: SilenceSaver;
  metrics: NotifierMetrics;
  /** Alerts posted by Prometheus to the Alertmanager-compatible API, with their timeouts. */
  posted: PostedAlerts;
  /** Puts transitions on the alerts topic (keyed by fingerprint), where every notifier instance and the alert history take them. */
  publish(transitions: readonly AlertTransition[]): Promise<void>;
}

export interface NotifierRole extends Role {
  readonly services: NotifierServices;
}

const log = logger('notifier');

/**
 * Checks the notifier section (schema, channels, templates, routes, receivers): one ConfigError
 * with every problem, each naming its key. For `vigil validate` and the role's start.
 */
export function checkNotifierConfig(config: RoleContext['config'], source = 'config', opts: SetupOptions = {}): NotifierSetup & { compiled: CompiledRouting } {
  const setup = buildSetup(config, source, opts);
  const s = setup.settings;
  const compiled = compileRouting(
    { route: setup.route, ...(s.inhibitRules ? { inhibitRules: s.inhibitRules } : {}), timeIntervals: s.timeIntervals, silences: s.silences },
    `${source}: notifier`,
  );
  return { ...setup, compiled };
}

/**
 * The notifier role: reads alert transitions from `kafka.topics.alerts` as consumer group
 * `notifier.groupId`, records them in the inbox, groups them in the dispatcher and delivers
 * what it flushes to the receivers' channels, each notification once per channel.
 */
export function createNotifierRole(ctx: RoleContext, options: NotifierOptions = {}): NotifierRole {
  const storage = requireStorage(ctx, 'notifier');
  const { alerts, dlq } = ctx.config.kafka.topics;
  const setup = checkNotifierConfig(ctx.config, 'config', { dataDir: ctx.config.dataDir });
  const settings = setup.settings;
  const retry: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    maxAttempts: settings.delivery.retry.maxAttempts,
    baseDelayMs: settings.delivery.retry.initialBackoff,
    maxDelayMs: settings.delivery.retry.maxBackoff,
    budgetMs: settings.delivery.giveUpAfter,
    ...options.retry,
  };
  const metrics = notifierMetrics(ctx.telemetry.meter);
  const routing = setup.compiled;
  const dispatcher = new Dispatcher({ routes: routing.routes, inhibitRules: routing.inhibitRules, timeIntervals: routing.timeIntervals, silences: routing.silences });
  const rateLimiter = new RateLimiter(settings.rateLimits);
  const ledger = new DeliveryLedger(storage);
  const silenceStore = new SharedSilences({
    bus: ctx.bus,
    topic: broadcastTopic(settings.groupId, 'silences'),
    silences: routing.silences,
    history: new SilenceStore(storage),
    now: () => Date.now(),
  });
  const stateStore = new ChangelogStore<AlertEntry>({ bus: ctx.bus, topic: changelogTopic(settings.groupId), source: alerts, name: 'notifier', encode: encodeAlertEntry, decode: decodeAlertEntry });
  const partitions = new AlertPartitions(dispatcher, stateStore);
  const stopping = new AbortController();
  const grace = new AbortController();
  const deliverer = new Deliverer({ receivers: setup.receivers, owners: setup.owners, ledger, rateLimiter, metrics, retry, signal: stopping.signal, abortAttempts: grace.signal });
  const pipeline = new NotificationPipeline({
    dispatcher,
    rateLimiter,
    deliverer,
    inbox: new Inbox(storage, settings.groupId),
    snapshots: new SnapshotStore(storage, settings.groupId),
    ledger,
    partitions,
    deadLetters: async (records) => {
      const producer = await ctx.bus.producer();
      await producer.send(dlq, records);
    },
    metrics,
    ...(settings.externalUrl ? { externalUrl: settings.externalUrl } : {}),
  });

  let subscription: Subscription | undefined;
  let unwatch: (() => void) | undefined;
  let started = false;
  let expiry: NodeJS.Timeout | undefined;

  const posted = new PostedAlerts(settings.resolveTimeout);
  const publish = async (transitions: readonly AlertTransition[]): Promise<void> => {
    if (transitions.length === 0) return;
    const producer = await ctx.bus.producer();
    await producer.send(alerts, transitions.map((t) => ({ key: t.fingerprint, value: encodeAlert(t) })));
  };
  /** Resolves posted alerts not sent again in time; a resolve the bus refuses is tried again on the next round. */
  const expirePosted = (): void => {
    const due = posted.expire(Date.now());
    if (due.length === 0) return;
    publish(due).then(
      () => log.info({ resolved: due.length }, 'posted alerts not sent again in time: resolved'),
      (err: Error) => {
        posted.putBack(due);
        log.warn({ alerts: due.length, err: err.message }, 'cannot publish the resolves of timed-out posted alerts; retrying');
      },
    );
  };

  /**
   * Partition ownership (the bus's listener). Revoked: flushing pauses, notifications in flight get
   * a few seconds to go out, then the alerts' entries are written. Assigned: alerts of partitions
   * gone are forgotten, new ones taken from the changelog; flushing resumes.
   */
  const ownership: PartitionListener = {
    revoked: async () => {
      await pipeline.pause();
      if (!(await pipeline.settled(HANDOVER_WAIT_MS))) log.warn({ waitedMs: HANDOVER_WAIT_MS }, 'partitions revoked with notifications still in flight; the next owner may send them again (same key)');
      await partitions.revoked();
    },
    assigned: async (tps, info) => {
      await pipeline.pause();
      const r = await partitions.assigned(
        tps.filter((tp) => tp.topic === alerts).map((tp) => tp.partition),
        Date.now(),
        info?.afresh === true,
      );
      pipeline.resume();
      log.info({ group: settings.groupId, partitions: [...partitions.partitions].sort((a, b) => a - b), restored: r.restored, forgotten: r.forgotten }, 'notifier partitions assigned');
    },
  };

  return {
    name: 'notifier',
    services: { setup, storage, ledger, deliverer, dispatcher, routing, silenceStore, metrics, posted, publish },
    async start() {
      if (started) return;
      started = true;
      await ctx.bus.ensureTopics([{ name: alerts }, { name: dlq }]);
      const now = Date.now();
      // Every instance's silences before the first alert is taken.
      const silences = await silenceStore.open();
      // Every partition's alert state (a standby), so an assignment is a lookup.
      await stateStore.open();
      // What was sent lately, in memory: the delivery path then asks no query before a send.
      const known = await ledger.preload(now - 86_400_000);
      const restored = await pipeline.restore();
      // Posted alerts the notifier already had time out from now unless Prometheus sends them again.
      posted.seed(dispatcher.alerts(), Date.now());
      expiry = setInterval(expirePosted, 5_000);
      expiry.unref?.();
      // No flush before the first assignment says which alerts are this instance's.
      await pipeline.pause();
      pipeline.start();
      // Pipelined: a partition's next alerts are fetched and dispatched while the inbox insert and
      // changelog write of earlier ones run; their offsets are committed in order behind.
      subscription = await ctx.bus.subscribe({ groupId: settings.groupId, topics: [alerts], handler: pipeline.intake, partitions: ownership, pipeline: 16 });
      unwatch = watchConsumer({ name: 'notifier', group: settings.groupId, subscription, health: ctx.health, meter: ctx.telemetry.meter });
      const receivers = [...setup.receivers.values()].map((r) => `${r.name}(${receiverKinds(r).join('+') || 'none'})`);
      if ([...setup.receivers.values()].every((r) => r.channels.length === 0)) {
        log.warn({ topic: alerts }, 'no notification channel is configured: transitions are read and dropped (add notifier.receivers, or enable notifier.console)');
      }
      for (const d of setup.deprecations) log.warn(d);
      log.info({ topic: alerts, group: settings.groupId, routing: setup.routing, receivers, silences, restoredAlerts: restored.alerts, snapshot: restored.snapshot, notifiedAfterSnapshot: restored.notified, outbox: restored.outbox, knownDeliveries: known }, 'notifier started');
    },
    async stop() {
      if (!started) return;
      started = false;
      // Taking in stops first (what was not committed is redelivered to the next start), then the
      // flush loop; no new attempt or retry wait starts; attempts in flight get a grace period.
      if (expiry) clearInterval(expiry);
      unwatch?.();
      await subscription?.stop();
      subscription = undefined;
      await pipeline.stop();
      stopping.abort();
      const timer = setTimeout(() => grace.abort(), options.stopGraceMs ?? 5_000);
      await deliverer.drain();
      clearTimeout(timer);
      // The outbox as the drain left it (what was cut short by the stop is resent by the next start).
      await pipeline.persist();
      await stateStore.close();
      await silenceStore.close();
      log.info('notifier stopped');
    },
  };
}
