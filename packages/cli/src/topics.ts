import { KafkaBus, topicConfig, topicProblems, vigilTopics, type ExistingTopic, type PlannedTopic, type VigilConfig } from '@vigil/platform';

/**
 * `vigil topics [--check]`: every topic Vigil uses, created where missing (with
 * `kafka.partitions`, `kafka.replicationFactor`, `kafka.minInsyncReplicas`; changelogs compacted
 * with their source's partition count) and checked where present. Exit 0 when every topic is as
 * wanted, 1 when one is not (each problem says what to do), 2 on a usage or config error.
 */

export async function topicsCommand(config: VigilConfig, opts: { check: boolean; out?: (line: string) => void }): Promise<number> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { checkRulesConfig } = await import('@vigil/rules');
  const { checkNotifierConfig } = await import('@vigil/notifier');
  const rules = checkRulesConfig(config).settings;
  const notifier = checkNotifierConfig(config).settings;
  const plan = vigilTopics(config, { rulesGroup: rules.groupId, tickTopic: rules.sql.tickTopic, notifierGroup: notifier.groupId });
  const k = config.kafka;
  const bus = new KafkaBus({ brokers: k.brokers, clientId: `${k.clientId}-topics`, partitions: k.partitions });
  let admin;
  try {
    admin = await bus.admin();
  } catch (err) {
    out(`cannot reach Kafka at ${k.brokers.join(',')}: ${(err as Error).message}`);
    await bus.close();
    return 1;
  }
  try {
    const existing = new Set(await admin.listTopics());
    const missing = plan.filter((t) => !existing.has(t.name));
    const created: string[] = [];
    if (!opts.check && missing.length > 0) {
      // Sources before the changelogs that take their partition count.
      for (const round of [missing.filter((t) => t.copartitionedWith === undefined), missing.filter((t) => t.copartitionedWith !== undefined)]) {
        if (round.length === 0) continue;
        const counts = await partitionCounts(admin, round.flatMap((t) => (t.copartitionedWith ? [t.copartitionedWith] : [])));
        const configs = round.map((t) => topicConfig(t, t.copartitionedWith ? (counts.get(t.copartitionedWith) ?? k.partitions) : (t.partitions ?? k.partitions), { replicationFactor: k.replicationFactor, ...(k.minInsyncReplicas !== undefined ? { minInsyncReplicas: k.minInsyncReplicas } : {}) }));
        // kafkajs's wait for the new leaders can fail on metadata that lags behind the creation: what exists is what counts.
        await admin.createTopics({ waitForLeaders: true, topics: configs }).catch(async (err: Error) => {
          for (let attempt = 0; attempt < 30; attempt++) {
            await new Promise((r) => setTimeout(r, 500));
            const now = new Set(await admin.listTopics());
            if (round.every((t) => now.has(t.name))) return;
          }
          throw err;
        });
        created.push(...round.map((t) => t.name));
      }
    }
    const present = plan.filter((t) => existing.has(t.name) || created.includes(t.name)).map((t) => t.name);
    const described = await describe(admin, present);
    const partitionsOf = (topic: string) => described.get(topic)?.partitions;
    let problems = 0;
    for (const t of plan) {
      const have = described.get(t.name);
      if (!have) {
        out(`missing  ${t.name}  (${t.purpose}; vigil topics creates it)`);
        problems++;
        continue;
      }
      const wrong = topicProblems(t, have, k, partitionsOf);
      const what = `${have.partitions} partition${have.partitions === 1 ? '' : 's'}, ${have.replicas} replica${have.replicas === 1 ? '' : 's'}, min.insync.replicas ${have.configs['min.insync.replicas'] ?? '?'}${t.compact ? `, cleanup.policy ${have.configs['cleanup.policy'] ?? '?'}` : ''}`;
      out(`${created.includes(t.name) ? 'created' : wrong.length > 0 ? 'wrong  ' : 'ok     '}  ${t.name}  ${what}  (${t.purpose})`);
      for (const w of wrong) out(`         ${w}`);
      problems += wrong.length;
    }
    return problems > 0 ? 1 : 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
    await bus.close();
  }
}

type Admin = Awaited<ReturnType<KafkaBus['admin']>>;

/** Metadata of a topic just created can lag a moment behind ("does not host this topic-partition"). */
async function settled<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  if (topics.length === 0) return new Map();
  const meta = await settled(() => admin.fetchTopicMetadata({ topics: [...new Set(topics)] }));
  return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
}

async function describe(admin: Admin, topics: string[]): Promise<Map<string, ExistingTopic>> {
  const out = new Map<string, ExistingTopic>();
  if (topics.length === 0) return out;
  const meta = await settled(() => admin.fetchTopicMetadata({ topics }));
  // ConfigResourceTypes.TOPIC is 2.
  const configs = await settled(() => admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2, name, configNames: ['min.insync.replicas', 'cleanup.policy'] })) }));
  for (const t of meta.topics) {
    const resource = configs.resources.find((r) => r.resourceName === t.name);
    out.set(t.name, {
      partitions: t.partitions.length,
      replicas: Math.min(...t.partitions.map((p) => p.replicas.length)),
      configs: Object.fromEntries((resource?.configEntries ?? []).map((e) => [e.configName, e.configValue])),
    });
  }
  return out;
}

export type { PlannedTopic };
