import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { HealthRegistry, KafkaBus, createHttpServer, createTelemetry, logEntries, parseConfig } from '@vigil/platform';
import { createCollectorRole, type CollectorRole } from '@vigil/collector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_DIR } from './harness/kafka-broker.js';
import { startKafkaFromJars, type RunningKafka } from './harness/kafka-jvm.js';
import { eventually, freePort, unique } from './harness/index.js';

/**
 * "Never block, never lose silently", against a real broker that goes away: applications post
 * JSON events to a collector's intake without pause while its Kafka is stopped for 30 s and
 * started again on the same port and data. Every event the intake accepted must arrive, and
 * each application's events in the order it sent them.
 */
const SOURCES = 4;
const BATCH = 10;
const OUTAGE_MS = 30_000;

describe('collector across a Kafka outage', () => {
  let kafka: RunningKafka;
  let role: CollectorRole;
  let bus: KafkaBus;
  let main: string;
  let intake: string;
  let topic: string;
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-outage-'));
  const telemetry = createTelemetry('outage-test');
  const health = new HealthRegistry();
  const app = createHttpServer(health, telemetry);

  beforeAll(async () => {
    kafka = await startKafkaFromJars({ cacheDir: DEFAULT_CACHE_DIR });
    topic = unique('outage-logs');
    const port = await freePort();
    const config = parseConfig(
      [
        `dataDir: ${dir}`,
        'kafka:',
        `  brokers: [${kafka.brokers}]`,
        '  topics:',
        `    logs: ${topic}`,
        `    metrics: ${unique('outage-metrics')}`,
        'collector:',
        '  host:',
        '    enabled: false',
        '  queue:',
        '    maxRecords: 200',
        '  plugins:',
        '    - type: otlp',
        '      name: apps',
        `      listen: 127.0.0.1:${port}`,
      ].join('\n'),
      { env: {} },
    );
    bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'outage-test', partitions: 3 });
    await bus.ensureTopics([{ name: topic, partitions: 3 }]);
    role = createCollectorRole({ config, bus, telemetry, health }, { http: app });
    main = await app.listen({ host: '127.0.0.1', port: 0 });
    await role.start();
    intake = `http://127.0.0.1:${port}/v1/events`;
  }, 180_000);

  afterAll(async () => {
    await role?.stop();
    await app.close();
    await bus?.close();
    await kafka?.stop();
    await telemetry.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts every event during a 30 s outage and delivers all of them afterwards, in order per source', async () => {
    const accepted = Array.from({ length: SOURCES }, () => 0);
    const slowest = { ms: 0 };
    let running = true;
    // Each application posts a batch, waits for the answer, and goes on (as a background queue would).
    const load = Array.from({ length: SOURCES }, async (_, s) => {
      while (running) {
        const from = accepted[s]!;
        const events = Array.from({ length: BATCH }, (_, i) => ({ message: `app-${s} event ${from + i}`, attributes: { 'app.id': `app-${s}`, seq: from + i } }));
        const t0 = Date.now();
        const res = await fetch(intake, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
        slowest.ms = Math.max(slowest.ms, Date.now() - t0);
        expect(res.status).toBe(202);
        accepted[s] = from + BATCH;
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    await new Promise((r) => setTimeout(r, 4_000));
    const beforeOutage = accepted.reduce((a, b) => a + b, 0);
    await kafka.halt();
    const haltedAt = Date.now();
    // While Kafka is away the intake keeps accepting, and the spool holds what it accepted.
    const spooling = await eventually('the spool in use', async () => (await (await fetch(`${main}/health`)).json()) as { checks: Record<string, { status: string; detail?: string }> }, (h) => h.checks.spool?.status === 'degraded' && /^[1-9]/.test(h.checks.spool.detail ?? ''), 20_000);
    expect(spooling.checks.spool?.detail).toMatch(/wait on disk/);
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - haltedAt)));
    const duringOutage = accepted.reduce((a, b) => a + b, 0) - beforeOutage;
    await kafka.resume();
    await new Promise((r) => setTimeout(r, 4_000));
    running = false;
    await Promise.all(load);
    await role.collectNow();

    const total = accepted.reduce((a, b) => a + b, 0);
    expect(duringOutage).toBeGreaterThan(1_000);
    // Read everything back from the restarted broker.
    const seen = new Map<string, number[]>();
    let read = 0;
    const sub = await bus.subscribe({
      groupId: unique('outage-reader'),
      topics: [topic],
      handler: async (batch) => {
        for (const r of batch.records) {
          for (const e of logEntries(r.value)) {
            const app = e.attributes['app.id'];
            if (!app) continue;
            if (!seen.has(app)) seen.set(app, []);
            seen.get(app)!.push(Number(e.attributes.seq));
            read++;
          }
        }
      },
    });
    try {
      await eventually(
        'every accepted event read back',
        () => [...seen.values()].reduce((n, l) => n + new Set(l).size, 0),
        (n) => n >= total,
        90_000,
        500,
      );
    } catch (err) {
      // Which side stopped: the collector's spool (records still waiting) or the reader.
      const metrics = await (await fetch(`${main}/metrics`)).text().catch(() => '');
      const shipper = metrics.split('\n').filter((l) => /^vigil_collector_(spool_records|spool_bytes|records_sent_total|records_failed_total|kafka_errors_total)/.test(l));
      const perApp = [...seen].map(([app, l]) => `${app}: ${new Set(l).size}/${accepted[Number(app.slice(4))]}`);
      throw new Error(`${(err as Error).message}; accepted ${total}; read ${perApp.join(', ')}; collector: ${shipper.join('; ')}`);
    } finally {
      await sub.stop();
    }

    let duplicates = 0;
    for (let s = 0; s < SOURCES; s++) {
      const got = seen.get(`app-${s}`) ?? [];
      // At least once: a send that timed out as Kafka went away may have landed too; its copy comes again from the spool.
      const first = got.filter((v, i) => got.indexOf(v) === i);
      duplicates += got.length - first.length;
      expect(first, `app-${s}: every event, in the order sent`).toEqual(Array.from({ length: accepted[s]! }, (_, i) => i));
    }
    const metrics = await (await fetch(`${main}/metrics`)).text();
    const errors = Number(/vigil_collector_kafka_errors_total(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1]);
    expect(errors).toBeGreaterThan(0);
    expect(metrics).toMatch(/vigil_collector_spool_dropped_records_total(\{[^}]*\})? 0\n/);
    console.log(
      `[outage] accepted ${total} events (${duringOutage} during the ${OUTAGE_MS / 1000} s outage), read back ${read} (${duplicates} duplicates), ` +
        `slowest intake answer ${slowest.ms} ms, ${errors} Kafka errors`,
    );
  }, 240_000);
});
