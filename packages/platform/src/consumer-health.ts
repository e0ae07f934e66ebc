import type { Meter } from '@opentelemetry/api';
import type { DependencyState } from './health.js';
import type { HealthRegistry } from './health.js';
import type { Subscription, SubscriptionProgress } from './bus/types.js';
import { describePartitions } from './bus/partitions.js';

/**
 * A consumer that has records to process and does not advance is the failure an operator must
 * see: everything behind it waits. Degraded once it has been stuck `degradedAfterMs`, down (the
 * process not ready) after `downAfterMs`, with the lag and the handler's last error.
 */
export interface StuckThresholds {
  degradedAfterMs: number;
  downAfterMs: number;
}

export const DEFAULT_STUCK: StuckThresholds = { degradedAfterMs: 30_000, downAfterMs: 300_000 };

export function consumerState(p: SubscriptionProgress, now: number, since: number, t: StuckThresholds = DEFAULT_STUCK): DependencyState {
  const lag = `${p.lag} record${p.lag === 1 ? '' : 's'} behind${p.lagBytes !== undefined ? ` (${p.lagBytes} bytes)` : ''}`;
  if (p.lag === 0) return { status: 'up', detail: 'caught up' };
  // Stuck since the last commit, or since it started when it never committed.
  const stuckMs = now - Math.max(p.lastCommitAt, since);
  const error = p.failing ? `; failing for ${Math.round((now - p.failing.since) / 1000)}s (${p.failing.attempts} attempts): ${p.failing.error.slice(0, 300)}` : '';
  if (stuckMs >= t.downAfterMs) return { status: 'down', detail: `${lag}, no progress for ${Math.round(stuckMs / 1000)}s${error}` };
  if (stuckMs >= t.degradedAfterMs) return { status: 'degraded', detail: `${lag}, no progress for ${Math.round(stuckMs / 1000)}s${error}` };
  return { status: 'up', detail: `${lag}${error}` };
}

/**
 * Shows a subscription on /health (as `name`, with the partitions it serves) and its lag and
 * partitions on /metrics (`vigil_consumer_lag_records{group}`, `vigil_consumer_partitions{group}`),
 * for an orchestrator to scale on; returns a function that stops watching.
 */
export function watchConsumer(opts: { name: string; group: string; subscription: Subscription; health: HealthRegistry; meter: Meter; thresholds?: StuckThresholds; now?: () => number }): () => void {
  const now = opts.now ?? Date.now;
  const since = now();
  const sub = opts.subscription;
  if (!sub.progress) return () => undefined;
  const progress = () => sub.progress!();
  opts.health.register(opts.name, () => {
    const p = progress();
    const state = consumerState(p, now(), since, opts.thresholds);
    return p.assigned ? { ...state, partitions: describePartitions(p.assigned) } : state;
  });
  const lag = opts.meter.createObservableGauge('vigil_consumer_lag_records', { description: 'Records on the consumed topics the consumer group has not committed yet.' });
  const lagBytes = opts.meter.createObservableGauge('vigil_consumer_lag_bytes', { description: 'The same in bytes, where the bus knows it (the local log).', unit: 'By' });
  const partitions = opts.meter.createObservableGauge('vigil_consumer_partitions', { description: 'Topic partitions this instance of the consumer group serves (assigned and restored).' });
  const observe = (r: { observe(g: typeof lag, v: number, a: Record<string, string>): void }) => {
    const p = progress();
    r.observe(lag, p.lag, { group: opts.group });
    if (p.lagBytes !== undefined) r.observe(lagBytes, p.lagBytes, { group: opts.group });
    if (p.assigned) r.observe(partitions, p.assigned.length, { group: opts.group });
  };
  opts.meter.addBatchObservableCallback(observe, [lag, lagBytes, partitions]);
  return () => opts.meter.removeBatchObservableCallback(observe, [lag, lagBytes, partitions]);
}
