import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry, MemoryBus, createTelemetry, type Bus, type BusProducer, type ConsumedRecord, type SubscribeOptions } from '@vigil/platform';
import { openShipper, topicRuns, type DropCount, type QueuedShipper, type ShipperOptions } from '../src/shipper.js';

/**
 * The in-process bus behind a gate the test opens and closes: `fail` makes sends throw (a
 * broker that refuses), `hang` holds them until the gate opens (a broker that does not answer).
 * The bus itself is the real in-process one; the shipper's behaviour against a real Kafka going
 * away is proven in test/collector-kafka-outage.test.ts.
 */
class GatedBus implements Bus {
  readonly kind = 'memory' as const;
  mode: 'open' | 'fail' | 'hang' = 'open';
  private opened: { resolve: () => void; reject: (err: Error) => void }[] = [];
  constructor(readonly inner: MemoryBus) {}
  set(mode: 'open' | 'fail' | 'hang') {
    this.mode = mode;
    if (mode === 'open') for (const o of this.opened.splice(0)) o.resolve();
  }
  /** The sends held by `hang` fail without having been taken (a broker that died before writing). */
  refuseHeld() {
    for (const o of this.opened.splice(0)) o.reject(new Error('connection closed (test gate)'));
  }
  ensureTopics = (t: Parameters<Bus['ensureTopics']>[0]) => this.inner.ensureTopics(t);
  subscribe = (o: SubscribeOptions) => this.inner.subscribe(o);
  follow: Bus['follow'] = (o) => this.inner.follow(o);
  status = () => this.inner.status();
  close = () => this.inner.close();
  async producer(): Promise<BusProducer> {
    const p = await this.inner.producer();
    return {
      send: async (topic, records) => {
        if (this.mode === 'fail') throw new Error('connection refused (test gate)');
        if (this.mode === 'hang') await new Promise<void>((resolve, reject) => this.opened.push({ resolve, reject }));
        await p.send(topic, records);
      },
    };
  }
}

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(over: Partial<ShipperOptions> = {}, dir?: string) {
  const spoolDir = dir ?? (await mkdtemp(join(tmpdir(), 'vigil-shipper-')));
  if (!dir) dirs.push(spoolDir);
  const inner = new MemoryBus({ partitions: 1 });
  const bus = new GatedBus(inner);
  const telemetry = createTelemetry('shipper-test');
  const health = new HealthRegistry();
  const drops: DropCount[] = [];
  const shipper = await openShipper({
    bus,
    meter: telemetry.meter,
    health,
    maxQueue: 50,
    spool: { dir: spoolDir, maxBytes: 1024 * 1024 },
    sendTimeoutMs: 200,
    retry: { baseMs: 20, maxMs: 100 },
    onDropsReported: (d) => drops.push(d),
    ...over,
  });
  const got: ConsumedRecord[] = [];
  const sub = await inner.subscribe({ groupId: 'test', topics: ['logs', 'metrics'], handler: async (b) => void got.push(...b.records) });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await shipper.stop();
    await sub.stop();
    await telemetry.shutdown();
  };
  cleanups.push(stop);
  return { shipper, bus, got, health, drops, spoolDir, stop, telemetry };
}

const ship = (s: QueuedShipper, i: number, topic = i % 2 ? 'logs' : 'metrics') => s.ship(topic, 'host-1', Buffer.from(String(i)), 1, 'test');
const values = (got: ConsumedRecord[]) => got.map((r) => Number(r.value.toString()));
const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const seq = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('topicRuns', () => {
  it('split a batch into runs of one topic, keeping the order', () => {
    expect(topicRuns([{ topic: 'a' }, { topic: 'a' }, { topic: 'b' }, { topic: 'a' }])).toEqual([
      { topic: 'a', from: 0, to: 2 },
      { topic: 'b', from: 2, to: 3 },
      { topic: 'a', from: 3, to: 4 },
    ]);
    expect(topicRuns([])).toEqual([]);
  });
});

