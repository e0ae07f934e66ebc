/**
 * Alert state owned by partition: the changelog entries a worker leaves, and what the next owner
 * of the partition does with them (on the in-process bus: one worker owns every partition, so a
 * restart is the hand-over).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BARRIER_KEY, HealthRegistry, MemoryBus, changelogTopic, createTelemetry, decodeAlert, encodeMetrics, parseConfig, partitionFor, type AlertTransition, type ConsumedRecord, type PartitionListener } from '@vigil/platform';
import { createRulesRole, type RulesRole } from '../src/index.js';
import { decodeEntry, encodeEntry, takeOver, type AlertEntry } from '../src/ownership.js';

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const transition = (over: Partial<AlertTransition> = {}): AlertTransition => ({
  fingerprint: 'fp1',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'hot', 'host.name': 'web-1', severity: 'critical' },
  annotations: { 'vigil.source': 'web-1' },
  startsAt: '2026-01-01T00:00:00.000Z',
  value: 93,
  rule: 'hot',
  window: 1000,
  ...over,
});

describe('takeOver', () => {
  it('restores firing alerts, forgets resolved ones, publishes again only what was not published', () => {
    const entries = new Map<string, AlertEntry>([
      ['fp1', { transition: transition(), published: true }],
      ['fp2', { transition: transition({ fingerprint: 'fp2' }), published: false }],
      ['fp3', { transition: transition({ fingerprint: 'fp3', status: 'resolved', endsAt: '2026-01-01T00:05:00.000Z' }), published: false }],
      ['fp4', { transition: transition({ fingerprint: 'fp4', status: 'resolved' }), published: true }],
    ]);
    const t = takeOver(entries, 2);
    expect(t.restore.map((r) => [r.fingerprint, r.partition, r.labels.severity])).toEqual([
      ['fp1', 2, undefined],
      ['fp2', 2, undefined],
    ]);
    expect(t.republish.map((r) => r.fingerprint)).toEqual(['fp2', 'fp3']);
    expect(t.forget).toEqual(['fp3', 'fp4']);
    expect(decodeEntry(encodeEntry({ transition: transition(), published: true }))).toEqual({ transition: transition(), published: true });
  });
});

describe('rules worker: alert state by partition, on the in-process bus', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  const config = parseConfig(
    `kafka: { partitions: 3 }
rules:
  groupId: own
  evaluationInterval: 200ms
  maxLateness: 1s
  defaults: false
  rules:
    - { name: hot, metric: temp, critical: 50, window: 400ms, groupBy: [host.name] }
`,
    { source: 'test' },
  );

  function host(name: string) {
    let value = 0;
    const reader = new ManualReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': name, 'host.id': name }), readers: [reader] });
    provider.getMeter('test').createObservableGauge('temp').addCallback((r) => r.observe(value));
    cleanup.push(() => provider.shutdown());
    return {
      set: (v: number) => (value = v),
      async payload() {
        const { resourceMetrics } = await reader.collect();
        return encodeMetrics(resourceMetrics, 'otlp_proto');
      },
    };
  }

  /** Sends the host's reading every 100 ms until stopped. */
  function feed(bus: MemoryBus, h: ReturnType<typeof host>, name: string): () => void {
    let on = true;
    void (async () => {
      const producer = await bus.producer();
      while (on) {
        await producer.send(config.kafka.topics.metrics, [{ key: name, value: await h.payload() }]);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return () => (on = false);
  }

  async function worker(bus: MemoryBus): Promise<RulesRole> {
    const role = createRulesRole({ config, bus, telemetry: createTelemetry('own-test'), health: new HealthRegistry() }, { watchFiles: false });
    await role.start();
    cleanup.push(() => role.stop());
    return role;
  }

  const alerts = (bus: MemoryBus) => bus.peek(config.kafka.topics.alerts).map((r: ConsumedRecord) => decodeAlert(r.value));

  async function until<T>(what: string, f: () => T, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = f();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(v)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('the next owner continues a firing alert from the changelog: no second page, one resolve', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    await bus.ensureTopics([{ name: config.kafka.topics.alerts, partitions: 3 }]);
    const web = host('web-1');
    web.set(90);
    const stopFeed = feed(bus, web, 'web-1');
    cleanup.push(async () => stopFeed());
    const first = await worker(bus);
    await until('firing', () => alerts(bus), (a) => a.length === 1);
    // The entry is in the source's partition of the changelog, marked published.
    const p = partitionFor('web-1', 3, 0);
    await until('marked published', () => bus.peek(changelogTopic('own')).filter((r) => r.partition === p && r.key !== BARRIER_KEY).map((r) => decodeEntry(r.value).published), (ps) => ps.includes(true));
    await first.stop();

    const second = await worker(bus);
    expect(second.engine.firingCount()).toBe(1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(alerts(bus).map((a) => a.status)).toEqual(['firing']);
    web.set(10);
    await until('resolved', () => alerts(bus).map((a) => a.status), (s) => s.length === 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(alerts(bus).map((a) => [a.status, a.startsAt])).toEqual([
      ['firing', alerts(bus)[0]!.startsAt],
      ['resolved', alerts(bus)[0]!.startsAt],
    ]);
    // Once published, the resolved alert leaves the changelog.
    await until('tombstone', () => new Map(bus.peek(changelogTopic('own')).map((r) => [r.key, r.value.length])).get(alerts(bus)[0]!.fingerprint), (n) => n === 0);
  }, 60_000);

  it('told to take its partitions afresh (it was out of the group), takes them from the changelog, not from what it held', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    await bus.ensureTopics([{ name: config.kafka.topics.alerts, partitions: 3 }]);
    // The worker's partition listener, to play the rebalance after a time out of the group.
    let listener: PartitionListener | undefined;
    const subscribe = bus.subscribe.bind(bus);
    bus.subscribe = async (opts) => {
      listener = opts.partitions;
      return subscribe(opts);
    };
    const web = host('web-1');
    web.set(90);
    const stopFeed = feed(bus, web, 'web-1');
    const w = await worker(bus);
    await until('firing', () => alerts(bus), (a) => a.length === 1);
    stopFeed();
    const fp = alerts(bus)[0]!.fingerprint;
    const p = partitionFor('web-1', 3, 0);
    await until('marked published', () => bus.peek(changelogTopic('own')).filter((r) => r.key === fp).map((r) => decodeEntry(r.value).published), (ps) => ps[ps.length - 1] === true);
    // Meanwhile another owner of the partition resolved the alert and published it: its entry is gone.
    await (await bus.producer()).send(changelogTopic('own'), [{ key: fp, value: Buffer.alloc(0), partition: p }]);
    const all = [0, 1, 2].map((partition) => ({ topic: config.kafka.topics.metrics, partition }));
    await listener!.revoked(all);
    await listener!.assigned(all, { afresh: false });
    expect(w.engine.firingCount()).toBe(1); // a rebalance it was part of: it continues what it held
    await listener!.revoked(all);
    await listener!.assigned(all, { afresh: true });
    expect(w.engine.firingCount()).toBe(0);
  }, 30_000);

  it('publishes what the previous owner recorded and died before publishing', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    await bus.ensureTopics([{ name: config.kafka.topics.metrics, partitions: 3 }, { name: changelogTopic('own'), copartitionedWith: config.kafka.topics.metrics, compact: true }]);
    const lost = transition({ fingerprint: 'lost-fp', annotations: { 'vigil.source': 'web-9' } });
    await (await bus.producer()).send(changelogTopic('own'), [{ key: 'lost-fp', value: encodeEntry({ transition: lost, published: false }), partition: 1 }]);
    const w = await worker(bus);
    await until('published by the new owner', () => alerts(bus), (a) => a.length === 1);
    expect(alerts(bus)[0]).toEqual(lost);
    expect(w.engine.firingCount()).toBe(1);
    await until('marked published', () => bus.peek(changelogTopic('own')).filter((r) => r.key === 'lost-fp').map((r) => decodeEntry(r.value).published), (ps) => ps[ps.length - 1] === true);
  }, 30_000);
});
