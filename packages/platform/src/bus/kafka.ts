import { Kafka, logLevel, type Consumer, type Producer, type LogEntry } from 'kafkajs';
import './kafkajs-idle.js';
import { compressionType, type Compression } from './codecs.js';
import type { Bus, BusProducer, BusRecord, ConsumedRecord, DependencyStatus, SubscribeOptions, Subscription, TopicSpec } from './types.js';
import { backoffDelay, sleep } from '../backoff.js';
import { logger } from '../log.js';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  partitions: number;
  /** What producers compress with (`kafka.compression`). Default none. */
  compression?: Compression;
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

  constructor(private readonly opts: KafkaBusOptions) {
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
    consumer.on(consumer.events.CRASH, (e) => this.fail(e.payload.error, `consumer ${opts.groupId} crashed (restarting)`));
    consumer.on(consumer.events.GROUP_JOIN, () => this.ok());

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
          if (batch.messages.length === 0) return;
          let finished!: () => void;
          const held = new Promise<void>((resolve) => (finished = resolve));
          inHand.add(held);
          try {
            const records: ConsumedRecord[] = batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              timestamp: Number(m.timestamp),
              key: m.key ? m.key.toString() : null,
              value: m.value ?? Buffer.alloc(0),
              headers: m.headers ? Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)])) : undefined,
            }));
            for (let attempt = 0; ; attempt++) {
              if (!isRunning() || isStale() || stopping.signal.aborted) return;
              try {
                await opts.handler({ topic: batch.topic, partition: batch.partition, records });
                break;
              } catch (err) {
                const delay = backoffDelay(attempt, 200, 10_000);
                log.warn({ err: (err as Error).message, topic: batch.topic, partition: batch.partition, group: opts.groupId, retryInMs: delay }, 'batch handler failed; retrying the same batch');
                await sleep(delay, stopping.signal);
                await heartbeat().catch(() => undefined);
              }
            }
            const last = batch.messages[batch.messages.length - 1]!.offset;
            resolveOffset(last);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
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
    };
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
