/**
 * KafkaBus pipelining on the real broker: with `pipeline` above 1 a partition's next batch reaches
 * the handler while earlier batches' finishes run, offsets are committed in order behind the
 * finishes, and a failed finish is retried alone. With the default of 1, one batch at a time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus, type Batch, type BatchFinish } from '../src/index.js';
import { eventually, kafkaBrokers, unique } from '../../../test/harness/index.js';

const handledAre = (handled: string[], want: string[]) => eventually(`batches ${want.join(' ')} handled`, () => handled.join(' '), (v) => v === want.join(' '), 20_000);
const committedIs = (group: string, topic: string, want: number) => eventually(`offset ${want} committed`, () => committed(group, topic), (v) => v === want, 20_000);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

function newBus(): KafkaBus {
  const bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('pipe'), partitions: 1, sessionTimeoutMs: 10_000 });
  closers.push(() => bus.close());
  return bus;
}

/** The group's committed offset of partition 0 (-1: none yet). */
async function committed(group: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return Number(t!.partitions.find((p) => p.partition === 0)!.offset);
  } finally {
    await admin.disconnect();
  }
}

/** A finish each test resolves or fails by hand. */
interface Held {
  batch: Batch;
  calls: number;
  release: () => void;
  failOnce: boolean;
}

async function setup(pipeline: number | undefined) {
  const bus = newBus();
  const topic = unique('pipe');
  const group = unique('pipe-group');
  await bus.ensureTopics([{ name: topic, partitions: 1 }]);
  const producer = await bus.producer();
  const held: Held[] = [];
  const handled: string[] = [];
  const sub = await bus.subscribe({
    groupId: group,
    topics: [topic],
    ...(pipeline ? { pipeline } : {}),
    handler: async (batch): Promise<BatchFinish> => {
      handled.push(batch.records.map((r) => r.value.toString()).join(','));
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const h: Held = { batch, calls: 0, release, failOnce: false };
      held.push(h);
      return async () => {
        h.calls++;
        await released;
        if (h.failOnce && h.calls === 1) throw new Error('insert failed (test)');
      };
    },
  });
  closers.push(() => sub.stop());
  const send = (v: string) => producer.send(topic, [{ key: 'k', value: Buffer.from(v) }]);
  return { topic, group, held, handled, send, sub };
}

describe('KafkaBus: pipelined batches', () => {
  it('hands over the next batch while a finish runs, and commits in order behind the finishes', async () => {
    const { topic, group, held, handled, send } = await setup(4);
    await send('a');
    await handledAre(handled, ['a']);
    await send('b');
    // The second batch reaches the handler while the first is not durable yet.
    await handledAre(handled, ['a', 'b']);
    await send('c');
    await handledAre(handled, ['a', 'b', 'c']);
    // The later ones are durable first: nothing is committed past the first.
    held[2]!.release();
    held[1]!.release();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await committed(group, topic)).toBe(-1);
    held[0]!.release();
    await committedIs(group, topic, 3);
  });

  it('retries a failed finish alone (the handler is not run again), then commits', async () => {
    const { topic, group, held, handled, send } = await setup(4);
    await send('a');
    await eventually('a batch handled', () => held.length, (n) => n === 1, 20_000);
    held[0]!.failOnce = true;
    held[0]!.release();
    await committedIs(group, topic, 1);
    expect(held[0]!.calls).toBe(2);
    expect(handled).toEqual(['a']);
  });

  it('one batch at a time by default: the next waits for the finish', async () => {
    const { topic, group, held, handled, send } = await setup(undefined);
    await send('a');
    await handledAre(handled, ['a']);
    await send('b');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(handled).toEqual(['a']);
    held[0]!.release();
    await handledAre(handled, ['a', 'b']);
    held[1]!.release();
    await committedIs(group, topic, 2);
  });
});

describe('KafkaBus: a member the group forgot', () => {
  it('rejoins when its commit is refused (the coordinator no longer knows it), and the batch comes again', async () => {
    // A handler that outlasts the session timeout: no heartbeat meanwhile, so the coordinator
    // drops the member; its commit is then refused. Retrying it in place would never succeed.
    const bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('forgot'), partitions: 1, sessionTimeoutMs: 6_000 });
    closers.push(() => bus.close());
    const topic = unique('forgot');
    const group = unique('forgot-group');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const handled: string[] = [];
    const sub = await bus.subscribe({
      groupId: group,
      topics: [topic],
      handler: async (batch) => {
        handled.push(batch.records.map((r) => r.value.toString()).join(','));
        if (handled.length === 1) await new Promise((r) => setTimeout(r, 12_000));
      },
    });
    closers.push(() => sub.stop());
    const producer = await bus.producer();
    await producer.send(topic, [{ key: 'k', value: Buffer.from('a') }]);
    await eventually('offset 1 committed', () => committed(group, topic), (v) => v === 1, 60_000);
    // At least once: the batch whose commit was refused was handled again by the rejoined member.
    expect(handled).toEqual(['a', 'a']);
  }, 90_000);
});
