import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  ChangelogStore,
  SECONDS_BUCKETS,
  ConfigError,
  backoffDelay,
  broadcastTopic,
  changelogTopic,
  describePartitions,
  encodeAlert,
  loadConfigFile,
  logEntries,
  logHeaders,
  logger,
  metricPoints,
  sleep,
  timeSlices,
  watchConsumer,
  type AlertTransition,
  type Batch,
  type BusProducer,
  type Follower,
  type PartitionListener,
  type Role,
  type RoleContext,
  type Subscription,
  type TopicPartition,
  type AssignmentInfo,
} from '@vigil/platform';
import { checkRulesConfig, loadRuleSet, type RuleSet } from './config.js';
import { RuleEngine, transitionPartition, withPartition, type EngineOptions } from './engine.js';
import { decodeEntry, encodeEntry, takeOver, type AlertEntry } from './ownership.js';
import { loadFiringAlerts } from './restore.js';
import type { RulesSettings } from './schema.js';
import { createSqlRunner, type SqlRunner } from './sql.js';

const log = logger('rules');

/** Transitions kept while the bus refuses them; beyond this the oldest are dropped and counted. */
const OUTBOX_LIMIT = 10_000;
/** How often stalled and silent sources are looked at. */
const TICK_MS = 1_000;

export interface RulesRoleOptions {
  /** The clock (default Date.now); tests pass their own. */
  now?: () => number;
  /** Rules to run instead of those the config gives. */
  ruleSet?: RuleSet;
  /** The config file: a reload reads its rules section again (else only the rule files). */
  configFile?: string;
  /** Watch rule files and reload on change (default true). */
  watchFiles?: boolean;
}

export interface ReloadResult {
  ok: boolean;
  at: string;
  rules: number;
  /** Why the new set was refused (the running one stays). */
  problems?: string[];
}

export interface RulesRole extends Role {
  /**
   * Evaluates what is due now and publishes the transitions (also what the timer does). Resolves
   * with them once they are on the bus; rejects when the bus refused them (they stay queued).
   */
  evaluateNow(): Promise<AlertTransition[]>;
  /** Loads the rules again (SIGHUP, a rule file's change, POST /api/v1/rules/reload); a bad set is refused whole. */
  reload(why?: string): Promise<ReloadResult>;
  /** The last reload's outcome. */
  lastReload(): ReloadResult | undefined;
  /** The engine now running (replaced by a reload). */
  readonly engine: RuleEngine;
  readonly settings: RulesSettings;
  /** sql rules: their last runs. */
  readonly sql: SqlRunner;
}

export function engineOptions(s: RulesSettings): Partial<EngineOptions> {
  return {
    stepMs: s.evaluationInterval,
    maxLatenessMs: s.maxLateness,
    silentAfterMs: s.sources.silentAfter,
    forgetAfterMs: s.sources.forgetAfter,
    sourceSeverity: s.sources.severity,
    flapping: { changes: s.flapping.changes, windowMs: s.flapping.window },
  };
}

/**
 * The rules worker: consumes `otlp_metrics` and `otlp_logs` as its own consumer group, feeds the
 * engine, and publishes alert transitions on `vigil.alerts` keyed by fingerprint, as soon as a
 * batch completes a window (and every second for stalled and silent sources); windows refill from
 * the topics.
 *
 * Alert state belongs to the partition of the alert's source, and lives in the group's changelog
 * (`<groupId>.state`, co-partitioned with `otlp_metrics`): each transition is written there before
 * it is published. A worker given a partition restores its alerts from there (publishing them
 * again, which consumers take as a no-op); one that loses a partition forgets it, after making
 * its writes durable. Reloads asked of one worker (the API, SIGHUP) reach every worker through
 * `<groupId>.reloads`.
 */
