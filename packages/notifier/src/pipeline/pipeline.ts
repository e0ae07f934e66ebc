import { logger, type AlertTransition, type Batch, type BatchHandler, type BusRecord } from '@vigil/platform';
import type { Channel, Notification } from '../channels/channel.js';
import type { NotifierMetrics } from '../metrics.js';
import { compileTemplates, renderNotification, type CompiledTemplates } from '../templates/templates.js';
import { deadLetter, decodeRecord, type Arrival } from './decode.js';
import { dedupDecision } from './dedup.js';
import { deliveryRow, type DeliveryLedger } from './ledger.js';
import { inArrivalOrderBy, runGroups } from './order.js';
import { sendWithRetry, type RetryPolicy } from './retry.js';

/**
 * The notification pipeline, composed here and only here:
 *
 *   alert arrived ─► decode ─► render ─► for each channel: dedup ─► send with retry ─► record
 *                      │                                                               │
 *                      └─ undecodable: dead-letter topic        given up: dead-letter topic
 *
 * A batch resolves only once every delivery of every record in it is recorded (sent or failed),
 * so the bus commits its offsets after the deliveries and never before.
 */

export interface PipelineDeps {
  channels: Channel[];
  templates: CompiledTemplates;
  ledger: DeliveryLedger;
  /** Puts records on the dead-letter topic. */
  deadLetters: (records: BusRecord[]) => Promise<void>;
  metrics: NotifierMetrics;
  retry: RetryPolicy;
  /** Alerts delivered side by side within a batch. */
  concurrency: number;
  /** Aborted when the role stops. */
  signal: AbortSignal;
}

type Arrived = Extract<Arrival, { ok: true }>;

const log = logger('notifier');

export function notificationPipeline(deps: PipelineDeps): BatchHandler {
  const render = renderStage(deps.templates);

  async function deliver(arrived: Arrived, deadline: number): Promise<void> {
    const notification = render(arrived);
    await settleAll(deps.channels.map((channel) => deliverTo(channel, notification, arrived, deadline)));
  }

  async function deliverTo(channel: Channel, n: Notification, arrived: Arrived, deadline: number): Promise<void> {
    if (dedupDecision((k, c) => deps.ledger.isSent(k, c), n.key, channel.name) === 'skip') {
      deps.metrics.skipped(channel.name);
      return;
    }
    const started = performance.now();
    const outcome = await sendWithRetry(channel, n, { policy: deps.retry, deadline, signal: deps.signal });
    deps.metrics.delivered(channel.name, outcome.status, (performance.now() - started) / 1000);
    await deps.ledger.record(deliveryRow(n, channel.name, outcome, Date.now()));
    if (outcome.status === 'failed') {
      log.warn({ channel: channel.name, fingerprint: n.alert.fingerprint, rule: n.alert.rule, status: n.alert.status, attempts: outcome.attempts, err: outcome.error }, 'gave up delivering a notification; it is on the dead-letter topic');
      await deps.deadLetters([deadLetter(arrived.record, outcome.error, channel.name)]);
      deps.metrics.deadLettered('undeliverable', 1);
    }
  }

  return async (batch: Batch) => {
    const deadline = Date.now() + deps.retry.budgetMs;
    const arrivals = batch.records.map(decodeRecord);

    const rejected = arrivals.filter((a): a is Extract<Arrival, { ok: false }> => !a.ok);
    if (rejected.length > 0) {
      for (const r of rejected) log.warn({ topic: r.record.topic, partition: r.record.partition, offset: r.record.offset, err: r.error }, 'undecodable record; it is on the dead-letter topic');
      await deps.deadLetters(rejected.map((r) => deadLetter(r.record, r.error)));
      deps.metrics.deadLettered('undecodable', rejected.length);
    }

    const arrived = arrivals.filter((a): a is Arrived => a.ok);
    if (arrived.length === 0) return;
    await deps.ledger.load(arrived.map((a) => a.key));
    await runGroups(inArrivalOrderBy(arrived, (a) => a.alert.fingerprint), deps.concurrency, (a) => deliver(a, deadline));
  };
}

/** Stage "render". A template that fails at run time on an odd transition falls back to the defaults rather than losing the notification. */
function renderStage(templates: CompiledTemplates): (arrived: Arrived) => Notification {
  const defaults = compileTemplates();
  const texts = (alert: AlertTransition) => {
    try {
      return renderNotification(alert, templates);
    } catch (err) {
      log.warn({ fingerprint: alert.fingerprint, rule: alert.rule, err: (err as Error).message }, 'notification template failed; using the default templates');
      return renderNotification(alert, defaults);
    }
  };
  return ({ alert, key }) => ({ key, alert, ...texts(alert) });
}

/** Waits for every promise, then rejects with the first failure: nothing is left running when a batch fails. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
