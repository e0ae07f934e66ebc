import type { Telemetry } from '@vigil/platform';

type Meter = Telemetry['meter'];

/** The notifier's metrics on /metrics. */
export interface NotifierMetrics {
  /** A delivery skipped because the ledger has it as sent. */
  skipped(channel: string): void;
  /** A delivery sent or given up, and how long it took with its retries. */
  delivered(channel: string, status: 'sent' | 'failed', seconds: number): void;
  /** Records put on the dead-letter topic: undecodable, or a delivery given up. */
  deadLettered(reason: 'undecodable' | 'undeliverable', count: number): void;
  /** A message held back by a rate limit (summarised in the next one the channel sends). */
  rateLimited(channel: string): void;
  /** A notification given up on a channel and handed to its receiver's fallback. */
  fallback(channel: string, fallback: string): void;
  /** Transitions taken from the topic, and notifications flushed by the dispatcher. */
  received(count: number): void;
  flushed(count: number): void;
  /** Time spent in one stage of the path from "published on Kafka" to "delivery recorded" (`vigil_notifier_stage_seconds`). */
  stage(stage: NotifierStage, seconds: number): void;
}

/**
 * The stages of the notification path, in order:
 * - `kafka`: the record's Kafka timestamp → the batch handler starts (fetch, and the wait behind the previous batch);
 * - `decode`, `receive` (dispatcher.receive), `inbox` (insert into vigil_notifier_inbox; the offsets commit after it);
 * - `flush_wait`: a receive woke the flush loop → the flush starts (timer, event loop);
 * - `flush` (dispatcher.flush), `snapshot` (save of vigil_notifier_state, behind the sends);
 * - `send` (one channel, retries included), `ledger` (the delivery row).
 */
export type NotifierStage = 'kafka' | 'decode' | 'receive' | 'inbox' | 'flush_wait' | 'flush' | 'snapshot' | 'send' | 'ledger';

export function notifierMetrics(meter: Meter): NotifierMetrics {
  const notifications = meter.createCounter('vigil_notifier_notifications', {
    description: 'Notifications by channel and outcome: sent, failed (given up), skipped_duplicate (already in the delivery ledger).',
  });
  const latency = meter.createHistogram('vigil_notifier_send_duration_seconds', {
    description: 'Time to deliver one notification to one channel, retries included.',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  });
  const dead = meter.createCounter('vigil_notifier_dead_letters', {
    description: 'Records sent to the dead-letter topic, by reason.',
  });
  const limited = meter.createCounter('vigil_notifier_rate_limited', { description: 'Messages held back by a rate limit, by channel.' });
  const fallbacks = meter.createCounter('vigil_notifier_fallbacks', { description: 'Notifications given up on a channel and handed to the fallback receiver.' });
  const transitions = meter.createCounter('vigil_notifier_transitions_received', { description: 'Alert transitions taken from the alerts topic.' });
  const groups = meter.createCounter('vigil_notifier_groups_flushed', { description: 'Notifications (groups for a receiver) the dispatcher flushed.' });
  const stages = meter.createHistogram('vigil_notifier_stage_seconds', {
    description: 'Time per stage of the notification path (kafka, decode, receive, inbox, flush_wait, flush, snapshot, send, ledger).',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10] },
  });
  const stageAttrs = new Map<NotifierStage, { stage: NotifierStage }>();
  return {
    rateLimited: (channel) => limited.add(1, { channel }),
    fallback: (channel, fallback) => fallbacks.add(1, { channel, fallback }),
    received: (count) => transitions.add(count),
    flushed: (count) => groups.add(count),
    skipped: (channel) => notifications.add(1, { channel, outcome: 'skipped_duplicate' }),
    delivered: (channel, status, seconds) => {
      notifications.add(1, { channel, outcome: status });
      latency.record(seconds, { channel, outcome: status });
    },
    deadLettered: (reason, count) => dead.add(count, { reason }),
    stage: (stage, seconds) => {
      let attrs = stageAttrs.get(stage);
      if (!attrs) stageAttrs.set(stage, (attrs = { stage }));
      stages.record(seconds, attrs);
    },
  };
}
