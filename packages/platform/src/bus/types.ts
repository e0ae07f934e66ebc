/**
 * The bus: what every role uses to move records between processes. Kafka in the distributed
 * roles; an in-process stand-in with the same semantics in the all-in-one process.
 *
 * Delivery is at least once: a batch's offsets are committed only after its handler resolved.
 * A handler that throws gets the same batch again (after a backoff), so handlers must be
 * idempotent; a record that can never be processed belongs on the dead-letter topic, not in
 * a retry loop.
 */
export interface BusRecord {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface ConsumedRecord extends BusRecord {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (offsets are int64). */
  offset: string;
  /** Broker or producer timestamp, Unix milliseconds. */
  timestamp: number;
}

export interface Batch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
}

export type BatchHandler = (batch: Batch) => Promise<void>;

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. Default: earliest. */
  fromBeginning?: boolean;
  handler: BatchHandler;
}

/** How far a consumer group is behind, for /health and /metrics. */
export interface SubscriptionProgress {
  /** Records on its topics it has not committed yet. */
  lag: number;
  /** The same in bytes, where the bus knows it. */
  lagBytes?: number;
  /** When it last committed a batch (Unix ms; 0: not yet). */
  lastCommitAt: number;
  /** Set while the handler keeps failing on the same batch. */
  failing?: { since: number; error: string; attempts: number };
}

export interface Subscription {
  /** Stops fetching, waits for the batch in hand and its commit. */
  stop(): Promise<void>;
  progress?(): SubscriptionProgress;
}

export interface BusProducer {
  send(topic: string, records: BusRecord[]): Promise<void>;
}

export interface TopicSpec {
  name: string;
  partitions?: number;
}

/** `degraded`: working, but not as it should (a collector spooling to disk while Kafka is away); still ready. */
export type DependencyStatus = 'up' | 'degraded' | 'down' | 'starting';

export interface Bus {
  /** kafka: a Kafka cluster; local: the all-in-one's durable log; memory: in memory only (tests). */
  readonly kind: 'kafka' | 'local' | 'memory';
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  producer(): Promise<BusProducer>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** State for /health. */
  status(): { status: DependencyStatus; detail?: string };
  close(): Promise<void>;
}
