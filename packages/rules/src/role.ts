import {
  backoffDelay,
  encodeAlert,
  logger,
  metricPoints,
  sleep,
  type AlertTransition,
  type Batch,
  type BusProducer,
  type Role,
  type RoleContext,
  type Subscription,
} from '@vigil/platform';
import { RuleEngine } from './engine.js';
import { loadFiringAlerts } from './restore.js';
import { effectiveRules, type Rule } from './rules.js';

const log = logger('rules');

/** Transitions kept while the bus refuses them; beyond this the oldest are dropped and counted. */
const OUTBOX_LIMIT = 10_000;

export interface RulesRoleOptions {
  /** The clock evaluations run on (default Date.now); tests pass their own. */
  now?: () => number;
  /** Rules to run instead of those the config gives (defaults + `rules.rules`). */
  rules?: readonly Rule[];
}

export interface RulesRole extends Role {
  /**
   * Evaluates every rule now and publishes the transitions (also what the timer does). Resolves
   * with this evaluation's transitions once they are on the bus; rejects when the bus refused
   * them (they stay queued and go out with the next evaluation).
   */
  evaluateNow(): Promise<AlertTransition[]>;
  /** The engine, for diagnostics and tests. */
  readonly engine: RuleEngine;
}

/**
 * The rules worker: consumes `otlp_metrics` as its own consumer group into sliding windows and
 * every `rules.evaluationInterval` publishes alert transitions on `vigil.alerts`, keyed by
 * fingerprint. Alert state survives restarts through the alert history in ClickHouse: what was
 * firing is taken over, so it is resolved later and not announced twice. Window contents are
 * not persisted; they refill from the metrics stream (the group resumes at its committed offsets).
 */
