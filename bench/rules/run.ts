/**
 * bench/rules: the rules engine's throughput, latency and memory. Prints figures; not a timed test.
 *
 *   throughput  100 rules (80 over metrics, 20 over events) on 10,000 series from 100 sources and
 *               an event stream, records fed as the decoders give them, on a virtual clock (1 s of
 *               event time per round). Points and records per second on one core (the engine is
 *               single-threaded), beside a plain loop doing the same map updates in the same run
 *               (group key, map lookup, sample appended: the limit without matching, windows or state).
 *   latency     over the real Kafka (KAFKA_BROKERS, else the test harness's broker): the rules worker
 *               consumes 10,000 points/s; now and then one series crosses the threshold; the time
 *               from the end of the window that holds the crossing to the transition read back from
 *               vigil.alerts, p50 and p99.
 *   memory      heap per 10,000 active groups (threshold groups with a minute of 10 s samples).
 *
 * pnpm bench:rules [--skip-latency | --only-latency]. The latency rule takes the window's max, so
 * the window that first holds the hot sample is the one that fires. The load average is printed beside each figure: the machine
 * is shared.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { HealthRegistry, KafkaBus, createTelemetry, decodeAlert, encodeMetrics, parseConfig, setLogLevel, type LogEntry, type MetricPoint, type ResourceInfo } from '@vigil/platform';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { RuleEngine, checkRule, compileRules, createRulesRole } from '@vigil/rules';
import { obtainKafkaBroker } from '../../test/harness/kafka-broker.js';

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const line = (s: string) => process.stdout.write(`${s}\n`);

/** SOURCES and ROUNDS shrink it for a smoke run (test/bench-smoke.test.ts). */
const SOURCES = Number(process.env.SOURCES ?? 100);
const METRICS = 10;
const SERIES_PER_METRIC_AND_SOURCE = 10; // 100 sources × 10 metrics × 10 series = 10,000 series
const ROUNDS = Number(process.env.ROUNDS ?? 60);
const EVENTS_PER_ROUND = 2_000;

const scope = { name: 'bench', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };

function resources(): ResourceInfo[] {
  return Array.from({ length: SOURCES }, (_, s) => ({ attributes: { 'host.id': `host-${s}`, 'host.name': `host-${s}`, 'service.name': `svc-${s % 5}` }, schemaUrl: '', serviceName: `svc-${s % 5}` }));
}

/** One round of points per source (what one OTLP request of a collector holds), at `t`. */
function round(res: ResourceInfo[], t: number): MetricPoint[][] {
  return res.map((r, s) => {
    const out: MetricPoint[] = [];
    for (let m = 0; m < METRICS; m++) {
      for (let i = 0; i < SERIES_PER_METRIC_AND_SOURCE; i++) {
        out.push({
          resource: r,
          scope,
          name: `bench.m${m}`,
          description: '',
          unit: '1',
          attributes: { series: `s${i}`, mode: i % 2 === 0 ? 'user' : 'idle' },
          startTimeUnixNano: '0',
          timeUnixNano: `${t}000000`,
          flags: 0,
          exemplars: [],
          kind: 'gauge',
          value: ((s * 7 + m * 13 + i * 17 + t / 1000) % 100) / 100,
        });
      }
    }
    return out;
  });
}

function events(res: ResourceInfo[], t: number): LogEntry[] {
  return Array.from({ length: EVENTS_PER_ROUND }, (_, i) => ({
    resource: res[i % SOURCES]!,
    scope,
    timeUnixNano: `${t + (i % 1000)}000000`,
    observedTimeUnixNano: '0',
    severityNumber: i % 10 === 0 ? 17 : 9,
    severityText: i % 10 === 0 ? 'ERROR' : 'INFO',
    body: `request ${i} handled`,
    attributes: { 'vigil.category': i % 50 === 0 ? 'database_connection' : '', 'http.route': `/r${i % 20}` },
    traceId: '',
    spanId: '',
    flags: 0,
    eventName: i % 10 === 0 ? 'app.error' : 'app.request',
  }));
}

