import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaBus, createTelemetry, type Bus, type BusProducer, type ConsumedRecord } from '@vigil/platform';
import { eventually, kafkaBrokers, unique } from '../../../test/harness/index.js';
import { DEFAULT_BATCH_BYTES, openShipper, topicRuns } from '../src/shipper.js';
import { DiskSpool } from '../src/spool/spool.js';

/**
 * The byte cap per send against the real broker: kafkajs makes one record batch of a send, and
 * Kafka refuses a batch over message.max.bytes (1 MiB by default) with "message larger than the
 * max message size". Without the cap, a queue of big requests goes out as one refused batch, the
 * collector spools, and the replay sends the same refused batch again.
 */

const REQUEST_BYTES = 48 * 1024;
const REQUESTS = 40; // 1.9 MiB in all

/** The real Kafka bus, with each send's size and outcome written down. */
class WatchedBus implements Bus {
  readonly kind = 'kafka' as const;
  readonly sends: { bytes: number; error?: string }[] = [];
  constructor(readonly inner: KafkaBus) {}
  ensureTopics: Bus['ensureTopics'] = (t) => this.inner.ensureTopics(t);
  subscribe: Bus['subscribe'] = (o) => this.inner.subscribe(o);
  follow: Bus['follow'] = (o) => this.inner.follow(o);
  status: Bus['status'] = () => this.inner.status();
  close: Bus['close'] = () => this.inner.close();
  async producer(): Promise<BusProducer> {
    const p = await this.inner.producer();
    return {
      send: async (topic, records) => {
        const bytes = records.reduce((n, r) => n + r.value.length + (r.key?.length ?? 0), 0);
        try {
          await p.send(topic, records);
          this.sends.push({ bytes });
        } catch (err) {
          this.sends.push({ bytes, error: (err as Error).message });
          throw err;
        }
      },
    };
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A request whose first 4 bytes say its number, so order is checked on the topic. */
function request(i: number): Buffer {
  const b = Buffer.alloc(REQUEST_BYTES, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
}

async function setup() {
  const topic = unique('shipper-bytes');
  const kafka = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('shipper-test'), partitions: 1 });
  const bus = new WatchedBus(kafka);
  await kafka.ensureTopics([{ name: topic }]);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-shipper-kafka-'));
  const telemetry = createTelemetry('shipper-kafka-test');
  cleanups.push(async () => {
    await kafka.close();
    await telemetry.shutdown();
    await rm(dir, { recursive: true, force: true });
  });
  const got: ConsumedRecord[] = [];
  const sub = await kafka.subscribe({ groupId: unique('shipper-bytes-check'), topics: [topic], handler: async (b) => void got.push(...b.records) });
  cleanups.push(() => sub.stop());
  const open = async () => {
    const shipper = await openShipper({ bus, meter: telemetry.meter, maxQueue: 1000, spool: { dir, maxBytes: 64 * 1024 * 1024 }, retry: { baseMs: 50, maxMs: 200 } });
    cleanups.push(() => shipper.stop());
    return shipper;
  };
  const arrived = () => eventually('every request on the topic', () => got.length, (n) => n >= REQUESTS, 30_000, 100);
  return { topic, bus, dir, got, open, arrived };
}

const order = (got: ConsumedRecord[]) => got.map((r) => r.value.readUInt32BE(0));
const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('shipper on Kafka: bytes per send', () => {
  it('requests totalling 1.9 MiB queued at once go straight to Kafka in sends under the cap (none refused, none spooled)', async () => {
    const { topic, bus, got, open, arrived } = await setup();
    const shipper = await open();
    await Promise.all(seq(REQUESTS).map((i) => shipper.ship(topic, 'host-1', request(i), 1, 'test')));
    expect(bus.sends.filter((s) => s.error)).toEqual([]);
    expect(shipper.state()).toEqual({ mode: 'direct', queued: 0, spool: { entries: 0, records: 0, bytes: 0 } });
    expect(Math.max(...bus.sends.map((s) => s.bytes))).toBeLessThanOrEqual(DEFAULT_BATCH_BYTES);
    await arrived();
    expect(order(got)).toEqual(seq(REQUESTS));
  });

  it('a spool holding 1.9 MiB is replayed in sends under the cap, in order', async () => {
    const { topic, bus, dir, got, open, arrived } = await setup();
    const spool = await DiskSpool.open({ dir, maxBytes: 64 * 1024 * 1024 });
    await spool.append(seq(REQUESTS).map((i) => ({ topic, key: 'host-1', value: request(i), count: 1, source: 'test' })));
    await spool.close();
    const shipper = await open();
    await arrived();
    await eventually('the spool emptied', () => shipper.state(), (s) => s.mode === 'direct' && s.spool.entries === 0, 10_000, 50);
    expect(bus.sends.filter((s) => s.error)).toEqual([]);
    expect(Math.max(...bus.sends.map((s) => s.bytes))).toBeLessThanOrEqual(DEFAULT_BATCH_BYTES);
    expect(order(got)).toEqual(seq(REQUESTS));
  });
});

describe('topicRuns with a byte cap', () => {
  const r = (topic: string, bytes: number) => ({ topic, key: null, value: Buffer.alloc(bytes) });
  it('cuts a run where it would pass the cap; a record over the cap goes alone', () => {
    expect(topicRuns([r('a', 40), r('a', 40), r('a', 30), r('a', 10), r('b', 10), r('b', 200), r('b', 1)], 100)).toEqual([
      { topic: 'a', from: 0, to: 2 },
      { topic: 'a', from: 2, to: 4 },
      { topic: 'b', from: 4, to: 5 },
      { topic: 'b', from: 5, to: 6 },
      { topic: 'b', from: 6, to: 7 },
    ]);
    expect(topicRuns([r('a', 100), r('a', 0)], 100)).toEqual([{ topic: 'a', from: 0, to: 2 }]);
  });
});