export function createRulesRole(ctx: RoleContext, opts: RulesRoleOptions = {}): RulesRole {
  const { config, bus, storage, telemetry } = ctx;
  const now = opts.now ?? Date.now;
  let ruleSet = opts.ruleSet ?? checkRulesConfig(config);
  let engine = new RuleEngine(ruleSet.rules, engineOptions(ruleSet.settings));
  const settings = ruleSet.settings;
  const topics = config.kafka.topics;

  const m = telemetry.meter;
  const recordsIn = m.createCounter('vigil_rules_records_consumed', { description: 'Metric data points and log records decoded, by signal.' });
  const samplesIn = m.createCounter('vigil_rules_samples', { description: 'Samples taken into a rule group.' });
  const samplesDropped = m.createCounter('vigil_rules_samples_dropped', { description: 'Matching data points without a scalar value.' });
  const samplesLate = m.createCounter('vigil_rules_samples_late', { description: 'Samples older than what was already evaluated for their group (after maxLateness): counted, never rewriting a transition.' });
  const undecodable = m.createCounter('vigil_rules_records_undecodable', { description: 'Records that could not be decoded (ingest sends them to the dead-letter topic).' });
  const transitionsOut = m.createCounter('vigil_rules_transitions', { description: 'Alert transitions published, by status and severity.' });
  const transitionsDropped = m.createCounter('vigil_rules_transitions_dropped', { description: 'Alert transitions dropped because the bus refused them for too long.' });
  const takenOver = m.createCounter('vigil_rules_partitions_restored', { description: 'Partitions taken over from the changelog (at start and at rebalances), and the alerts restored with them.' });
  const reloads = m.createCounter('vigil_rules_reloads', { description: 'Rule reloads, by outcome (applied, refused).' });
  const evalSeconds = m.createHistogram('vigil_rules_evaluation_duration_seconds', { unit: 's', description: 'Time to evaluate what a batch or a tick made due.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const firingGauge = m.createObservableGauge('vigil_rules_alerts_firing', { description: 'Alerts currently firing.' });
  const groupsGauge = m.createObservableGauge('vigil_rules_groups', { description: 'Groups held by rules.' });
  const sourcesGauge = m.createObservableGauge('vigil_rules_sources', { description: 'Sources with a watermark.' });
  const outboxGauge = m.createObservableGauge('vigil_rules_outbox', { description: 'Transitions waiting for the bus.' });

  let outbox: AlertTransition[] = [];
  let producer: Promise<BusProducer> | undefined;
  let subscription: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let last: ReloadResult | undefined;
  const watchers: FSWatcher[] = [];
  let watchTimer: NodeJS.Timeout | undefined;
  const stopping = new AbortController();
  /** Offsets handled per topic and partition: a batch delivered again (a rebalance) is not counted twice. */
  const handled = new Map<string, bigint>();
  /** Engine work and publishing run one at a time, in order. */
  let chain: Promise<unknown> = Promise.resolve();
  /** Alert state per source partition (`<groupId>.state`). */
  const store = new ChangelogStore<AlertEntry>({ bus, topic: changelogTopic(settings.groupId), source: topics.metrics, name: 'rules', encode: encodeEntry, decode: decodeEntry });
  /** Partition numbers this worker owns and has restored. */
  let owned = new Set<number>();
  /** Between a revoke and the next assignment: the timer waits (the partitions may be another worker's). */
  let suspended = false;
  let unwatch: (() => void) | undefined;
  const instance = randomUUID();
  const reloadsTopic = broadcastTopic(settings.groupId, 'reloads');
  let reloadRequests: Follower | undefined;

  const sql = createSqlRunner(ctx, { now, engine: () => engine, emit: (ts) => queue(ts) });

  const observe: Parameters<typeof m.addBatchObservableCallback>[0] = (r) => {
    r.observe(firingGauge, engine.firingCount());
    r.observe(groupsGauge, engine.groupCount());
    r.observe(sourcesGauge, engine.sourceCount());
    r.observe(outboxGauge, outbox.length);
  };

  function queue(transitions: AlertTransition[]): void {
    if (transitions.length === 0) return;
    outbox.push(...transitions);
    if (outbox.length > OUTBOX_LIMIT) {
      const over = outbox.length - OUTBOX_LIMIT;
      outbox = outbox.slice(over);
      transitionsDropped.add(over);
      log.error({ dropped: over, topic: topics.alerts }, 'the bus has refused alert transitions for too long; dropped the oldest');
    }
  }

  /** Sends the outbox; returns what it sent. */
  async function publish(): Promise<AlertTransition[]> {
    if (outbox.length === 0) return [];
    const sending = outbox;
    producer ??= bus.producer();
    await (await producer).send(
      topics.alerts,
      sending.map((t) => ({ key: t.fingerprint, value: encodeAlert(t) })),
    );
    outbox = outbox.slice(sending.length);
    for (const t of sending) {
      transitionsOut.add(1, { status: t.status, severity: t.severity });
      log.info({ rule: t.rule, fingerprint: t.fingerprint, status: t.status, severity: t.severity, startsAt: t.startsAt, labels: t.labels }, `alert ${t.status}`);
    }
    return sending;
  }

  /**
   * Each transition into its partition's changelog before it is published: a worker that dies in
   * between leaves it to the next owner, who publishes it again.
   */
  async function record(transitions: AlertTransition[], published = false): Promise<void> {
    const byPartition = new Map<number, [string, AlertEntry | undefined][]>();
    for (const t of transitions) {
      const p = transitionPartition(t);
      if (p === undefined) continue; // sql rules: one worker, restored from the history
      // Once published, a resolved alert leaves the changelog.
      const entry: [string, AlertEntry | undefined] = [t.fingerprint, published && t.status === 'resolved' ? undefined : { transition: t, published }];
      const list = byPartition.get(p);
      if (list) list.push(entry);
      else byPartition.set(p, [entry]);
    }
    await Promise.all([...byPartition].map(([p, entries]) => store.put(p, entries)));
  }

  /** Runs engine work in order, records and queues what it returns and publishes. */
  function run(work: () => AlertTransition[]): Promise<AlertTransition[]> {
    const next = chain.then(async () => {
      const started = performance.now();
      const transitions = work();
      evalSeconds.record((performance.now() - started) / 1000);
      queue(transitions);
      await record(transitions);
      // What was sent is marked (earlier transitions the bus had refused included), behind: a
      // worker that dies before the mark publishes the transition again when it takes over.
      const sent = await publish();
      record(sent, true).catch(() => undefined);
      return transitions;
    });
    chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Partition ownership (the bus's listener). Revoked: what was evaluated is recorded and
   * published, the changelog written, the timer paused. Assigned: partitions gone are forgotten,
   * new ones restored from the changelog (their transitions published again), the timer resumes.
   */
  const ownership: PartitionListener = {
    revoked: async () => {
      suspended = true;
      await chain;
      await store.flush();
    },
    assigned: async (tps: TopicPartition[], info?: AssignmentInfo) => {
      if ((info?.afresh || !suspended) && owned.size > 0) {
        // Out of the group before this assignment (the bus says so, or it came without a revoke):
        // what this worker held may have had another owner meanwhile, who moved its alerts on and
        // consumed its records. Everything is taken over afresh from the changelog; continuing
        // from its own state across that gap, it resolved every alert and fired it again.
        const stale = [...owned];
        await run(() => {
          for (const p of stale) engine.forgetPartition(p);
          return [];
        });
        owned = new Set();
      }
      suspended = true;
      const next = new Set(tps.map((tp) => tp.partition));
      const fresh = [...next].filter((p) => !owned.has(p));
      const gone = [...owned].filter((p) => !next.has(p));
      const restored = await Promise.all(
        fresh.map(async (p) => {
          const entries = await store.restore(p);
          return { p, ...takeOver(entries, p) };
        }),
      );
      // Upgrading an all-in-one (its one worker owns every partition) whose alert state was only in the history: taken from there once.
      const seed = owned.size === 0 && store.size() === 0 && bus.kind !== 'kafka' && storage ? await restoreFromHistory() : [];
      await run(() => {
        for (const p of gone) engine.forgetPartition(p);
        for (const r of restored) engine.restore(r.restore, now());
        if (seed.length > 0) engine.restore(seed, now());
        return [];
      });
      owned = next;
      suspended = false;
      for (const r of restored) {
        takenOver.add(1, { what: 'partitions' });
        if (r.restore.length > 0) takenOver.add(r.restore.length, { what: 'alerts' });
      }
      const republish = restored.flatMap((r) => r.republish.map((t) => ({ t, p: r.p })));
      if (republish.length > 0) {
        // Tagged with their partition, so `run` marks them published (and drops resolved ones) in the changelog.
        await run(() => republish.map(({ t, p }) => withPartition(t, p))).catch(warnPublish);
      }
      for (const r of restored) {
        const gone = r.forget.filter((fp) => !republish.some((x) => x.t.fingerprint === fp));
        if (gone.length > 0) store.put(r.p, gone.map((fp): [string, undefined] => [fp, undefined])).catch(() => undefined);
      }
      log.info(
        { group: settings.groupId, partitions: describePartitions(tps), restored: Object.fromEntries(restored.map((r) => [r.p, r.restore.length])), forgotten: gone, seededFromHistory: seed.length || undefined },
        'rules partitions assigned',
      );
    },
  };

  const warnPublish = (err: Error) => log.warn({ topic: topics.alerts, queued: outbox.length, err: err.message }, 'could not publish alert transitions; retrying at the next evaluation');

  function seen(batch: Batch, offset: string): boolean {
    const key = `${batch.topic}/${batch.partition}`;
    const o = BigInt(offset);
    const prev = handled.get(key);
    if (prev !== undefined && o <= prev) return true;
    handled.set(key, o);
    return false;
  }

  async function handle(batch: Batch): Promise<void> {
    const at = now();
    const logs = batch.topic === topics.logs;
    // A batch of the all-in-one's log is up to 8 MiB: decoded in one go it held the event loop (and the intake's requests) for 100-200 ms.
    const slice = timeSlices();
    for (const record of batch.records) {
      const pause = slice();
      if (pause) await pause;
      if (seen(batch, record.offset)) continue;
      const context = { now: at, partition: batch.partition, fallbackMs: record.timestamp, key: record.key };
      try {
        const r = logs ? engine.ingestLogs((engine.readsLogContent ? logEntries : logHeaders)(record.value), context) : engine.ingestMetrics(metricPoints(record.value), context);
        recordsIn.add(r.accepted + r.dropped + r.late, { signal: logs ? 'logs' : 'metrics' });
        if (r.accepted > 0) samplesIn.add(r.accepted);
        if (r.dropped > 0) samplesDropped.add(r.dropped);
        if (r.late > 0) samplesLate.add(r.late);
      } catch (err) {
        // Skipped and counted only: ingest consumes the same topics and sends poison to the
        // dead-letter topic; doing it here too would make two entries for one record.
        undecodable.add(1, { signal: logs ? 'logs' : 'metrics' });
        log.debug({ topic: batch.topic, partition: batch.partition, offset: record.offset, err: (err as Error).message }, 'skipping a record that does not decode');
      }
    }
    // Publishing is not awaited here: the transitions are queued, and a bus that refuses them does not hold the topics back.
    run(() => engine.advance(now())).catch(warnPublish);
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      // While partitions change hands, or while this worker may be out of its group (a heartbeat
      // or commit stuck on a dead coordinator), another worker may own what it would tick.
      if (suspended || subscription?.inGroup?.() === false) return schedule();
      run(() => engine.tick(now()))
        .catch(warnPublish)
        .finally(schedule);
    }, TICK_MS);
    timer.unref?.();
  }

  /** Reloads here and asks every other worker of the group to (they read their own files). */
  async function reload(why = 'api'): Promise<ReloadResult> {
    const result = await applyReload(why);
    try {
      producer ??= bus.producer();
      await (await producer).send(reloadsTopic, [{ key: settings.groupId, value: Buffer.from(JSON.stringify({ origin: instance, why, at: result.at })) }]);
    } catch (err) {
      log.warn({ topic: reloadsTopic, err: (err as Error).message }, 'could not ask the other rules workers to reload; reload them one by one (SIGHUP)');
    }
    return result;
  }

  async function applyReload(why: string): Promise<ReloadResult> {
    const at = new Date(now()).toISOString();
    let next: RuleSet;
    try {
      const section = opts.configFile ? (await loadConfigFile(opts.configFile)).rules : config.rules;
      next = loadRuleSet(section, { source: opts.configFile ?? 'config' });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      last = { ok: false, at, rules: engine.status().length + engine.sql.length, problems: err.problems };
      reloads.add(1, { outcome: 'refused' });
      log.error({ why, problems: err.problems }, 'rules reload refused: the running rules stay');
      return last;
    }
    await run(() => {
      const fresh = new RuleEngine(next.rules, engineOptions(next.settings));
      const out = fresh.adopt(engine, now());
      engine = fresh;
      ruleSet = next;
      return out;
    }).catch(warnPublish);
    sql.reset();
    rewatch();
    last = { ok: true, at, rules: next.rules.length };
    reloads.add(1, { outcome: 'applied' });
    log.info({ why, rules: next.rules.map((r) => r.rule.name) }, 'rules reloaded');
    return last;
  }

  function rewatch(): void {
    for (const w of watchers.splice(0)) w.close();
    if (opts.watchFiles === false || !running) return;
    const paths = new Set<string>([...ruleSet.files.map((f) => dirname(f)), ...(opts.configFile ? [opts.configFile] : [])]);
    for (const p of paths) {
      try {
        const w = watch(p, () => {
          if (watchTimer) clearTimeout(watchTimer);
          // Editors write in several steps: wait for the change to settle.
          watchTimer = setTimeout(() => void applyReload('file change').catch((err: Error) => log.error({ err: err.message }, 'rules reload failed')), 300);
          watchTimer.unref?.();
        });
        w.on('error', () => undefined);
        watchers.push(w);
      } catch (err) {
        log.warn({ path: p, err: (err as Error).message }, 'cannot watch a rule path; reload with SIGHUP or POST /api/v1/rules/reload');
      }
    }
  }

  /** Retries until ClickHouse answers or the role stops: evaluating without the history would page twice or lose resolves. */
  async function restoreFromHistory(): Promise<ReturnType<typeof loadFiringAlerts> extends Promise<infer T> ? T : never> {
    if (!storage) return [];
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      try {
        const alerts = await loadFiringAlerts(storage);
        log.info({ firing: alerts.length }, 'no alert state in the changelog yet: restored firing alerts from the alert history');
        return alerts;
      } catch (err) {
        const delay = backoffDelay(attempt, 500, 15_000);
        log.warn({ err: (err as Error).message, retryInMs: delay }, `cannot read firing alerts from ${storage.table('vigil_alerts')}; evaluation waits for it (check ClickHouse)`);
        await sleep(delay, stopping.signal);
      }
    }
    return [];
  }

  /** A reload asked of another worker (`<groupId>.reloads`): this one reads its own files again. */
  async function onReloadRequest(batch: Batch): Promise<void> {
    for (const r of batch.records) {
      let request: { origin?: string; why?: string };
      try {
        request = JSON.parse(r.value.toString('utf8')) as { origin?: string; why?: string };
      } catch {
        continue;
      }
      if (request.origin === instance) continue;
      await applyReload(`${request.why ?? 'reload'} (asked of another worker)`).catch((err: Error) => log.error({ err: err.message }, 'rules reload failed'));
    }
  }

  return {
    name: 'rules',
    get engine() {
      return engine;
    },
    settings,
    sql,
    evaluateNow: () => run(() => engine.tick(now())),
    reload,
    lastReload: () => last,
    async start() {
      await bus.ensureTopics([{ name: topics.metrics }, { name: topics.logs }, { name: topics.alerts }, { name: reloadsTopic, partitions: 1 }]);
      m.addBatchObservableCallback(observe, [firingGauge, groupsGauge, sourcesGauge, outboxGauge]);
      await store.open();
      reloadRequests = await bus.follow({ topic: reloadsTopic, fromBeginning: false, handler: onReloadRequest });
      if (stopping.signal.aborted) return;
      subscription = await bus.subscribe({ groupId: settings.groupId, topics: [topics.metrics, topics.logs], handler: handle, partitions: ownership });
      unwatch = watchConsumer({ name: 'rules', group: settings.groupId, subscription, health: ctx.health, meter: m });
      running = true;
      schedule();
      rewatch();
      await sql.start();
      log.info(
        { rules: ruleSet.rules.map((r) => r.rule.name), stepMs: settings.evaluationInterval, maxLatenessMs: settings.maxLateness, group: settings.groupId, files: ruleSet.files },
        'rules worker started',
      );
    },
    async stop() {
      running = false;
      stopping.abort();
      if (timer) clearTimeout(timer);
      if (watchTimer) clearTimeout(watchTimer);
      for (const w of watchers.splice(0)) w.close();
      await sql.stop();
      await reloadRequests?.stop();
      unwatch?.();
      // Its `revoked` writes what this worker holds to the changelog for the next owner.
      await subscription?.stop();
      subscription = undefined;
      await chain;
      await store.close();
      m.removeBatchObservableCallback(observe, [firingGauge, groupsGauge, sourcesGauge, outboxGauge]);
      if (outbox.length > 0) log.warn({ queued: outbox.length, topic: topics.alerts }, 'stopping with alert transitions not yet published');
    },
  };
}