/** 80 rules over the metrics (8 per metric, various matchers, groupings and aggregates), 20 over events. */
function benchRules() {
  const raw: Record<string, unknown>[] = [];
  const aggs = ['avg', 'max', 'min', 'last'];
  for (let m = 0; m < METRICS; m++) {
    for (let k = 0; k < 8; k++) {
      raw.push({
        name: `m${m}_r${k}`,
        metric: `bench.m${m}`,
        where: k % 2 === 0 ? { mode: '!idle' } : {},
        groupBy: k % 4 === 3 ? ['service.name'] : ['host.name'],
        ...(k % 3 === 0 ? { combine: 'sum' } : {}),
        aggregate: aggs[k % aggs.length],
        window: '1m',
        warning: 0.7 + k * 0.01,
        critical: 0.9 + k * 0.005,
        for: k % 2 === 0 ? '0s' : '30s',
      });
    }
  }
  for (let e = 0; e < 20; e++) {
    if (e < 12) raw.push({ name: `ev_freq_${e}`, kind: 'frequency', events: e % 2 === 0 ? { severity: 'error' } : { name: 'app.request', where: { 'http.route': `/r${e}` } }, groupBy: ['host.name'], window: '1m', warning: 50 + e });
    else if (e < 16) raw.push({ name: `ev_absent_${e}`, kind: 'absence', events: { name: 'app.request' }, groupBy: ['host.name', 'service.name'], after: '5m' });
    else raw.push({ name: `ev_ratio_${e}`, kind: 'ratio', numerator: { events: { severity: 'error' } }, denominator: { events: {} }, groupBy: ['service.name'], window: '1m', warning: 0.5 });
  }
  return compileRules(raw.map((r, i) => checkRule(r, `bench: rules[${i}]`)));
}

function throughput(): void {
  const res = resources();
  const t0 = Date.UTC(2026, 0, 1);
  const rounds = Array.from({ length: ROUNDS }, (_, k) => ({ points: round(res, t0 + k * 1000), events: events(res, t0 + k * 1000) }));
  const compiled = benchRules();
  const totalPoints = ROUNDS * SOURCES * METRICS * SERIES_PER_METRIC_AND_SOURCE;
  const totalEvents = ROUNDS * EVENTS_PER_ROUND;

  // The engine: every round's requests, then what became due.
  const runEngine = () => {
    const engine = new RuleEngine(compiled, { stepMs: 10_000, maxLatenessMs: 30_000 });
    let transitions = 0;
    const began = process.hrtime.bigint();
    for (let k = 0; k < ROUNDS; k++) {
      const now = t0 + k * 1000 + 50;
      for (const req of rounds[k]!.points) engine.ingestMetrics(req, { now });
      engine.ingestLogs(rounds[k]!.events, { now });
      transitions += engine.advance(now).length;
    }
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    return { ms, transitions, groups: engine.groupCount() };
  };

  // The limit: the same map updates (per point and rule that reads it: group key, lookup, a sample appended), nothing else.
  const byMetric = new Map<string, { groupBy: string[] }[]>();
  for (const c of compiled) {
    const k = c.kind!;
    for (const input of k.metricInputs) {
      const list = byMetric.get(input.metric) ?? [];
      list.push({ groupBy: [...k.groupBy] });
      byMetric.set(input.metric, list);
    }
  }
  const eventRules = compiled.filter((c) => c.kind!.eventInputs.length > 0).map((c) => ({ groupBy: [...c.kind!.groupBy] }));
  const runLoop = () => {
    const maps = [...byMetric.values()].flat().concat(eventRules).map(() => new Map<string, number[]>());
    const index = new Map<object, number>();
    let n = 0;
    for (const list of byMetric.values()) for (const r of list) index.set(r, n++);
    for (const r of eventRules) index.set(r, n++);
    const began = process.hrtime.bigint();
    for (let k = 0; k < ROUNDS; k++) {
      for (const req of rounds[k]!.points) {
        for (const p of req) {
          const rules = byMetric.get(p.name);
          if (!rules) continue;
          const ts = Number(p.timeUnixNano.slice(0, -6));
          for (const r of rules) {
            let key = '';
            for (const g of r.groupBy) key += `${p.attributes[g] ?? p.resource.attributes[g] ?? ''}\u0000`;
            const map = maps[index.get(r)!]!;
            let arr = map.get(key);
            if (!arr) map.set(key, (arr = []));
            arr.push(ts, (p as { value: number }).value);
          }
        }
      }
      for (const e of rounds[k]!.events) {
        const ts = Number(e.timeUnixNano.slice(0, -6));
        for (const r of eventRules) {
          let key = '';
          for (const g of r.groupBy) key += `${e.attributes[g] ?? e.resource.attributes[g] ?? ''}\u0000`;
          const map = maps[index.get(r)!]!;
          let arr = map.get(key);
          if (!arr) map.set(key, (arr = []));
          arr.push(ts);
        }
      }
    }
    return Number(process.hrtime.bigint() - began) / 1e6;
  };

  runEngine();
  runLoop();
  const engineRuns = [runEngine(), runEngine(), runEngine()];
  const loopRuns = [runLoop(), runLoop(), runLoop()];
  const best = Math.min(...engineRuns.map((r) => r.ms));
  const bestLoop = Math.min(...loopRuns);
  const records = totalPoints + totalEvents;
  line(`throughput: ${compiled.length} rules, ${SOURCES * METRICS * SERIES_PER_METRIC_AND_SOURCE} series from ${SOURCES} sources, ${EVENTS_PER_ROUND} events/round, ${ROUNDS} rounds (load average ${load()})`);
  line(`  engine      ${Math.round(totalPoints / (best / 1000)).toLocaleString('en')} points/s + ${Math.round(totalEvents / (best / 1000)).toLocaleString('en')} records/s on one core (${Math.round(records / (best / 1000)).toLocaleString('en')} inputs/s; best of 3: ${best.toFixed(0)} ms; ${engineRuns[0]!.groups} groups, ${engineRuns[0]!.transitions} transitions)`);
  line(`  plain loop  ${Math.round(records / (bestLoop / 1000)).toLocaleString('en')} inputs/s (best of 3: ${bestLoop.toFixed(0)} ms): the engine runs at ${((bestLoop / best) * 100).toFixed(0)} % of the limit`);
}

