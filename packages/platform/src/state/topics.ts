import type { TopicSpec } from '../bus/types.js';
import type { VigilConfig } from '../config/schema.js';

/**
 * Every topic Vigil uses, with what it should look like: one list for `vigil topics` (which
 * creates and checks them) and the roles (which create what they use at start when
 * `kafka.createTopics` allows).
 */

/** The changelog of a consumer group's state store (compacted, co-partitioned with what the group reads). */
export function changelogTopic(groupId: string): string {
  return `${groupId}.state`;
}

/** A topic every instance of a group follows whole (silences, reload requests). */
export function broadcastTopic(groupId: string, what: 'silences' | 'reloads'): string {
  return `${groupId}.${what}`;
}

export interface PlannedTopic extends TopicSpec {
  /** Who uses it and for what, for `vigil topics`. */
  purpose: string;
}

/** The groups whose own topics are part of the plan (their defaults live with their roles). */
export interface TopicGroups {
  rulesGroup: string;
  /** rules.sql.tickTopic */
  tickTopic: string;
  notifierGroup: string;
}

export function vigilTopics(config: VigilConfig, groups: TopicGroups): PlannedTopic[] {
  const t = config.kafka.topics;
  return [
    { name: t.logs, purpose: 'OTLP log records from collectors' },
    { name: t.metrics, purpose: 'OTLP metrics from collectors' },
    { name: t.alerts, purpose: 'alert transitions (rules → notifier, ingest)' },
    { name: t.dlq, purpose: 'dead letters' },
    { name: groups.tickTopic, partitions: 1, purpose: 'rules: evaluation ticks of the sql rules (one consumer)' },
    { name: changelogTopic(groups.rulesGroup), copartitionedWith: t.metrics, compact: true, purpose: `rules: alert state per source partition (changelog of ${groups.rulesGroup})` },
    { name: broadcastTopic(groups.rulesGroup, 'reloads'), partitions: 1, purpose: 'rules: reload requests every worker follows' },
    { name: changelogTopic(groups.notifierGroup), copartitionedWith: t.alerts, compact: true, purpose: `notifier: alerts and what was notified, per alert partition (changelog of ${groups.notifierGroup})` },
    { name: broadcastTopic(groups.notifierGroup, 'silences'), partitions: 1, compact: true, purpose: 'notifier: silences every instance follows' },
  ];
}

/** A topic as the cluster describes it. */
export interface ExistingTopic {
  partitions: number;
  /** The fewest replicas any of its partitions has. */
  replicas: number;
  /** Its configs that matter here (`min.insync.replicas`, `cleanup.policy`). */
  configs: Record<string, string>;
}

/**
 * What is wrong with an existing topic, each problem a sentence naming the topic, what it has,
 * what Vigil wants, and what to do. `partitionsOf` gives the partition count of another topic
 * (a changelog must have its source's).
 */
export function topicProblems(
  want: PlannedTopic,
  have: ExistingTopic,
  config: Pick<VigilConfig['kafka'], 'partitions' | 'replicationFactor' | 'minInsyncReplicas'>,
  partitionsOf: (topic: string) => number | undefined,
): string[] {
  const problems: string[] = [];
  const name = want.name;
  if (want.copartitionedWith !== undefined) {
    const source = partitionsOf(want.copartitionedWith);
    if (source !== undefined && source !== have.partitions) {
      problems.push(
        `${name}: ${have.partitions} partitions, but ${want.copartitionedWith} has ${source}: a changelog needs its source's count (delete ${name} while no instance runs and run vigil topics again; its state is rebuilt as alerts come)`,
      );
    }
  } else if (want.partitions !== undefined && have.partitions !== want.partitions) {
    problems.push(`${name}: ${have.partitions} partitions, wants ${want.partitions}`);
  }
  if (config.replicationFactor > 0 && have.replicas < config.replicationFactor) {
    problems.push(`${name}: ${have.replicas} replica(s), kafka.replicationFactor is ${config.replicationFactor} (add replicas with kafka-reassign-partitions.sh)`);
  }
  if (config.minInsyncReplicas !== undefined) {
    const isr = Number(have.configs['min.insync.replicas'] ?? '1');
    if (isr < config.minInsyncReplicas) {
      problems.push(`${name}: min.insync.replicas is ${isr}, kafka.minInsyncReplicas is ${config.minInsyncReplicas} (kafka-configs.sh --alter --entity-type topics --entity-name ${name} --add-config min.insync.replicas=${config.minInsyncReplicas})`);
    }
  }
  const policy = have.configs['cleanup.policy'] ?? 'delete';
  if (want.compact && !policy.split(',').includes('compact')) {
    problems.push(`${name}: cleanup.policy is ${policy}, a changelog needs compact (kafka-configs.sh --alter --entity-type topics --entity-name ${name} --add-config cleanup.policy=compact)`);
  }
  return problems;
}
