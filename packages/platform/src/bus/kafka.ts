import { Kafka, logLevel, type Consumer, type Producer, type LogEntry, type KafkaMessage } from 'kafkajs';
import type { Counter, Meter } from '@opentelemetry/api';
import './kafkajs-idle.js';
import { undecodableBatch } from './kafkajs-undecodable.js';
import { compressionType, type Compression } from './codecs.js';
import type { Bus, BusProducer, BusRecord, ConsumedRecord, DependencyStatus, SubscribeOptions, Subscription, TopicSpec } from './types.js';
import { backoffDelay, sleep } from '../backoff.js';
import { logger } from '../log.js';
import { deadLetterBatch } from '../dlq.js';

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
    await this.retrying('creating topics', async () => {
      // One quick attempt per round: our own backoff loop retries and shows the broker as down meanwhile.
      const admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.name));
        if (missing.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((t) => ({ topic: t.name, numPartitions: t.partitions ?? this.opts.partitions })),
          });
        }
      } finally {
        await admin.disconnect();
      }
    });
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
        try {
          await p.send({
            topic,
            acks: -1,
            compression: compressionType(this.opts.compression ?? 'none'),
            messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
          });
          this.ok();
        } catch (err) {
          this.fail(err, `producing to ${topic}`);
          throw err;
        }
      },
    };
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: true,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: Number.MAX_SAFE_INTEGER },
    });
    this.consumers.add(consumer);
    const stopping = new AbortController();
    /** Batches being handled; `stop` lets them finish and commit, because kafkajs drops commits once `disconnect` has begun. */
    const inHand = new Set<Promise<void>>();
    /** Per partition: the broker's high watermark at the last fetch and the next offset to commit, for lag. */
    const positions = new Map<string, { highWatermark: bigint; committed: bigint }>();
    const progress: { lastCommitAt: number; failing?: { since: number; error: string; attempts: number } } = { lastCommitAt: 0 };
    consumer.on(consumer.events.CRASH, (e) => this.fail(e.payload.error, `consumer ${opts.groupId} crashed (restarting)`));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.ok();
      // Partitions handed to another member no longer count in this one's lag.
      const assigned = new Set(Object.entries(e.payload.memberAssignment ?? {}).flatMap(([t, ps]) => (ps as number[]).map((p) => `${t}:${p}`)));
      for (const tp of positions.keys()) if (!assigned.has(tp)) positions.delete(tp);
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
          let finished!: () => void;
          const held = new Promise<void>((resolve) => (finished = resolve));
          inHand.add(held);
          try {
            // A record batch kafkajs could not decode arrives as one marker (kafkajs-undecodable.ts).
            const undecodable = batch.messages.filter((m) => undecodableBatch(m));
            const messages = undecodable.length > 0 ? batch.messages.filter((m) => !undecodableBatch(m)) : batch.messages;
            const records: ConsumedRecord[] = messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              timestamp: Number(m.timestamp),
              key: m.key ? m.key.toString() : null,
              value: m.value ?? Buffer.alloc(0),
              headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)])) : undefined,
            }));
            /** Runs `step` until it succeeds; false when the consumer stops or loses the partition first. */
            const persist = async (what: string, step: () => Promise<void>): Promise<boolean> => {
              for (let attempt = 0; ; attempt++) {
                if (!isRunning() || isStale() || stopping.signal.aborted) return false;
                try {
                  await step();
                  progress.failing = undefined;
                  return true;
                } catch (err) {
                  const delay = backoffDelay(attempt, 200, 10_000);
                  progress.failing = { since: progress.failing?.since ?? Date.now(), error: (err as Error).message, attempts: (progress.failing?.attempts ?? 0) + 1 };
                  log.warn({ err: (err as Error).message, topic: batch.topic, partition: batch.partition, group: opts.groupId, retryInMs: delay }, `${what} failed; retrying the same batch`);
                  await sleep(delay, stopping.signal);
                  await heartbeat().catch(() => undefined);
                }
              }
            };
            if (undecodable.length > 0 && !(await persist('dead-lettering an undecodable batch', () => this.deadLetterBatches(batch.topic, batch.partition, undecodable)))) return;
            if (records.length > 0 && !(await persist('batch handler', () => opts.handler({ topic: batch.topic, partition: batch.partition, records })))) return;
            const last = batch.messages[batch.messages.length - 1]!.offset;
            resolveOffset(last);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
            positions.set(tp, { highWatermark: BigInt(batch.highWatermark), committed: BigInt(last) + 1n });
            progress.lastCommitAt = Date.now();
            await heartbeat();
          } finally {
            inHand.delete(held);
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
        await consumer.disconnect().catch(() => undefined);
        this.consumers.delete(consumer);
      },
      // Lag over the partitions this instance fetched: high watermark minus what it committed.
      progress: () => {
        let lag = 0n;
        for (const p of positions.values()) if (p.highWatermark > p.committed) lag += p.highWatermark - p.committed;
        return { lag: Number(lag), lastCommitAt: progress.lastCommitAt, ...(progress.failing ? { failing: { ...progress.failing } } : {}) };
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