function memory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    line('memory: run with node --expose-gc (pnpm bench:rules does)');
    return;
  }
  const res = resources();
  const compiled = compileRules([checkRule({ name: 'mem', metric: 'bench.m0', groupBy: ['host.name', 'series'], window: '1m', critical: 0.99 }, 'bench')]);
  const t0 = Date.UTC(2026, 0, 1);
  gc();
  const before = process.memoryUsage().heapUsed;
  const engine = new RuleEngine(compiled, { stepMs: 10_000 });
  // 100 sources × 100 series of bench.m0 = 10,000 groups; six samples each (a minute at 10 s).
  for (let k = 0; k < 6; k++) {
    const now = t0 + k * 10_000;
    for (let s = 0; s < SOURCES; s++) {
      const pts: MetricPoint[] = [];
      for (let i = 0; i < 100; i++) pts.push({ ...round([res[s]!], now)[0]![0]!, attributes: { series: `s${i}` } });
      engine.ingestMetrics(pts, { now });
    }
    engine.advance(now);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  line(`memory: ${engine.groupCount().toLocaleString('en')} active groups (six samples each) take ${((after - before) / 1024 / 1024).toFixed(1)} MiB of heap, ${((after - before) / engine.groupCount()).toFixed(0)} bytes a group (load average ${load()})`);
}

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function latency(): Promise<void> {
  setLogLevel('warn');
  const broker = await obtainKafkaBroker({ log: (l) => process.stderr.write(`[kafka] ${l}\n`) });
  const prefix = `bench-rules-${Date.now().toString(36)}`;
  const stepMs = 1_000;
  const config = parseConfig(
    `kafka:\n  partitions: 3\n  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }\nrules:\n  groupId: ${prefix}\n  evaluationInterval: 1s\n  maxLateness: 5s\n  defaults: false\n  rules:\n    - { name: hot, metric: temp, aggregate: max, critical: 50, window: 2s, groupBy: [host.name, sensor] }\n`,
    { env: { KAFKA_BROKERS: broker.brokers } },
  );
  const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'bench-rules', partitions: 3 });
  await bus.ensureTopics(Object.values(config.kafka.topics).map((name) => ({ name })));
  const role = createRulesRole({ config, bus, telemetry: createTelemetry('bench-rules'), health: new HealthRegistry() });
  await role.start();

  const arrivals = new Map<string, number>();
  const kafka = new Kafka({ clientId: 'bench-rules-watch', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${prefix}-watch`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [config.kafka.topics.alerts], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const a = decodeAlert(message.value!);
      if (a.status === 'firing') arrivals.set(`${a.labels['host.name']}/${a.labels.sensor}`, Date.now());
    },
  });

  // 20 hosts × 50 sensors, one request per host every 100 ms: 10,000 points/s.
  const HOSTS = 20;
  const SENSORS = 50;
  const hot = new Map<string, number>(); // key → time of the first hot sample
  const readers = Array.from({ length: HOSTS }, (_, h) => {
    const reader = new ManualReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': `h${h}`, 'host.id': `${prefix}-h${h}` }), readers: [reader] });
    provider
      .getMeter('bench')
      .createObservableGauge('temp')
      .addCallback((r) => {
        for (let s = 0; s < SENSORS; s++) r.observe(hot.has(`h${h}/s${s}`) ? 90 : 20, { sensor: `s${s}` });
      });
    return { reader, provider };
  });
  const producer = await bus.producer();
  const crossings: string[] = [];
  const runMs = 40_000;
  const began = Date.now();
  let sent = 0;
  let tick = 0;
  while (Date.now() - began < runMs) {
    const t = Date.now();
    // Every 400 ms one more sensor turns hot (about 100 crossings); none in the last 3 s, whose
    // windows would close only by maxLateness once the data stops.
    if (tick % 4 === 0 && tick > 20 && t - began < runMs - 3_000) {
      const key = `h${crossings.length % HOSTS}/s${Math.floor(crossings.length / HOSTS) % SENSORS}`;
      if (!hot.has(key)) {
        hot.set(key, t);
        crossings.push(key);
      }
    }
    tick++;
    const payloads = await Promise.all(readers.map(async ({ reader }) => encodeMetrics((await reader.collect()).resourceMetrics, 'otlp_proto')));
    await producer.send(
      config.kafka.topics.metrics,
      payloads.map((value, h) => ({ key: `h${h}`, value })),
    );
    sent += HOSTS * SENSORS;
    const wait = 100 - (Date.now() - t);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await new Promise((r) => setTimeout(r, 5_000));
  const rate = sent / ((Date.now() - began - 5_000) / 1000);
  // The window that first holds the hot sample ends at the next step after it (samples are dated at collection).
  const lat = crossings
    .filter((k) => arrivals.has(k))
    .map((k) => arrivals.get(k)! - (Math.floor(hot.get(k)! / stepMs) + 1) * stepMs)
    .sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
  line(`latency: threshold crossed → firing read back from vigil.alerts, after the end of the window holding it, at ${Math.round(rate).toLocaleString('en')} points/s over Kafka (load average ${load()})`);
  line(`  ${lat.length} of ${crossings.length} crossings: p50 ${q(50)} ms, p99 ${q(99)} ms, max ${lat.at(-1)} ms`);
  const missed = crossings.filter((k) => !arrivals.has(k));
  // A crossing in the run's last seconds fires only after maxLateness (5 s) once the data stops.
  if (missed.length > 0) line(`  not read back: ${missed.map((k) => `${k} (hot ${((Date.now() - hot.get(k)!) / 1000).toFixed(1)} s before the end)`).join(', ')}`);
  await consumer.disconnect();
  await role.stop();
  await bus.close();
  for (const r of readers) await r.provider.shutdown();
  await broker.stop();
}

setLogLevel('warn');
if (!process.argv.includes('--only-latency')) {
  throughput();
  memory();
}
if (!process.argv.includes('--skip-latency')) await latency();
process.exit(0);
