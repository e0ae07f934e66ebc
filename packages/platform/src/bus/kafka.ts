import { randomUUID } from 'node:crypto';
import { Kafka, PartitionAssigners, logLevel, type Admin, type Consumer, type Producer, type LogEntry, type KafkaMessage, type ITopicConfig } from 'kafkajs';
import type { Counter, Meter } from '@opentelemetry/api';
import './kafkajs-idle.js';
import { undecodableBatch } from './kafkajs-undecodable.js';
import { beforeRejoin } from './kafkajs-rebalance.js';
import { copartitionedAssigner } from './kafkajs-assigner.js';
import { compressionType, type Compression } from './codecs.js';
import { describePartitions } from './partitions.js';
import type { AssignmentInfo, BatchFinish, Bus, BusProducer, BusRecord, ConsumedRecord, DependencyStatus, FollowOptions, Follower, SubscribeOptions, Subscription, TopicPartition, TopicSpec } from './types.js';
import { backoffDelay, sleep } from '../backoff.js';
import { logger } from '../log.js';
import { deadLetterBatch } from '../dlq.js';

/** How long a follower's catching up may see nothing arrive before it takes what it read as the end. */
const FOLLOW_STALL_MS = 10_000;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  partitions: number;
  /** What producers compress with (`kafka.compression`). Default none. */
  compression?: Compression;
  /** Where a record batch that cannot be decoded goes (`kafka.topics.dlq`). Default vigil.dlq. */
  dlqTopic?: string;
  /** Counts undecodable batches (vigil_kafka_undecodable_batches, _records). */
  meter?: Meter;
  /** Replicas of each topic Vigil creates (`kafka.replicationFactor`); -1 or absent: the broker's default.replication.factor. */
  replicationFactor?: number;
  /** `min.insync.replicas` of topics Vigil creates (`kafka.minInsyncReplicas`); absent: the broker's default. */
  minInsyncReplicas?: number;
  /** Create missing topics (`kafka.createTopics`, default true); false: wait for them (`vigil topics` creates them). */
  createTopics?: boolean;
  /** How long a consumer may go without a heartbeat before the group gives its partitions away (`kafka.sessionTimeout`). Default 30 s. */
  sessionTimeoutMs?: number;
}

/** The settings of a topic Vigil creates: partitions, replicas, `min.insync.replicas`, compaction. */
export function topicConfig(spec: TopicSpec, numPartitions: number, opts: Pick<KafkaBusOptions, 'replicationFactor' | 'minInsyncReplicas'>): ITopicConfig {
  const configEntries: { name: string; value: string }[] = [];
  if (opts.minInsyncReplicas !== undefined) configEntries.push({ name: 'min.insync.replicas', value: String(opts.minInsyncReplicas) });
  if (spec.compact) configEntries.push({ name: 'cleanup.policy', value: 'compact' });
  return { topic: spec.name, numPartitions, replicationFactor: opts.replicationFactor ?? -1, ...(configEntries.length > 0 ? { configEntries } : {}) };
}

/** How long a produce or a batch's step may take before a warning names it (repeated while it waits). */
const STALL_WARN_MS = 20_000;

/**
 * The broker's error type when `err` says this member is not in the group's current generation
 * (kafkajs rejoins on these); kafkajs hands a commit's as the `cause` of a non-retriable error.
 */
export function outOfGeneration(err: unknown): string | undefined {
  const e = err as { type?: unknown; cause?: { type?: unknown } } | null;
  const type = e?.type ?? e?.cause?.type;
  return type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION' || type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' ? type : undefined;
}

/**
 * The broker's error types that leave an idempotent producer's sequence state wrong for good (seen
 * after a broker restart: "The broker received an out of order sequence number" on every retry).
 * kafkajs keeps its producer id and sequences; only a new producer (a new id) sends again.
 */
export function producerStateLost(err: unknown): boolean {
  const e = err as { type?: unknown; cause?: { type?: unknown } } | null;
  const type = e?.type ?? e?.cause?.type;
  return type === 'OUT_OF_ORDER_SEQUENCE_NUMBER' || type === 'UNKNOWN_PRODUCER_ID' || type === 'INVALID_PRODUCER_EPOCH';
}

