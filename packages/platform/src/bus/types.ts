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
  /** On a compacted topic an empty value is a tombstone: the key is deleted (Kafka: a null value). */
  value: Buffer;
  headers?: Record<string, string>;
  /**
   * The partition to write to; default: by key (Kafka's partitioner on Kafka). A changelog
   * writes its entries to the partition of the source they belong to.
   */
  partition?: number;
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

/**
 * Handles a batch; the batch's offsets are committed once it resolves. It may resolve early with
 * a `BatchFinish`: what is left to make the batch durable (an insert in flight). The bus then
 * runs the finish before committing, and retries the finish alone while it fails; with
 * `SubscribeOptions.pipeline` above 1 it hands over the next batches meanwhile.
 */
export type BatchHandler = (batch: Batch) => Promise<void | BatchFinish>;
/** What is left of a batch's handling: resolves once the batch is durable. Called again after a failure, it must redo what failed. */
export type BatchFinish = () => Promise<void>;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * Which partitions a member of a consumer group owns, as Kafka's rebalance listener says it
 * under the eager protocol: `revoked` with every partition held, before another member can be
 * given any of them; then `assigned` with every partition held from now on (kept ones included).
 * A subscriber that keeps state per partition compares the two: it makes what it holds durable
 * in `revoked`, restores what is new and drops what is gone in `assigned`.
 *
 * - `assigned` resolves before any batch of those partitions reaches the handler.
 * - `revoked` is called after the batches in hand were handled and committed; Kafka waits for
 *   it before rejoining the group (keep it short: the member sends no heartbeat meanwhile, and
 *   the group's other members wait). At `stop` it comes last.
 * - A member that was thrown out of the group (no heartbeat for the session timeout) gets
 *   `assigned` without `revoked`: its partitions may already have another owner.
 * - The local log and the memory bus have one consumer per group: it is assigned every partition
 *   at subscribe and they are revoked at stop.
 */
export interface PartitionListener {
  assigned(partitions: TopicPartition[], info?: AssignmentInfo): Promise<void>;
  revoked(partitions: TopicPartition[]): Promise<void>;
}

export interface AssignmentInfo {
  /**
   * This member was out of the group before this assignment (Kafka: it joined under a new member
   * id, after the coordinator expired it or its consumer restarted). Partitions it held before may
   * have had another owner meanwhile, who moved their state on: the subscriber takes every
   * partition afresh, including those it still had, instead of continuing from what it held.
   */
  afresh: boolean;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. Default: earliest. */
  fromBeginning?: boolean;
  handler: BatchHandler;
  /**
   * Batches of a partition in hand at once (default 1): the next batch is fetched and handled
   * while the finishes of earlier ones run; offsets are committed in order behind them. Only the
   * Kafka bus pipelines; the others run each finish before the next batch.
   */
  pipeline?: number;
  /** Told when partitions are assigned and revoked (a rebalance). */
  partitions?: PartitionListener;
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
  /** The partitions this member owns and serves (assigned, and the listener's `assigned` done). */
  assigned?: TopicPartition[];
}

export interface Subscription {
  /** Stops fetching, waits for the batch in hand and its commit. */
  stop(): Promise<void>;
  progress?(): SubscriptionProgress;
  /**
   * Whether this member can still count itself in its group (Kafka: the coordinator confirmed it,
   * by a heartbeat, a commit or a join, within the session timeout). False: the group has likely
   * gone on without it and its partitions are another's, so work done on its own initiative (a
   * timer's evaluation) waits. Absent: always in (one consumer per group).
   */
  inGroup?(): boolean;
}

export interface BusProducer {
  send(topic: string, records: BusRecord[]): Promise<void>;
}

export interface TopicSpec {
  name: string;
  /** Default: the bus's (`kafka.partitions`). */
  partitions?: number;
  /** As many partitions as this topic has (a changelog beside its source topic); created first if missing. */
  copartitionedWith?: string;
  /** Keep the latest record of each key instead of deleting by age (Kafka's `cleanup.policy=compact`): a changelog. */
  compact?: boolean;
}

export interface FollowOptions {
  topic: string;
  /** From the earliest record held (a compacted changelog read whole), or only what comes from now on. */
  fromBeginning: boolean;
  handler: BatchHandler;
}

/**
 * A reader of every partition of a topic outside any consumer group: each process that follows
 * a topic sees all of it (a changelog read as a standby of every partition, silences and reload
 * requests that every instance must apply). Nothing is committed: a new follower starts again.
 */
export interface Follower {
  /**
   * Resolves once every record that was on the topic when called has been handled: true. False
   * when it stopped waiting first (Kafka: a partition behind its end that nothing came from for
   * 10 s, as a compacted partition whose last records were removed, or one whose leader is away).
   */
  caughtUp(): Promise<boolean>;
  stop(): Promise<void>;
}

/** `degraded`: working, but not as it should (a collector spooling to disk while Kafka is away); still ready. */
export type DependencyStatus = 'up' | 'degraded' | 'down' | 'starting';

export interface Bus {
  /** kafka: a Kafka cluster; local: the all-in-one's durable log; memory: in memory only (tests). */
  readonly kind: 'kafka' | 'local' | 'memory';
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  producer(): Promise<BusProducer>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  follow(opts: FollowOptions): Promise<Follower>;
  /** State for /health. */
  status(): { status: DependencyStatus; detail?: string };
  close(): Promise<void>;
}