export function createRulesRole(ctx: RoleContext, opts: RulesRoleOptions = {}): RulesRole {
  const { config, bus, storage, telemetry } = ctx;
  const now = opts.now ?? Date.now;
  const rules = opts.rules ?? effectiveRules(config.rules);
  const engine = new RuleEngine(rules);
  const topics = config.kafka.topics;

  const m = telemetry.meter;
  const pointsIn = m.createCounter('vigil_rules_points_consumed', { description: 'Metric data points decoded from the metrics topic.' });
  const samplesIn = m.createCounter('vigil_rules_samples', { description: 'Data points taken into a rule window.' });
  const samplesDropped = m.createCounter('vigil_rules_samples_dropped', { description: 'Matching data points not taken: older than the window, or without a scalar value.' });
  const undecodable = m.createCounter('vigil_rules_records_undecodable', { description: 'Metrics records that could not be decoded (ingest sends them to the dead-letter topic).' });
  const evaluations = m.createCounter('vigil_rules_evaluations', { description: 'Evaluations of all rules.' });
  const transitionsOut = m.createCounter('vigil_rules_transitions', { description: 'Alert transitions published, by status and severity.' });
  const transitionsDropped = m.createCounter('vigil_rules_transitions_dropped', { description: 'Alert transitions dropped because the bus refused them for too long.' });
  const evalMs = m.createHistogram('vigil_rules_evaluation_duration', { unit: 'ms', description: 'Time to evaluate all rules once.' });
  const firingGauge = m.createObservableGauge('vigil_rules_alerts_firing', { description: 'Alerts currently firing.' });
  const groupsGauge = m.createObservableGauge('vigil_rules_groups', { description: 'Groups held in rule windows.' });
  const outboxGauge = m.createObservableGauge('vigil_rules_outbox', { description: 'Transitions waiting for the bus.' });

  let outbox: AlertTransition[] = [];
  let producer: Promise<BusProducer> | undefined;
  let subscription: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const stopping = new AbortController();
  /** Evaluations run one at a time, in order (timer and evaluateNow share this chain). */
  let chain: Promise<unknown> = Promise.resolve();

  const observe: Parameters<typeof m.addBatchObservableCallback>[0] = (r) => {
    r.observe(firingGauge, engine.firingCount());
    r.observe(groupsGauge, engine.groupCount());
    r.observe(outboxGauge, outbox.length);
  };

  async function handle(batch: Batch): Promise<void> {
    const at = now();
    for (const record of batch.records) {
      let points;
      try {
        points = metricPoints(record.value);
      } catch (err) {
        // Skipped and counted only: ingest consumes the same topic and sends poison to the
        // dead-letter topic; doing it here too would make two entries for one record.
        undecodable.add(1);
        log.debug({ topic: batch.topic, partition: batch.partition, offset: record.offset, err: (err as Error).message }, 'skipping a metrics record that does not decode');
        continue;
      }
      pointsIn.add(points.length);
      const r = engine.ingest(points, at, record.timestamp);
      if (r.accepted > 0) samplesIn.add(r.accepted);
      if (r.dropped > 0) samplesDropped.add(r.dropped);
    }
  }

  async function publish(): Promise<void> {
    if (outbox.length === 0) return;
    const sending = outbox;
    producer ??= bus.producer();
    await (await producer).send(
      topics.alerts,
      sending.map((t) => ({ key: t.fingerprint, value: encodeAlert(t) })),
    );
    outbox = outbox.slice(sending.length);
    for (const t of sending) {
      transitionsOut.add(1, { status: t.status, severity: t.severity });
      log.info({ rule: t.rule, fingerprint: t.fingerprint, status: t.status, severity: t.severity, startsAt: t.startsAt }, `alert ${t.status}`);
    }
  }

  function evaluate(): Promise<AlertTransition[]> {
    const run = chain.then(async () => {
      const started = performance.now();
      const transitions = engine.evaluate(now());
      evaluations.add(1);
      evalMs.record(performance.now() - started);
      outbox.push(...transitions);
      if (outbox.length > OUTBOX_LIMIT) {
        const over = outbox.length - OUTBOX_LIMIT;
        outbox = outbox.slice(over);
        transitionsDropped.add(over);
        log.error({ dropped: over, topic: topics.alerts }, 'the bus has refused alert transitions for too long; dropped the oldest');
      }
      await publish();
      return transitions;
    });
    chain = run.catch(() => undefined);
    return run;
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      evaluate()
        .catch((err: Error) => log.warn({ topic: topics.alerts, queued: outbox.length, err: err.message }, 'could not publish alert transitions; retrying at the next evaluation'))
        .finally(schedule);
    }, config.rules.evaluationInterval);
  }

  /** Retries until ClickHouse answers or the role stops: evaluating without the history would page twice or lose resolves. */
  async function restore(): Promise<void> {
    if (!storage) return;
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      try {
        const alerts = await loadFiringAlerts(storage);
        engine.restore(alerts, now());
        log.info({ firing: alerts.length }, 'restored firing alerts from the alert history');
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, 500, 15_000);
        log.warn({ err: (err as Error).message, retryInMs: delay }, `cannot read firing alerts from ${storage.table('vigil_alerts')}; evaluation waits for it (check ClickHouse)`);
        await sleep(delay, stopping.signal);
      }
    }
  }

  return {
    name: 'rules',
    engine,
    evaluateNow: evaluate,
    async start() {
      await bus.ensureTopics([{ name: topics.metrics }, { name: topics.alerts }]);
      m.addBatchObservableCallback(observe, [firingGauge, groupsGauge, outboxGauge]);
      subscription = await bus.subscribe({ groupId: config.rules.groupId, topics: [topics.metrics], handler: handle });
      await restore();
      if (stopping.signal.aborted) return;
      running = true;
      schedule();
      log.info({ rules: rules.map((r) => r.name), intervalMs: config.rules.evaluationInterval, group: config.rules.groupId }, 'rules worker started');
    },
    async stop() {
      running = false;
      stopping.abort();
      if (timer) clearTimeout(timer);
      await subscription?.stop();
      subscription = undefined;
      await chain;
      m.removeBatchObservableCallback(observe, [firingGauge, groupsGauge, outboxGauge]);
      if (outbox.length > 0) log.warn({ queued: outbox.length, topic: topics.alerts }, 'stopping with alert transitions not yet published');
    },
  };
}