/** Warns every STALL_WARN_MS while a step has not completed, naming it; call the result when it has. */
function watchStall(what: string, fields: Record<string, unknown>): () => void {
  const began = Date.now();
  const watch = setInterval(() => log.warn({ ...fields, waitingMs: Date.now() - began }, `${what} has not completed; still waiting`), STALL_WARN_MS);
  watch.unref();
  return () => clearInterval(watch);
}
/** The longest a commit or a heartbeat may take before it counts as failed. */
const KAFKA_CALL_MS = 15_000;

/** A call to the Kafka client that neither resolved nor failed in time. */
class StalledCall extends Error {}

/**
 * `p`, or a rejection once `ms` have passed or `abandon` aborts (the call itself cannot be
 * cancelled; its late outcome is ignored).
 */
function bounded<T>(p: Promise<T>, ms: number, what: string, abandon?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StalledCall(`${what} did not complete within ${ms} ms`)), ms);
    if (abandon) {
      onAbort = () => reject(new StalledCall(`${what} abandoned: the consumer restarts`));
      if (abandon.aborted) onAbort();
      else abandon.addEventListener('abort', onAbort, { once: true });
    }
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) abandon?.removeEventListener('abort', onAbort);
  });
}
const log = logger('bus.kafka');

function kafkaLogCreator() {
  return () => ({ namespace, level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    // kafkajs is chatty about retriable errors (it only passes WARN and ERROR here); they show
    // up on /health instead, so they stay at debug.
    log.debug({ namespace, kafkaLevel: level === logLevel.ERROR ? 'error' : 'warn', ...rest }, message);
  };
}

/**
 * Kafka through kafkajs. Nothing here throws at start when the broker is down: connections
 * are retried with backoff and the state is shown on /health.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private producerP: Promise<Producer> | undefined;
  private readonly consumers = new Set<Consumer>();
  private state: { status: DependencyStatus; detail?: string } = { status: 'starting' };
  private readonly abort = new AbortController();
  private readonly undecodable: { batches?: Counter; records?: Counter };

  constructor(private readonly opts: KafkaBusOptions) {
    this.undecodable = {
      batches: opts.meter?.createCounter('vigil_kafka_undecodable_batches', { description: 'Record batches that could not be decompressed or decoded, sent whole to the dead-letter topic, by source topic.' }),
      records: opts.meter?.createCounter('vigil_kafka_undecodable_records', { description: 'Records in those batches, as their headers declare.' }),
    };
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator,
      retry: { initialRetryTime: 200, maxRetryTime: 3_000, retries: 5 },
      connectionTimeout: 3_000,
    });
  }

  private ok(): void {
    this.state = { status: 'up' };
  }

  private fail(err: unknown, what: string): void {
    const detail = `${what}: ${(err as Error)?.message ?? String(err)}`;
    if (this.state.status !== 'down' || this.state.detail !== detail) log.warn({ brokers: this.opts.brokers }, detail);
    this.state = { status: 'down', detail };
  }

  /** Runs `fn` until it succeeds or the bus closes. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const v = await fn();
        this.ok();
        return v;
      } catch (err) {
        this.fail(err, what);
        if (this.abort.signal.aborted) throw err;
        await sleep(backoffDelay(attempt, 500, 15_000), this.abort.signal);
      }
    }
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    const create = this.opts.createTopics ?? true;
    await this.retrying(create ? 'creating topics' : 'looking for topics (kafka.createTopics is false: create them with `vigil topics`)', async () => {
      // One quick attempt per round: our own backoff loop retries and shows the broker as down meanwhile.
      const admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        // Sources first: a changelog takes its source's partition count.
        const sources = topics.filter((t) => t.copartitionedWith === undefined);
        const sourceNames = [...new Set(topics.flatMap((t) => (t.copartitionedWith !== undefined && !sources.some((s) => s.name === t.copartitionedWith) ? [t.copartitionedWith] : [])))];
        const ordered: TopicSpec[][] = [[...sources, ...sourceNames.map((name) => ({ name }))], topics.filter((t) => t.copartitionedWith !== undefined)];
        for (const round of ordered) {
          const missing = round.filter((t) => !existing.has(t.name));
          if (missing.length === 0) continue;
          if (!create) throw new Error(`topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => t.name).join(', ')} missing: run \`vigil topics\` (or set kafka.createTopics: true)`);
          const configs: ITopicConfig[] = [];
          for (const t of missing) configs.push(topicConfig(t, t.copartitionedWith !== undefined ? await partitionCount(admin, t.copartitionedWith) : (t.partitions ?? this.opts.partitions), this.opts));
          await admin.createTopics({ waitForLeaders: true, topics: configs });
          for (const t of missing) existing.add(t.name);
        }
      } finally {
        await admin.disconnect();
      }
    });
  }

  /** An admin client for `vigil topics` (connected; the caller disconnects it). Retries for about half a minute. */
  async admin(): Promise<Admin> {
    const admin = this.kafka.admin({ retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 3_000 } });
    await admin.connect();
    return admin;
  }

  private connectedProducer(): Promise<Producer> {
    this.producerP ??= this.retrying('connecting producer', async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
      await p.connect();
      return p;
    });
    return this.producerP;
  }

  async producer(): Promise<BusProducer> {
    return {
      send: async (topic: string, records: BusRecord[]) => {
        const p = await this.connectedProducer();
        const done = watchStall(`producing to ${topic}`, { topic, records: records.length });
        try {
          await p.send({
            topic,
            acks: -1,
            compression: compressionType(this.opts.compression ?? 'none'),
            // An empty value is a tombstone on a compacted topic (Vigil writes no empty values elsewhere).
            messages: records.map((r) => ({ key: r.key, value: r.value.length === 0 ? null : r.value, headers: r.headers, ...(r.partition !== undefined ? { partition: r.partition } : {}) })),
          });
          this.ok();
        } catch (err) {
          this.fail(err, `producing to ${topic}`);
          if (producerStateLost(err) && this.producerP) {
            // The next send makes a new producer; this one is let go.
            const stale = this.producerP;
            this.producerP = undefined;
            void stale.then((old) => old.disconnect()).catch(() => undefined);
            log.warn({ topic }, 'the producer\'s sequence state was lost (a broker restarted?); sending with a new producer');
          }
          throw err;
        } finally {
          done();
        }
      },
    };
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    /** Partitions this member holds (the last assignment), and those it serves (the listener's `assigned` done). */
    let held: TopicPartition[] = [];
    let serving: TopicPartition[] = [];
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: true,
      sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 5)),
      maxBytesPerPartition: 4 * 1024 * 1024,
      retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: Number.MAX_SAFE_INTEGER },
      // Co-partitioned and sticky (kafkajs-assigner.ts); round robin for groups with older members.
      partitionAssigners: [copartitionedAssigner(() => [...new Set(held.map((tp) => tp.partition))]), PartitionAssigners.roundRobin],
    });
    this.consumers.add(consumer);
    const stopping = new AbortController();
    /** Batches being handled; `stop` lets them finish and commit, because kafkajs drops commits once `disconnect` has begun. */
    const inHand = new Set<Promise<void>>();
    /** Per partition: the broker's high watermark at the last fetch and the next offset to commit, for lag. */
    const positions = new Map<string, { highWatermark: bigint; committed: bigint }>();
    const progress: { lastCommitAt: number; failing?: { since: number; error: string; attempts: number } } = { lastCommitAt: 0 };
    const depth = Math.max(1, Math.floor(opts.pipeline ?? 1));
    /**
     * Per partition, since the last assignment: the batches handed over whose finish and commit
     * are pending, oldest first, and the chain they run on (false once one could not be made
     * durable: nothing after it is committed, the partition's next owner starts from before it).
     */
    let lanes = new Map<string, { pending: Promise<boolean>[]; tail: Promise<boolean> }>();
    /**
     * Aborted once a batch's commits timed out twice in a row: the Kafka client is stuck and the
     * consumer is restarted. Every batch of that generation gives up at once (their commits would
     * each wait out their own timeouts first, 30 s apiece: 90 s in the fleet test); the next join
     * starts a new one.
     */
    let wedge = new AbortController();
    /**
     * A commit refused because this member is no longer in the group's generation (the coordinator
     * forgot it, or a rebalance began): retrying cannot succeed until kafkajs rejoins, which it does
     * only when the error leaves eachBatch. Seen in the fleet test: the ingest retried such a commit
     * for minutes after a broker's SIGKILL while its group stood empty.
     */
    let regroup: Error | undefined;
    const listener = opts.partitions;
    /** The listener's calls, in order: a batch of a partition waits for the `assigned` that gave it. */
    let ownership: Promise<void> = Promise.resolve();
    let ready = true;
    let unhook: (() => void) | undefined;
    /** The member id of the last join: a join under another one follows a time out of the group. */
    let memberId: string | undefined;
    const tell = (what: 'assigned' | 'revoked', partitions: TopicPartition[], info?: AssignmentInfo) => {
      if (!listener) return Promise.resolve();
      const call = async () => {
        for (let attempt = 0; !stopping.signal.aborted || what === 'revoked'; attempt++) {
          try {
            await (what === 'assigned' ? listener.assigned(partitions, info) : listener.revoked(partitions));
            return;
          } catch (err) {
            const delay = backoffDelay(attempt, 500, 10_000);
            log.warn({ group: opts.groupId, err: (err as Error).message, partitions: describePartitions(partitions), retryInMs: delay }, `partitions ${what}: the subscriber failed; retrying`);
            if (what === 'revoked') return; // a rejoin cannot wait for long: what was not made durable is the new owner's to redo
            await sleep(delay, stopping.signal);
          }
        }
      };
      ownership = ownership.then(call);
      return ownership;
    };
    consumer.on(consumer.events.CRASH, (e) => this.fail(e.payload.error, `consumer ${opts.groupId} crashed (restarting)`));
    /** When the coordinator last confirmed this member (a join, a heartbeat, a commit); 0: never joined. */
    let confirmedAt = 0;
    consumer.on(consumer.events.HEARTBEAT, () => (confirmedAt = Date.now()));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.ok();
      confirmedAt = Date.now();
      const assignment = Object.entries(e.payload.memberAssignment ?? {}).flatMap(([topic, ps]) => (ps as number[]).map((partition) => ({ topic, partition })));
      // Partitions handed to another member no longer count in this one's lag.
      const keys = new Set(assignment.map((tp) => `${tp.topic}:${tp.partition}`));
      for (const tp of positions.keys()) if (!keys.has(tp)) positions.delete(tp);
      held = assignment;
      // What a lane of the last generation still runs commits under it (refused if stale); the new one starts afresh.
      lanes = new Map();
      if (wedge.signal.aborted) wedge = new AbortController();
      // A member keeps its id while it stays in the group (Kafka expires one that misses a
      // generation); a new id means the group went on without it for a while (a commit or heartbeat
      // stuck on a dead coordinator past the session timeout, a consumer restart), and its
      // partitions may have been another member's. Seen in the fleet test: a rules worker that
      // continued its own state after such a gap resolved and fired every alert again.
      const afresh = memberId !== undefined && memberId !== e.payload.memberId;
      memberId = e.payload.memberId;
      log.info({ group: opts.groupId, member: e.payload.memberId, partitions: describePartitions(assignment), ...(afresh ? { afresh } : {}) }, 'partitions assigned');
      if (!listener) {
        serving = assignment;
        return;
      }
      serving = serving.filter((tp) => keys.has(`${tp.topic}:${tp.partition}`));
      ready = false;
      void tell('assigned', assignment, { afresh }).then(() => {
        if (held !== assignment) return;
        serving = assignment;
        ready = true;
      });
      // Before this member rejoins (a rebalance), the subscriber makes what it holds durable.
      unhook?.();
      unhook = beforeRejoin(opts.groupId, e.payload.memberId, async () => {
        await Promise.all(inHand);
        serving = [];
        await tell('revoked', held);
      });
    });

    const run = async () => {
      await this.retrying(`connecting consumer ${opts.groupId}`, async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 3,
        eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
          const tp = `${batch.topic}:${batch.partition}`;
          const position = positions.get(tp);
          const firstOffset = batch.messages[0] ? BigInt(batch.messages[0].offset) : undefined;
          positions.set(tp, { highWatermark: BigInt(batch.highWatermark), committed: position?.committed ?? firstOffset ?? BigInt(batch.highWatermark) });
          if (batch.messages.length === 0) return;
          // The subscriber restores a partition before its first batch; heartbeats keep the membership meanwhile.
          while (!ready && isRunning() && !isStale() && !stopping.signal.aborted) {
            await Promise.race([ownership, sleep(1_000, stopping.signal)]);
            if (!ready) await bounded(heartbeat(), KAFKA_CALL_MS, 'heartbeat');
          }
          let finished!: () => void;
          const handling = new Promise<void>((resolve) => (finished = resolve));
          inHand.add(handling);
          try {
            // A record batch kafkajs could not decode arrives as one marker (kafkajs-undecodable.ts).
            const undecodable = batch.messages.filter((m) => undecodableBatch(m));
            const messages = undecodable.length > 0 ? batch.messages.filter((m) => !undecodableBatch(m)) : batch.messages;
            const records: ConsumedRecord[] = messages.map((m) => toRecord(batch.topic, batch.partition, m));
            /**
             * Runs `step` until it succeeds; false when the consumer stops or loses the partition
             * first. `started`: the step is already under way (a finish), so its first attempt runs
             * even when stopping: a batch handed over is made durable and committed if it can be.
             */
            const persist = async (what: string, step: () => Promise<void>, started = false, giveUp = () => false): Promise<boolean> => {
              for (let attempt = 0; ; attempt++) {
                if (!(started && attempt === 0) && (!isRunning() || isStale() || stopping.signal.aborted || giveUp())) return false;
                // A step that neither resolves nor fails stalls the partition (and, inside eachBatch, the member's heartbeats): say so.
                const done = watchStall(what, { topic: batch.topic, partition: batch.partition, group: opts.groupId });
                try {
                  await step();
                  progress.failing = undefined;
                  return true;
                } catch (err) {
                  const delay = backoffDelay(attempt, 200, 10_000);
                  progress.failing = { since: progress.failing?.since ?? Date.now(), error: (err as Error).message, attempts: (progress.failing?.attempts ?? 0) + 1 };
                  log.warn({ err: (err as Error).message, topic: batch.topic, partition: batch.partition, group: opts.groupId, retryInMs: delay }, `${what} failed; retrying the same batch`);
                  await sleep(delay, stopping.signal);
                  await bounded(heartbeat(), KAFKA_CALL_MS, 'heartbeat').catch(() => undefined);
                } finally {
                  done();
                }
              }
            };
            if (undecodable.length > 0 && !(await persist('dead-lettering an undecodable batch', () => this.deadLetterBatches(batch.topic, batch.partition, undecodable)))) return;
            let finish: BatchFinish | undefined;
            if (
              records.length > 0 &&
              !(await persist('batch handler', async () => {
                const f = await opts.handler({ topic: batch.topic, partition: batch.partition, records });
                // One at a time, a failed finish runs the handler again, as before finishes existed.
                if (f && depth === 1) await f();
                else finish = f ?? undefined;
              }))
            )
              return;
            const last = batch.messages[batch.messages.length - 1]!.offset;
            // The next fetch starts after this batch; the commit stays behind until it is durable.
            resolveOffset(last);
            let lane = lanes.get(tp);
            if (!lane) lanes.set(tp, (lane = { pending: [], tail: Promise.resolve(true) }));
            const thisLane = lane;
            let timeouts = 0;
            const wedged = wedge;
            const commit = async () => {
              // kafkajs's commit can wait for ever once the group coordinator was SIGKILLed, and so
              // can every commit after it (seen in the fleet test): bounded, and a second timeout
              // marks the client wedged, so the consumer is restarted (below) with new connections.
              try {
                await bounded(consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]), KAFKA_CALL_MS, 'committing offsets', wedged.signal);
              } catch (err) {
                if (err instanceof StalledCall && ++timeouts >= 2 && !wedged.signal.aborted) {
                  log.warn({ group: opts.groupId }, 'offset commits do not complete (the Kafka client is stuck); restarting the consumer');
                  wedged.abort();
                }
                const type = outOfGeneration(err);
                // Thrown out of eachBatch with the broker's error type, which kafkajs's runner reads to rejoin.
                if (type) regroup = Object.assign(new Error((err as Error).message), { type });
                throw err;
              }
              positions.set(tp, { highWatermark: BigInt(batch.highWatermark), committed: BigInt(last) + 1n });
              progress.lastCommitAt = confirmedAt = Date.now();
            };
            const step = thisLane.tail.then(async (healthy) => {
              if (!healthy) return false;
              const durable = finish;
              if (durable && !(await persist('finishing a batch', durable, true))) return false;
              return persist('committing offsets', commit, true, () => wedged.signal.aborted || regroup !== undefined);
            });
            thisLane.tail = step;
            thisLane.pending.push(step);
            const tracked = step.then(() => {
              const i = thisLane.pending.indexOf(step);
              if (i >= 0) thisLane.pending.splice(i, 1);
            });
            inHand.add(tracked);
            void tracked.finally(() => inHand.delete(tracked));
            // Up to `depth` batches of a partition in hand: beyond, wait for the oldest.
            while (thisLane.pending.length >= depth) {
              const oldest = thisLane.pending[0]!;
              await oldest;
              const i = thisLane.pending.indexOf(oldest);
              if (i >= 0) thisLane.pending.splice(i, 1);
            }
            if (regroup) {
              const err = regroup;
              regroup = undefined;
              lanes = new Map();
              // kafkajs rejoins on these (its runner's handling of a rebalance or an unknown member);
              // the partitions' batches come again from the last commit, and their writes are idempotent.
              log.warn({ group: opts.groupId, err: err.message }, 'offsets refused: this member is not in the group; rejoining');
              throw err;
            }
            if (wedged.signal.aborted) {
              lanes = new Map();
              // Thrown out of eachBatch as retriable, kafkajs restarts the consumer (new connections):
              // it rejoins and fetches again from the last commit.
              throw Object.assign(new Error(`offset commits of ${opts.groupId} do not complete; restarting the consumer`), { retriable: true });
            }
            await bounded(heartbeat(), KAFKA_CALL_MS, 'heartbeat').catch(() => undefined);
          } finally {
            inHand.delete(handling);
            finished();
          }
        },
      });
    };
    const started = run().catch((err) => this.fail(err, `consumer ${opts.groupId}`));
    return {
      stop: async () => {
        stopping.abort();
        await started;
        await Promise.all(inHand);
        // Before leaving the group: the subscriber makes what it holds durable for the next owner.
        unhook?.();
        if (held.length > 0) {
          serving = [];
          await tell('revoked', held);
        }
        await bounded(consumer.disconnect(), KAFKA_CALL_MS, 'disconnecting').catch(() => undefined);
        this.consumers.delete(consumer);
      },
      // The coordinator expires a member it has not heard from for the session timeout.
      inGroup: () => confirmedAt > 0 && Date.now() - confirmedAt < sessionTimeout,
      // Lag over the partitions this instance fetched: high watermark minus what it committed.
      progress: () => {
        let lag = 0n;
        for (const p of positions.values()) if (p.highWatermark > p.committed) lag += p.highWatermark - p.committed;
        return { lag: Number(lag), lastCommitAt: progress.lastCommitAt, ...(progress.failing ? { failing: { ...progress.failing } } : {}), assigned: serving };
      },
    };
  }

  /**
   * Follows a topic outside any consumer group. kafkajs has no group-less consumer, so this is
   * a consumer alone in a group of its own (a fresh id) that never commits: when it leaves, the
   * group holds no offsets and the broker forgets it.
   */
  async follow(opts: FollowOptions): Promise<Follower> {
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.clientId}.follow.${opts.topic}.${randomUUID()}`,
      allowAutoTopicCreation: true,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 1_000,
      retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: Number.MAX_SAFE_INTEGER },
    });
    this.consumers.add(consumer);
    const stopping = new AbortController();
    /** Next offset per partition, as far as handled. */
    const next = new Map<number, bigint>();
    let progressed: (() => void)[] = [];
    const started = (async () => {
      await this.retrying(`connecting follower of ${opts.topic}`, async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [opts.topic], fromBeginning: opts.fromBeginning });
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, heartbeat, isRunning, resolveOffset }) => {
          const records = batch.messages.filter((m) => !undecodableBatch(m)).map((m) => toRecord(batch.topic, batch.partition, m));
          for (let attempt = 0; records.length > 0; attempt++) {
            if (!isRunning() || stopping.signal.aborted) return;
            try {
              await opts.handler({ topic: batch.topic, partition: batch.partition, records });
              break;
            } catch (err) {
              log.warn({ topic: opts.topic, partition: batch.partition, err: (err as Error).message }, 'follower handler failed; retrying the same records');
              await sleep(backoffDelay(attempt, 200, 10_000), stopping.signal);
              await bounded(heartbeat(), KAFKA_CALL_MS, 'heartbeat').catch(() => undefined);
            }
          }
          if (batch.messages.length > 0) {
            // The next fetch starts after these (unresolved, kafkajs fetches the same records again,
            // and the follower would read its whole topic again every round).
            resolveOffset(batch.lastOffset());
            next.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
          }
          for (const f of progressed.splice(0)) f();
        },
      });
    })().catch((err) => this.fail(err, `follower of ${opts.topic}`));
    return {
      caughtUp: async () => {
        const ends = await this.retrying(`reading the end offsets of ${opts.topic}`, async () => {
          const admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
          await admin.connect();
          try {
            return await admin.fetchTopicOffsets(opts.topic);
          } finally {
            await admin.disconnect();
          }
        });
        const behind = () => ends.filter((e) => BigInt(e.high) > BigInt(e.low) && (next.get(e.partition) ?? -1n) < BigInt(e.high));
        // A partition can end below its high watermark for good: compaction removes a tombstone
        // that was its last record once delete.retention.ms passed, and the fetch then returns
        // nothing more; so can one whose leader is away (a broker failing over). So the wait ends
        // when nothing has come for STALL_MS (a live follower fetches every second), with a warning
        // and false, rather than holding the caller forever: a changelog restore then waits for a
        // barrier of its own instead (state/changelog.ts).
        let lastProgress = Date.now();
        for (;;) {
          const lagging = behind();
          if (lagging.length === 0) return true;
          if (stopping.signal.aborted) return false;
          const progressedNow = await Promise.race([new Promise<boolean>((resolve) => progressed.push(() => resolve(true))), sleep(1_000, stopping.signal).then(() => false)]);
          if (progressedNow) lastProgress = Date.now();
          else if (Date.now() - lastProgress >= FOLLOW_STALL_MS) {
            log.warn(
              { topic: opts.topic, behind: lagging.map((e) => `${e.partition}: at ${String(next.get(e.partition) ?? 'nothing read')}, end ${e.high}`).join('; '), waitedMs: FOLLOW_STALL_MS },
              'following: nothing more came before the end offsets; stopped waiting for them',
            );
            return false;
          }
        }
      },
      stop: async () => {
        stopping.abort();
        for (const f of progressed.splice(0)) f();
        await started;
        await bounded(consumer.disconnect(), KAFKA_CALL_MS, 'disconnecting').catch(() => undefined);
        this.consumers.delete(consumer);
      },
    };
  }

  /** Sends undecodable batches to the dead-letter topic whole, with their offsets and the error. */
  private async deadLetterBatches(topic: string, partition: number, markers: KafkaMessage[]): Promise<void> {
    const letters = markers.map((m) => {
      const u = undecodableBatch(m)!;
      return { u, letter: deadLetterBatch({ topic, partition, firstOffset: u.firstOffset, lastOffset: u.lastOffset, timestamp: Number(m.timestamp), raw: m.value ?? Buffer.alloc(0) }, u.error) };
    });
    await (await this.producer()).send(this.opts.dlqTopic ?? 'vigil.dlq', letters.map((l) => l.letter));
    for (const { u } of letters) {
      this.undecodable.batches?.add(1, { topic });
      this.undecodable.records?.add(u.records, { topic });
      log.warn({ topic, partition, firstOffset: u.firstOffset, lastOffset: u.lastOffset, records: u.records, err: u.error, dlq: this.opts.dlqTopic ?? 'vigil.dlq' }, 'record batch could not be decoded; sent to the dead-letter topic');
    }
  }

  status() {
    return this.state;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.consumers].map((c) => c.disconnect().catch(() => undefined)));
    if (this.producerP) {
      const p = await this.producerP.catch(() => undefined);
      await p?.disconnect().catch(() => undefined);
    }
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    key: m.key ? m.key.toString() : null,
    value: m.value ?? Buffer.alloc(0),
    headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)])) : undefined,
  };
}

async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const n = meta.topics[0]?.partitions.length ?? 0;
  if (n === 0) throw new Error(`topic ${topic} has no partitions yet`);
  return n;
}