describe('shipper', () => {
  it('send straight to the bus while it takes records, resolving once accepted, in order', async () => {
    const { shipper, got, health } = await setup({ maxQueue: 1000 });
    await Promise.all(seq(0, 200).map((i) => ship(shipper, i)));
    await until('all on the bus', () => got.length === 200);
    expect(values(got)).toEqual(seq(0, 200));
    expect(shipper.state()).toEqual({ mode: 'direct', queued: 0, spool: { entries: 0, records: 0, bytes: 0 } });
    expect(health.report().checks.spool?.status).toBe('up');
  });

  it('spool while the bus refuses, replay in order when it is back, then send new records behind the spool', async () => {
    const { shipper, bus, got, health } = await setup();
    await Promise.all(seq(0, 10).map((i) => ship(shipper, i)));
    bus.set('fail');
    // Every ship resolves although the bus refuses: the records are on disk.
    await Promise.all(seq(10, 300).map((i) => ship(shipper, i)));
    expect(shipper.state().mode).toBe('spooling');
    expect(shipper.state().spool.entries).toBe(290);
    expect(health.report().checks.spool).toMatchObject({ status: 'degraded', detail: expect.stringMatching(/^290 records \(\d+ bytes\) wait on disk/) });
    expect(health.report().status).toBe('degraded');
    bus.set('open');
    const late = Promise.all(seq(300, 350).map((i) => ship(shipper, i)));
    await late;
    await until('all on the bus', () => got.length >= 350);
    expect(values(got)).toEqual(seq(0, 350));
    await until('back to direct', () => shipper.state().mode === 'direct');
    expect(shipper.state().spool).toEqual({ entries: 0, records: 0, bytes: 0 });
  });

  it('never block a plugin on a bus that does not answer: the batch in flight times out into the spool, ahead of what came after', async () => {
    const { shipper, bus, got } = await setup({ maxQueue: 20 });
    bus.set('hang');
    const t0 = Date.now();
    await Promise.all(seq(0, 100).map((i) => ship(shipper, i)));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(shipper.state().mode).toBe('spooling');
    bus.set('open');
    await until('all on the bus', () => new Set(values(got)).size === 100);
    await until('back to direct', () => shipper.state().mode === 'direct');
    // Each once, in order.
    expect(values(got)).toEqual(seq(0, 100));
  });

  it('send once what a timed-out send delivered late, and replay it when it never arrived', async () => {
    for (const late of ['taken', 'refused'] as const) {
      const { shipper, bus, got, stop } = await setup({ maxQueue: 1000 });
      bus.set('hang');
      // A batch goes out and hangs; after the timeout it and everything after it are spooled.
      const t0 = Date.now();
      await Promise.all(seq(0, 10).map((i) => ship(shipper, i, 'logs')));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
      expect(shipper.state().mode).toBe('spooling');
      await Promise.all(seq(10, 30).map((i) => ship(shipper, i, 'logs')));
      if (late === 'refused') bus.refuseHeld();
      bus.set('open');
      await until(`all on the bus (${late})`, () => new Set(values(got)).size === 30);
      await until('back to direct', () => shipper.state().mode === 'direct');
      await Promise.all(seq(30, 40).map((i) => ship(shipper, i, 'logs')));
      await until('the rest', () => new Set(values(got)).size === 40);
      expect(values(got), late).toEqual(seq(0, 40));
      await stop();
    }
  });

  it('spool when the in-memory queue is full, keeping the order', async () => {
    const { shipper, got } = await setup({ maxQueue: 5 });
    await Promise.all(seq(0, 500).map((i) => ship(shipper, i)));
    await until('all on the bus', () => got.length === 500);
    expect(values(got)).toEqual(seq(0, 500));
  });

  it('drop the oldest when the spool is full, count them, and report once when delivery resumes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-shipper-'));
    dirs.push(dir);
    const { shipper, bus, got, drops, telemetry } = await setup({ spool: { dir, maxBytes: 4096, segmentBytes: 1024 } }, dir);
    bus.set('fail');
    for (const i of seq(0, 400)) await ship(shipper, i);
    expect(drops).toEqual([]);
    bus.set('open');
    await until('back to direct', () => shipper.state().mode === 'direct');
    const kept = values(got);
    expect(kept.length).toBeLessThan(400);
    expect(kept).toEqual(seq(400 - kept.length, 400));
    expect(drops).toHaveLength(1);
    expect(drops[0]!.records).toBe(400 - kept.length);
    // Delivery resumed once: no second report.
    await ship(shipper, 400);
    expect(drops).toHaveLength(1);
    const text = await metricsText(telemetry);
    expect(text).toMatch(new RegExp(`vigil_collector_spool_dropped_records(_total)?(\\{[^}]*\\})? ${400 - kept.length}\\b`));
    expect(text).toMatch(/vigil_collector_kafka_errors(_total)?(\{[^}]*\})? [1-9]/);
  });

  it('keep spooled records across a restart and send them before new ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-shipper-'));
    dirs.push(dir);
    const first = await setup({}, dir);
    first.bus.set('fail');
    await Promise.all(seq(0, 50).map((i) => ship(first.shipper, i)));
    first.bus.set('hang');
    await first.stop();
    const second = await setup({}, dir);
    expect(second.shipper.state().mode).toBe('spooling');
    await Promise.all(seq(50, 60).map((i) => ship(second.shipper, i)));
    await until('all on the bus', () => second.got.length === 60);
    expect(values(second.got)).toEqual(seq(0, 60));
  });

  it('count records in and out per source on /metrics, with queue and spool gauges', async () => {
    const { shipper, got, telemetry } = await setup();
    await shipper.ship('logs', 'h', Buffer.from('1'), 7, 'file');
    await shipper.ship('metrics', 'h', Buffer.from('2'), 3, 'otlp');
    await until('on the bus', () => got.length === 2);
    const text = await metricsText(telemetry);
    expect(text).toMatch(/vigil_collector_records_received(_total)?\{[^}]*source="file"[^}]*\} 7/);
    expect(text).toMatch(/vigil_collector_records_sent(_total)?\{[^}]*source="otlp"[^}]*\} 3/);
    expect(text).toMatch(/vigil_collector_queue_length(\{[^}]*\})? 0\n/);
    expect(text).toMatch(/vigil_collector_spool_bytes(\{[^}]*\})? 0\n/);
    expect(text).toMatch(/vigil_collector_spool_records(\{[^}]*\})? 0\n/);
  });
});

async function metricsText(telemetry: ReturnType<typeof createTelemetry>): Promise<string> {
  const { createServer } = await import('node:http');
  const srv = createServer((req, res) => telemetry.handle(req, res));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } finally {
    srv.close();
  }
}
