/**
 * Every compression codec Kafka has, on the real broker: batches that kcat (librdkafka), the
 * broker itself (Java, recompressing for a topic's compression.type) and KafkaBus write are read
 * by KafkaBus.subscribe; what KafkaBus writes is read by kcat. A batch that cannot be decoded
 * goes whole to the dead-letter topic, and the records behind it and on other partitions are
 * consumed (kafkajs 2.2.4 used to crash the consumer in a loop on it).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs, { logLevel, type Admin, type Producer } from 'kafkajs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { compressFrame } from 'lz4-napi';
import { KafkaBus, type ConsumedRecord, type DeadLetter, type Subscription } from '../src/index.js';
import { compressionType, snappyBlocks, type Compression } from '../src/bus/codecs.js';
import { undecodableMarker } from '../src/bus/kafkajs-undecodable.js';
import { eventually, kafkaBrokers, unique } from '../../../test/harness/index.js';

const { Kafka, CompressionCodecs, CompressionTypes } = kafkajs;
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const satisfies readonly Compression[];
const KCAT = '/usr/bin/kcat';
/** Makes a value compressible enough that librdkafka keeps it compressed. */
const PAD = 'vigil '.repeat(40);

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** Runs kcat with `input` on stdin; fails naming the package when it is not installed. */
function kcat(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(KCAT, ['-b', kafkaBrokers().join(','), ...args], { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error(`${KCAT} is missing: install the Debian package kcat (scripts/test-peers.sh does)`));
      else if (err) reject(new Error(`kcat ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    child.stdin!.end(input);
  });
}

/** Lines `key:value` for kcat -K: */
const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-key-${i % 7}:${prefix}-record-${i}`);

/** Counts kafkajs's codec lookups per type (one per compressed batch it decodes or encodes). */
function countCodecUse(): { counts: Map<number, number>; restore(): void } {
  const counts = new Map<number, number>();
  const saved = new Map<number, () => unknown>();
  for (const type of [CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
    const factory = CompressionCodecs[type as keyof typeof CompressionCodecs] as () => unknown;
    saved.set(type, factory);
    (CompressionCodecs as Record<number, () => unknown>)[type] = () => {
      counts.set(type, (counts.get(type) ?? 0) + 1);
      return factory();
    };
  }
  return {
    counts,
    restore: () => {
      for (const [type, factory] of saved) (CompressionCodecs as Record<number, () => unknown>)[type] = factory;
    },
  };
}

describe('codec helpers', () => {
  it('reads raw snappy and xerial-framed snappy (Java) alike', () => {
    const raw = Buffer.from('raw snappy block');
    expect(snappyBlocks(raw)).toEqual([raw]);
    const framed = Buffer.concat([
      Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]),
      Buffer.from([0, 0, 0, 3]),
      Buffer.from('abc'),
      Buffer.from([0, 0, 0, 2]),
      Buffer.from('de'),
    ]);
    expect(snappyBlocks(framed).map(String)).toEqual(['abc', 'de']);
    expect(() => snappyBlocks(Buffer.concat([framed, Buffer.from([0, 0, 0, 9, 1])]))).toThrow(/runs past the end/);
  });

  it('makes a marker for an undecodable batch only when its header is whole', () => {
    // firstOffset 100, 3 records, lastOffsetDelta 2, zstd, in a buffer with 5 bytes before it.
    const header = Buffer.alloc(61 + 4);
    header.writeBigInt64BE(100n, 0);
    header.writeInt32BE(49 + 4, 8);
    header.writeInt8(2, 16);
    header.writeInt16BE(4, 21);
    header.writeInt32BE(2, 23);
    header.writeBigInt64BE(1_700_000_000_000n, 27);
    header.writeInt32BE(3, 57);
    const buffer = Buffer.concat([Buffer.alloc(5), header]);
    const marked = undecodableMarker(buffer, 5, new Error('bad frame'))!;
    expect(marked.end).toBe(buffer.length);
    const [marker] = marked.batch.records as { offset: string; value: Buffer; timestamp: string }[];
    expect(marker!.offset).toBe('102');
    expect(marker!.timestamp).toBe('1700000000000');
    expect(marker!.value.equals(header)).toBe(true);
    expect(undecodableMarker(buffer.subarray(0, buffer.length - 1), 5, new Error('x'))).toBeUndefined();
  });
});

describe('compressed batches on the real broker, through KafkaBus', () => {
  let admin: Admin;
  let producer: Producer;
  let reader: TestReader;
  let bus: KafkaBus;
  const subs: Subscription[] = [];
  const dlq = unique('codecs-dlq');

  beforeAll(async () => {
    const brokers = kafkaBrokers();
    const kafka = new Kafka({ clientId: unique('codecs-admin'), brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
    reader = new TestReader();
    bus = new KafkaBus({ brokers, clientId: unique('codecs'), partitions: 1, dlqTopic: dlq, meter: new MeterProvider({ readers: [reader] }).getMeter('test') });
    await bus.ensureTopics([{ name: dlq }]);
  });

  afterAll(async () => {
    await Promise.all(subs.map((s) => s.stop()));
    await bus?.close();
    await producer?.disconnect();
    await admin?.disconnect();
  });

  async function consume(on: KafkaBus, topic: string, groupId = unique('codecs-group')): Promise<ConsumedRecord[]> {
    const got: ConsumedRecord[] = [];
    subs.push(await on.subscribe({ groupId, topics: [topic], handler: async (b) => void got.push(...b.records) }));
    return got;
  }

  /** The group committed every partition of `topic` up to its end, dead-lettered batches included. */
  async function expectCommittedToEnd(groupId: string, topic: string): Promise<void> {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
    const committed = await eventually(
      `${groupId} committed to the end of ${topic}`,
      async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions,
      (ps) => ps.every((p) => p.offset === ends.get(p.partition)),
      10_000,
    );
    expect(committed).toHaveLength(ends.size);
  }

  const values = (records: ConsumedRecord[], partition = 0) => records.filter((r) => r.partition === partition).map((r) => r.value.toString());

  /** Creates `topic`, retrying while a freshly started broker still answers that it does not host it. */
  async function createTopic(topic: string, partitions = 1, compression?: string): Promise<void> {
    const configEntries = compression ? [{ name: 'compression.type', value: compression }] : [];
    await eventually(
      `topic ${topic} with leaders`,
      async () => {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, configEntries }] }).catch((err: Error) => {
          if (!/already exists/i.test(err.message)) throw err;
        });
        const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        return meta!.partitions.length === partitions && meta!.partitions.every((p) => p.leader >= 0);
      },
      (ready) => ready,
    );
  }

  for (const codec of CODECS) {
    it(`${codec}: reads what kcat (librdkafka) compresses`, async () => {
      const topic = unique(`codecs-kcat-${codec}`);
      await createTopic(topic);
      const sent = lines(codec, 500);
      await kcat(['-P', '-t', topic, '-p', '0', '-z', codec, '-K:'], sent.join('\n') + '\n');
      const use = countCodecUse();
      try {
        const got = await consume(bus, topic);
        await eventually(`500 ${codec} records`, () => got.length, (n) => n >= 500);
        expect(values(got)).toEqual(sent.map((l) => l.split(':')[1]));
        expect(got[0]!.key).toBe(`${codec}-key-0`);
        expect(use.counts.get(compressionType(codec))).toBeGreaterThan(0);
      } finally {
        use.restore();
      }
    });

    it(`${codec}: reads what the broker (Java) recompresses for compression.type=${codec}`, async () => {
      const topic = unique(`codecs-broker-${codec}`);
      await createTopic(topic, 1, codec);
      const sent = lines(`broker-${codec}`, 300);
      await kcat(['-P', '-t', topic, '-p', '0', '-K:'], sent.join('\n') + '\n');
      const use = countCodecUse();
      try {
        const got = await consume(bus, topic);
        await eventually(`300 recompressed ${codec} records`, () => got.length, (n) => n >= 300);
        expect(values(got)).toEqual(sent.map((l) => l.split(':')[1]));
        // Really compressed by the broker: kcat sent it uncompressed.
        expect(use.counts.get(compressionType(codec))).toBeGreaterThan(0);
      } finally {
        use.restore();
      }
    });

    it(`${codec}: KafkaBus compresses with kafka.compression=${codec}; kcat and KafkaBus read it back`, async () => {
      const topic = unique(`codecs-bus-${codec}`);
      await createTopic(topic);
      const writer = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('codecs-writer'), partitions: 1, compression: codec });
      try {
        const out = await writer.producer();
        const sent = Array.from({ length: 200 }, (_, i) => `bus-${codec}-${i}-${'x'.repeat(i % 50)}`);
        // The broker decompresses each batch to validate it (Java's codecs), so a send that succeeds is already one check.
        const use = countCodecUse();
        try {
          for (let i = 0; i < sent.length; i += 50) await out.send(topic, sent.slice(i, i + 50).map((v) => ({ key: 'k', value: Buffer.from(v) })));
          expect(use.counts.get(compressionType(codec))).toBe(4);
        } finally {
          use.restore();
        }
        const got = await consume(bus, topic);
        await eventually(`200 records KafkaBus compressed with ${codec}`, () => got.length, (n) => n >= 200);
        expect(values(got)).toEqual(sent);
        const fromKcat = (await kcat(['-C', '-t', topic, '-e', '-q', '-f', '%s\\n'])).trim().split('\n');
        expect(fromKcat).toEqual(sent);
      } finally {
        await writer.close();
      }
    });
  }

  async function deadLetters(): Promise<DeadLetter[]> {
    const out = await kcat(['-C', '-t', dlq, '-e', '-q', '-f', '%s\\n']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as DeadLetter);
  }

  async function undecodableCount(): Promise<number> {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'vigil_kafka_undecodable_batches');
    return (metric?.dataPoints ?? []).reduce((n, p) => n + (p.value as number), 0);
  }

  it('sends a batch with corrupt bytes (lz4, wrong content checksum, which the broker does not check) to the DLQ and consumes what follows', async () => {
    const topic = unique('codecs-poison-lz4');
    await createTopic(topic, 2);
    await kcat(['-P', '-t', topic, '-p', '0', '-K:'], 'k:before-1\nk:before-2\n');
    // A producer whose lz4 codec writes a frame with a content checksum and then breaks it.
    const lz4 = CompressionCodecs[CompressionTypes.LZ4];
    CompressionCodecs[CompressionTypes.LZ4] = () => ({
      async compress(encoder: { buffer: Buffer }) {
        const frame = Buffer.from(await compressFrame(encoder.buffer, { contentChecksum: true }));
        frame[frame.length - 1]! ^= 0xff;
        return frame;
      },
      decompress: async () => Buffer.alloc(0),
    });
    try {
      await producer.send({ topic, compression: CompressionTypes.LZ4, messages: [0, 1, 2].map((i) => ({ key: 'k', value: `poisoned-${i}`, partition: 0 })) });
    } finally {
      CompressionCodecs[CompressionTypes.LZ4] = lz4;
    }
    await kcat(['-P', '-t', topic, '-p', '0', '-z', 'lz4', '-K:'], `k:after-1-${PAD}\nk:after-2-${PAD}\n`);
    await kcat(['-P', '-t', topic, '-p', '1', '-z', 'lz4', '-K:'], `k:other-partition-${PAD}\n`);
    const before = await undecodableCount();

    const group = unique('codecs-group');
    const got = await consume(bus, topic, group);
    await eventually('the records around the poisoned batch', () => got.length, (n) => n >= 5);
    expect(values(got, 0)).toEqual(['before-1', 'before-2', `after-1-${PAD}`, `after-2-${PAD}`]);
    expect(values(got, 1)).toEqual([`other-partition-${PAD}`]);

    const letters = await eventually('the dead letter', async () => (await deadLetters()).filter((l) => l.topic === topic), (l) => l.length >= 1);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ topic, partition: 0, offset: '2', lastOffset: '4', key: null });
    expect(letters[0]!.error).toMatch(/^lz4 batch: .*checksum/i);
    // The value is the raw record batch: base offset 2, then the batch's length.
    const raw = Buffer.from(letters[0]!.value, 'base64');
    expect(raw.readBigInt64BE(0)).toBe(2n);
    expect(raw.readInt32BE(8)).toBe(raw.length - 12);
    expect(await undecodableCount()).toBe(before + 1);
    await expectCommittedToEnd(group, topic);
  });

  it('sends a batch whose codec the consumer lacks (zstd, as kafkajs 2.2.4 shipped) to the DLQ and consumes what follows', async () => {
    const topic = unique('codecs-poison-missing');
    const group = unique('codecs-group');
    await createTopic(topic, 2);
    await kcat(['-P', '-t', topic, '-p', '0', '-K:'], 'k:before\n');
    // librdkafka sends a batch uncompressed when compressing does not make it smaller: long, repetitive values.
    await kcat(['-P', '-t', topic, '-p', '0', '-z', 'zstd', '-K:'], `k:zstd-1-${PAD}\nk:zstd-2-${PAD}\n`);
    await kcat(['-P', '-t', topic, '-p', '0', '-z', 'gzip', '-K:'], `k:after-${PAD}\n`);
    await kcat(['-P', '-t', topic, '-p', '1', '-z', 'zstd', '-K:'], `k:other-zstd-${PAD}\n`);
    const zstd = CompressionCodecs[CompressionTypes.ZSTD];
    CompressionCodecs[CompressionTypes.ZSTD] = () => {
      // What kafkajs 2.2.4's own zstd entry throws.
      throw Object.assign(new Error('ZSTD compression not implemented'), { name: 'KafkaJSNotImplemented' });
    };
    try {
      const got = await consume(bus, topic, group);
      await eventually('the records the consumer can decode', () => got.length, (n) => n >= 2);
      // The offsets the dead letters cover per partition (a busy kcat may send the two zstd records as two batches).
      const covered = (letters: DeadLetter[], partition: number) =>
        letters.filter((l) => l.partition === partition).flatMap((l) => Array.from({ length: Number(l.lastOffset ?? l.offset) - Number(l.offset) + 1 }, (_, i) => Number(l.offset) + i)).sort();
      const letters = await eventually(
        'every zstd record in a dead letter',
        async () => (await deadLetters()).filter((l) => l.topic === topic),
        (l) => covered(l, 0).length >= 2 && covered(l, 1).length >= 1,
      );
      expect(values(got, 0)).toEqual(['before', `after-${PAD}`]);
      expect(values(got, 1)).toEqual([]);
      expect(covered(letters, 0)).toEqual([1, 2]);
      expect(covered(letters, 1)).toEqual([0]);
      for (const l of letters) expect(l.error).toBe('zstd batch: ZSTD compression not implemented');
      await expectCommittedToEnd(group, topic);
    } finally {
      CompressionCodecs[CompressionTypes.ZSTD] = zstd;
    }
  });
});
