/**
 * bench/ingest: N OTLP metric points through Kafka → ingest → ClickHouse, with the two limits
 * around it measured in the same run on the same messages:
 *   source limit  kafkajs consuming the topic and doing nothing
 *   sink limits   the same rows inserted straight into ClickHouse (same batch sizes, one stream per
 *                 partition): in RowBinary, the engine's fastest input (bytes made by the engine,
 *                 read from files), as JSONCompactEachRow handed to its parser (ingest's format),
 *                 and through @clickhouse/client's insert (the old limit); each with its CPU
 *   vigil         the ingest role: consume, decode, map, write (with its ledger), commit; timed
 *                 from the first produce of the backlog to its last point being queryable
 *   vigil CPU     this process's CPU seconds over that run and the merges after it, per point (ingest with its embedded
 *                 engine; the producer and the polls are in it too: an upper bound)
 *   Collector     the OpenTelemetry Collector's Kafka receiver (otelcol-vigil, v0.165, built by
 *                 test/harness/deploy-tools.ts into ~/.cache/vigil-tools) on the same backlog into
 *                 a debug exporter that samples almost nothing: decode only, the peer a user would
 *                 pick to read OTLP off Kafka. CPU and peak RSS from /proc. OTELCOL=0 skips it.
 *   vigil ingest  `vigil ingest` as deployed: a process of its own with its embedded engine and
 *   (process)     default settings, on topics of its own; the metrics backlog, then the logs,
 *                 produced at full speed once it holds its partitions; timed until its group
 *                 committed every offset; its own CPU per point and record, and its peak RSS, from
 *                 /proc. PROCESS=0 skips it.
 *   PIPELINE=n    ingest.pipeline for the Vigil run (default 1)
 *   PROFILE=dir   CPU profiles of the Vigil phases, to dir/metrics.cpuprofile and dir/logs.cpuprofile
 *   vigil logs    the ingest role on its logs topic: LOG_RECORDS records (default half the points) of
 *                 a realistic mix, records/s and CPU per record
 * Prints points/s for each and Vigil's produce → queryable latency (p50/p99).
 *
 *   pnpm bench:ingest                 # 200,000 points, 100 per message
 *   POINTS=1000000 PER_MESSAGE=500 pnpm bench:ingest
 * Uses KAFKA_BROKERS when set, else starts Kafka from the jars like the test suite.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  HealthRegistry,
  KafkaBus,
  createTelemetry,
  metricPoints,
  migrate,
  openStorage,
  parseConfig,
  queryRows,
  schemaLayout,
  setLogLevel,
  type Storage,
} from '@vigil/platform';
import { columnsOf, createIngestRole, insertRows, metricRow, type Row } from '@vigil/ingest';
import { obtainKafkaBroker } from '../../test/harness/kafka-broker.js';
import { otelcolIfBuilt } from '../../test/harness/deploy-tools.js';
import { freePort } from '../../test/harness/kafka-jvm.js';
import { logPayloads, metricPayloads } from '../otlp-payloads.js';

const POINTS = Number(process.env.POINTS ?? 200_000);
const PER_MESSAGE = Number(process.env.PER_MESSAGE ?? 100);
const MESSAGES = Math.ceil(POINTS / PER_MESSAGE);
const PARTITIONS = Number(process.env.PARTITIONS ?? 3);
const HOSTS = 20;
/** Log records for the logs phase (default half the points), LOG_PER_MESSAGE to a message. */
const LOG_PER_MESSAGE = Number(process.env.LOG_PER_MESSAGE ?? 50);
const LOG_RECORDS = Number(process.env.LOG_RECORDS ?? Math.max(LOG_PER_MESSAGE, Math.floor(POINTS / 2)));

/**
 * The backlog is scrapes: each message is one host's PER_MESSAGE series, so 20 hosts make
 * 20 x PER_MESSAGE series and the rollups aggregate as they do on real host metrics.
 * DISTINCT=1 makes every point a series of its own (the rollups' worst case; what runs before
 * 2026-12-01 measured). The latency probes are always distinct: a probe's points are found by
 * its message number.
 */
const DISTINCT = process.env.DISTINCT === '1';
const payloads = (count: number, from = 0, distinct = DISTINCT) => metricPayloads(count, PER_MESSAGE, { from, hosts: HOSTS, distinct });

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  setLogLevel('warn');
  const broker = await obtainKafkaBroker({ log: (l) => process.stderr.write(`[kafka] ${l}\n`) });
  if (!broker.brokers) throw new Error(`no Kafka broker: ${broker.notes.join('; ')}`);
  const brokers = broker.brokers.split(',');
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-bench-'));
  const topic = `bench-metrics-${Date.now().toString(36)}`;
  const kafka = new Kafka({ brokers, clientId: 'bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });

  process.stdout.write(
    `bench/ingest: ${fmt(MESSAGES * PER_MESSAGE)} points in ${fmt(MESSAGES)} OTLP messages of ${PER_MESSAGE}, ${PARTITIONS} partitions, ${os.cpus().length} cores, ${DISTINCT ? 'every point its own series (DISTINCT=1)' : `${fmt(HOSTS * PER_MESSAGE)} series (${HOSTS} hosts x ${PER_MESSAGE})`}\n`,
  );
  const messages = await payloads(MESSAGES);
  const bytes = messages.reduce((n, m) => n + m.value.length, 0);
  process.stdout.write(`  payloads: ${(bytes / 1e6).toFixed(1)} MB (${Math.round(bytes / MESSAGES)} B/message)\n`);

  // Produce everything first; remember when each message was acknowledged.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  const cpuProduce = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i += 100) {
    const chunk = messages.slice(i, i + 100);
    await producer.send({ topic, acks: -1, messages: chunk });
  }
  const produceS = (performance.now() - t0) / 1000;
  const produceUsed = process.cpuUsage(cpuProduce);
  /** The producer's CPU per point: inside Vigil's figure below (the bench produces in its process). */
  const produceCpuUs = ((produceUsed.user + produceUsed.system) / MESSAGES / PER_MESSAGE);
  await producer.disconnect();

  // Source limit: consume it all and do nothing.
  const sourceS = await (async () => {
    const consumer = kafka.consumer({ groupId: `${topic}-source`, maxBytesPerPartition: 4 * 1024 * 1024 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    let start = 0;
    const done = new Promise<number>((resolve) => {
      void consumer.run({
        partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          if (start === 0) start = performance.now();
          seen += batch.messages.length;
          if (seen >= MESSAGES) resolve(performance.now());
        },
      });
    });
    const end = await done;
    await consumer.disconnect();
    return (end - start) / 1000;
  })();

  // Sink limits: the same rows, inserted straight, in batches the size ingest sees (per fetch ≈ 4
  // MiB / partition), as many insert streams as ingest has partitions in flight, each into a
  // database of its own on the same engine (the layout is what migrate and table() read):
  //   RowBinary      the engine's own binary rows, made by the engine from the rows below and read
  //                  back from files (chDB's raw insert takes text formats only): its fastest input
  //   JSON, raw      JSONCompactEachRow bytes handed to the engine's parser (what ingest does)
  //   JSON, client   the same rows through @clickhouse/client's insert (the path before raw inserts)
  const storage = openStorage({ database: 'bench_vigil', dataDir: dir });
  await migrate(storage, 86_400_000);
  const sinkDb = (name: string): Storage => {
    const layout = schemaLayout(name);
    return { ...storage, database: name, layout, table: (t: string) => layout.table(t) };
  };
  const rowsPerMessage = messages.map((m) => metricPoints(m.value).map(metricRow));
  const perInsert = Math.max(1, Math.floor((4 * 1024 * 1024) / (bytes / MESSAGES)));
  const lanes = Array.from({ length: PARTITIONS }, (_, lane) => {
    const mine = rowsPerMessage.filter((_, i) => i % PARTITIONS === lane);
    const chunks: Row[][] = [];
    for (let i = 0; i < mine.length; i += perInsert) chunks.push(mine.slice(i, i + perInsert).flat());
    return chunks;
  });
  /**
   * Waits (up to a minute) until the engine merges nothing, so that each CPU figure includes the
   * merges its own parts cause and none of the phase before (the seconds stop when the rows are in).
   */
  const settle = async () => {
    const deadline = performance.now() + 60_000;
    let quiet = 0;
    while (quiet < 3 && performance.now() < deadline) {
      const merging = Number((await queryRows<{ n: number | string }>(storage, 'SELECT count() AS n FROM system.merges'))[0]!.n);
      quiet = merging === 0 ? quiet + 1 : 0;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const sinkRun = async (name: string, insert: (db: Storage, chunk: Row[], lane: number, index: number) => Promise<void>) => {
    const db = sinkDb(name);
    await migrate(db, 86_400_000);
    const cpu = process.cpuUsage();
    const t = performance.now();
    await Promise.all(lanes.map(async (chunks, lane) => {
      for (let i = 0; i < chunks.length; i++) await insert(db, chunks[i]!, lane, i);
    }));
    const seconds = (performance.now() - t) / 1000;
    await settle();
    const used = process.cpuUsage(cpu);
    return { seconds, cpuS: (used.user + used.system) / 1e6 };
  };
  // The RowBinary bytes of each chunk, in the same order, from what the JSON sink stored (untimed).
  const columns = columnsOf('otel_metrics_gauge');
  const types = new Map((await queryRows<{ name: string; type: string }>(storage, `SELECT name, type FROM system.columns WHERE database = 'bench_vigil' AND table = 'otel_metrics_gauge'`)).map((c) => [c.name, c.type]));
  const structure = columns.map((c) => `\`${c}\` ${types.get(c)}`).join(', ');
  const quoted = columns.map((c) => `\`${c}\``).join(', ');
  const binDir = join(dir, 'rowbinary');
  mkdirSync(binDir);
  const binFile = (lane: number, i: number) => join(binDir, `${lane}-${i}.bin`);
  const scratch = sinkDb('bench_sink_scratch');
  await storage.client.command({ query: `CREATE DATABASE IF NOT EXISTS bench_sink_scratch` });
  await storage.client.command({ query: `CREATE TABLE ${scratch.table('chunk')} AS ${storage.table('otel_metrics_gauge')} ENGINE = Memory` });
  for (const [lane, chunks] of lanes.entries()) {
    for (const [i, chunk] of chunks.entries()) {
      await storage.client.command({ query: `TRUNCATE TABLE ${scratch.table('chunk')}` });
      await insertRows({ ...scratch, table: () => scratch.table('chunk') }, 'otel_metrics_gauge', chunk);
      await storage.client.command({ query: `INSERT INTO FUNCTION file('${binFile(lane, i)}', 'RowBinary') SELECT ${quoted} FROM ${scratch.table('chunk')}` });
      await storage.client.command({ query: `INSERT INTO FUNCTION file('${binFile(lane, i)}.tsv', 'TabSeparated') SELECT ${quoted} FROM ${scratch.table('chunk')}` });
    }
  }
  const sinkBinary = await sinkRun('bench_sink_rowbinary', async (db, _chunk, lane, i) => {
    await db.client.command({ query: `INSERT INTO ${db.table('otel_metrics_gauge')} (${quoted}) SELECT * FROM file('${binFile(lane, i)}', 'RowBinary', '${structure}')` });
  });
  const sinkTsv = await sinkRun('bench_sink_tsv', async (db, _chunk, lane, i) => {
    await db.insertEncoded!({ table: db.table('otel_metrics_gauge'), columns, format: 'TabSeparated' as 'JSONEachRow', body: readFileSync(`${binFile(lane, i)}.tsv`) });
  });
  const sinkJson = await sinkRun('bench_sink_json', (db, chunk) => insertRows(db, 'otel_metrics_gauge', chunk));
  const sinkClient = await sinkRun('bench_sink_client', async (db, chunk) => {
    await db.client.insert({ table: db.table('otel_metrics_gauge'), values: chunk, columns: [...columnsOf('otel_metrics_gauge')] as [string, ...string[]], format: 'JSONCompactEachRow' });
  });
  const sinkS = sinkJson.seconds;

  // Vigil: the ingest role on a topic of its own, joined before anything is timed. First a steady
  // trickle (latency), then the same backlog as above produced at full speed (throughput: from the
  // first produce to the last point queryable).
  const vigilTopic = `${topic}-vigil`;
  await admin.createTopics({ topics: [{ topic: vigilTopic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const config = parseConfig(`kafka: { topics: { metrics: ${vigilTopic}, logs: ${topic}-logs, alerts: ${topic}-alerts, dlq: ${topic}-dlq } }\ningest: { groupId: ${topic}-vigil, pipeline: ${Number(process.env.PIPELINE ?? 1)} }\n`, {
    env: { KAFKA_BROKERS: broker.brokers },
  });
  const bus = new KafkaBus({ brokers, clientId: 'bench-ingest', partitions: PARTITIONS });
  const role = createIngestRole({ config, bus, storage, telemetry: createTelemetry('bench'), health: new HealthRegistry() });
  const LATENCY_MESSAGES = Number(process.env.LATENCY_MESSAGES ?? 300);
  const visibleAt = new Map<number, number>();
  async function poll(ids: number[], deadlineMs: number): Promise<void> {
    const deadline = performance.now() + deadlineMs;
    const [lo, hi] = [Math.min(...ids), Math.max(...ids)];
    const missing = () => ids.some((m) => !visibleAt.has(m));
    while (missing()) {
      const rows = await queryRows<{ m: number | string }>(
        storage,
        `SELECT toUInt32(Attributes['msg']) AS m FROM ${storage.table('otel_metrics_gauge')}
         WHERE MetricName = 'bench.value' AND toUInt32(Attributes['msg']) BETWEEN {lo:UInt32} AND {hi:UInt32}
         GROUP BY m HAVING count() >= {n:UInt32}`,
        { n: PER_MESSAGE, lo, hi },
      );
      const now = Date.now();
      for (const r of rows) if (!visibleAt.has(Number(r.m))) visibleAt.set(Number(r.m), now);
      if (performance.now() > deadline) throw new Error(`only ${visibleAt.size} of ${ids.length} messages visible in time`);
      if (missing()) await new Promise((r) => setTimeout(r, 20));
    }
  }
  await role.start();
  const vigilProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await vigilProducer.connect();

  // Latency: one message every 20 ms; acknowledged produce → all its points queryable.
  const extra = await payloads(LATENCY_MESSAGES, MESSAGES, true);
  const extraIds = extra.map((_, i) => MESSAGES + i);
  const sentAt = new Map<number, number>();
  const polling = poll(extraIds, 180_000);
  for (let i = 0; i < extra.length; i++) {
    await vigilProducer.send({ topic: vigilTopic, acks: -1, messages: [extra[i]!] });
    sentAt.set(MESSAGES + i, Date.now());
    await new Promise((r) => setTimeout(r, 20));
  }
  await polling;
  const latencies = [...sentAt].map(([m, t]) => visibleAt.get(m)! - t).sort((a, b) => a - b);

  // Throughput: the backlog, produced as fast as kafkajs goes, while ingest consumes it.
  // Counting rows is cheap next to the per-message poll, so the measurement takes little CPU from ingest.
  await settle();
  /**
   * A timed Vigil phase: `produce` a backlog, wait until `count` has grown by `target` rows, then
   * let the merges settle. Wall seconds until the rows are in, this process's CPU seconds until
   * settled (ingest with its engine, the producer and the count polls: an upper bound), and when it
   * started (`performance.now()`); a CPU profile of it under PROFILE.
   */
  async function phase(name: string, what: string, target: number, count: () => Promise<number>, produce: () => Promise<void>): Promise<{ seconds: number; cpuS: number; started: number }> {
    const before = await count();
    const profiling = await startProfile(name);
    const started = performance.now();
    const cpu = process.cpuUsage();
    await produce();
    for (;;) {
      const n = (await count()) - before;
      if (n >= target) break;
      if (performance.now() - started > 600_000) throw new Error(`only ${n} of ${target} ${what} stored after 10 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    await settle();
    await profiling();
    const used = process.cpuUsage(cpu);
    return { seconds, cpuS: (used.user + used.system) / 1e6, started };
  }
  const countGauge = async () => Number((await queryRows<{ n: number | string }>(storage, `SELECT count() AS n FROM ${storage.table('otel_metrics_gauge')}`))[0]!.n);
  const vigilRun = await phase('metrics', 'points', MESSAGES * PER_MESSAGE, countGauge, async () => {
    for (let i = 0; i < MESSAGES; i += 100) await vigilProducer.send({ topic: vigilTopic, acks: -1, messages: messages.slice(i, i + 100) });
  });
  const vigilS = vigilRun.seconds;
  const vigilCpuS = vigilRun.cpuS;
  const tVigil = vigilRun.started;
  // Batches of the backlog (the latency probes' one-message batches left out): how many messages each insert held.
  const ledger = (await queryRows<{ n: number | string; avg: number | string; max: number | string }>(
    storage,
    `SELECT count() AS n, avg(LastOffset - FirstOffset + 1) AS avg, max(LastOffset - FirstOffset + 1) AS max FROM ${storage.table('vigil_ingest_ledger')} WHERE Time >= fromUnixTimestamp64Milli({t:Int64})`,
    { t: Math.floor(performance.timeOrigin + tVigil) },
  ))[0]!;
  const batches = Number(ledger.n);
  const batchShape = `${fmt(Math.round(Number(ledger.avg) * PER_MESSAGE))} points on average, at most ${fmt(Number(ledger.max) * PER_MESSAGE)}`;

  // Logs: the same ingest on its logs topic, a realistic mix (bodies of 100-400 bytes, 5-15
  // attributes, a tenth errors with stack traces), produced as fast as kafkajs goes; records per
  // second until the last is stored, and CPU per record (producer and polls included).
  const logMessages = logPayloads(Math.ceil(LOG_RECORDS / LOG_PER_MESSAGE), LOG_PER_MESSAGE, { hosts: HOSTS });
  const logRecords = logMessages.length * LOG_PER_MESSAGE;
  const countLogs = async () => Number((await queryRows<{ n: number | string }>(storage, `SELECT count() AS n FROM ${storage.table('otel_logs')}`))[0]!.n);
  // Twenty messages a send: a produce request per partition stays under the broker's 1 MB.
  const logsRun = await phase('logs', 'log records', logRecords, countLogs, async () => {
    for (let i = 0; i < logMessages.length; i += 20) await vigilProducer.send({ topic: `${topic}-logs`, acks: -1, messages: logMessages.slice(i, i + 20) });
  });
  const logsS = logsRun.seconds;
  const logsCpuS = logsRun.cpuS;
  const logMB = logMessages.reduce((n, m) => n + m.value.length, 0) / 1e6;
  await vigilProducer.disconnect();
  const total = await countGauge();
  await role.stop();
  await bus.close();

  const points = MESSAGES * PER_MESSAGE;
  // The peer a user would pick to consume OTLP from Kafka: the Collector's Kafka receiver on the same backlog, alone.
  let collector: { seconds: number; cpuS: number; rssMiB: number } | undefined;
  let collectorSkipped = '';
  const bin = otelcolIfBuilt();
  if (process.env.OTELCOL === '0') collectorSkipped = 'skipped (OTELCOL=0)';
  else if (!bin) collectorSkipped = 'not built: pnpm exec tsx test/harness/deploy-tools.ts builds it (Go module proxy) into ~/.cache/vigil-tools';
  else collector = await runCollector(bin, brokers, topic, points, dir);
  // The ingest as it is deployed: `vigil ingest`, a process of its own with its embedded engine, so
  // its CPU and peak RSS are its own (the phases above ran in this process, with the producer).
  const alone = process.env.PROCESS === '0' ? undefined : await runIngestProcess(admin, broker.brokers, `${topic}-proc`, messages, logMessages, dir);
  const line = (name: string, s: number, extra = '') => process.stdout.write(`  ${name.padEnd(36)} ${fmt(points / s).padStart(11)} points/s  (${s.toFixed(2)} s)${extra}\n`);
  line('produce (kafkajs, acks=all)', produceS);
  line('source limit (kafkajs, no-op)', sourceS);
  const cpuNote = (r: { cpuS: number }) => `  ${((r.cpuS / points) * 1e6).toFixed(1)} µs CPU per point (engine, rollup views, and merges until they settle)`;
  line('sink limit, RowBinary (engine native)', sinkBinary.seconds, cpuNote(sinkBinary));
  line('sink limit, TSV raw', sinkTsv.seconds, cpuNote(sinkTsv));
  line('sink limit, JSON raw (before RowBinary)', sinkJson.seconds, cpuNote(sinkJson));
  line('sink limit, JSON via client (before)', sinkClient.seconds, cpuNote(sinkClient));
  line('vigil (produce → Kafka → ingest → CH)', vigilS, `  ${fmt(total)} rows stored (backlog + latency probes); the backlog in ${fmt(batches)} batches (${batchShape}); ${Math.round((sinkBinary.seconds / vigilS) * 100)} % of the RowBinary limit, ${Math.round((sinkS / vigilS) * 100)} % of the JSON one`);
  process.stdout.write(`  vigil CPU                              ${((vigilCpuS / points) * 1e6).toFixed(1)} µs per point, ${fmt(points / vigilCpuS)} points per CPU second (decode + insert, the producer's ${produceCpuUs.toFixed(1)} µs included)\n`);
  if (collector) {
    line('OpenTelemetry Collector (kafka → nop)', collector.seconds, `  ${(collector.cpuS / points * 1e6).toFixed(1)} µs CPU per point, ${fmt(points / collector.cpuS)} points per CPU second, max RSS ${collector.rssMiB} MiB (decode only)`);
  } else process.stdout.write(`  OpenTelemetry Collector               ${collectorSkipped}\n`);
  process.stdout.write(
    `  ${'vigil logs (produce → ingest → CH)'.padEnd(36)} ${fmt(logRecords / logsS).padStart(11)} records/s (${logsS.toFixed(2)} s)  ${((logsCpuS / logRecords) * 1e6).toFixed(1)} µs CPU per record, ${fmt(logRecords / logsCpuS)} records per CPU second (${fmt(logRecords)} records, ${logMB.toFixed(1)} MB of OTLP)\n`,
  );
  if (alone) {
    const m = alone.metrics;
    const l = alone.logs;
    line('vigil ingest, its own process', m.seconds, `  ${((m.cpuS / points) * 1e6).toFixed(1)} µs CPU per point, ${fmt(points / m.cpuS)} points per CPU second (the process alone: consume, decode, insert, merges; target 100,000); peak RSS ${alone.peakMiB} MiB (target 512); ${fmt(m.stored)} stored`);
    process.stdout.write(
      `  ${'vigil ingest, its own process, logs'.padEnd(36)} ${fmt(logRecords / l.seconds).padStart(11)} records/s (${l.seconds.toFixed(2)} s)  ${((l.cpuS / logRecords) * 1e6).toFixed(1)} µs CPU per record, ${fmt(logRecords / l.cpuS)} records per CPU second (target 50,000); ${fmt(l.stored)} stored\n`,
    );
  } else process.stdout.write('  vigil ingest, its own process         skipped (PROCESS=0)\n');
  process.stdout.write(`  vigil produce → queryable             p50 ${fmt(pct(latencies, 50))} ms, p99 ${fmt(pct(latencies, 99))} ms, max ${fmt(latencies[latencies.length - 1]!)} ms (${LATENCY_MESSAGES} messages, one per 20 ms, polled every 20 ms)\n`);

  await storage.close();
  await admin.deleteTopics({ topics: [topic, vigilTopic] }).catch(() => undefined);
  await admin.disconnect();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs the Collector (otelcol-vigil: kafka receiver, debug exporter sampling almost nothing) on the
 * backlog from the start; timed from its first accepted point to the last, CPU and peak RSS from
 * /proc over the same span.
 */
async function runCollector(bin: string, brokers: string[], topic: string, points: number, dir: string): Promise<{ seconds: number; cpuS: number; rssMiB: number }> {
  const port = await freePort();
  const file = join(dir, 'otelcol.yaml');
  writeFileSync(
    file,
    `receivers:
  kafka:
    brokers: ${JSON.stringify(brokers)}
    group_id: ${topic}-otelcol
    initial_offset: earliest
    metrics: { topics: [${topic}], encoding: otlp_proto }
exporters:
  debug: { verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000 }
service:
  telemetry:
    logs: { level: warn }
    metrics:
      level: normal
      readers: [{ pull: { exporter: { prometheus: { host: 127.0.0.1, port: ${port} } } } }]
  pipelines:
    metrics: { receivers: [kafka], exporters: [debug] }
`,
  );
  const child = spawn(bin, ['--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const ticks = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100 per second)
  };
  const accepted = async (): Promise<number> => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
    let n = 0;
    for (const m of text.matchAll(/^otelcol_receiver_accepted_metric_points(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$/gm)) n += Number(m[1]);
    return n;
  };
  try {
    const deadline = performance.now() + 300_000;
    let start: { t: number; ticks: number } | undefined;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the Collector exited with ${child.exitCode}: ${stderr}`);
      const n = await accepted();
      if (n > 0 && !start) start = { t: performance.now(), ticks: ticks() };
      if (n >= points) break;
      if (performance.now() > deadline) throw new Error(`the Collector accepted ${n} of ${points} points in 5 minutes: ${stderr}`);
      await new Promise((r) => setTimeout(r, n > 0 ? 20 : 100));
    }
    // At a smoke run's size it may all come in one poll: at least 1 ms and one clock tick.
    const seconds = Math.max(0.001, (performance.now() - start!.t) / 1000);
    const cpuS = Math.max(0.01, (ticks() - start!.ticks) / 100);
    const rssMiB = Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    return { seconds, cpuS, rssMiB };
  } finally {
    child.kill('SIGTERM');
  }
}

/** CPU seconds (user + system) and peak RSS (MiB) of a process, from /proc. */
function procStats(pid: number): { cpuS: number; peakMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: (Number(f[11]) + Number(f[12])) / 100, peakMiB: hwm ? Math.round(Number(hwm[1]) / 1024) : Number.NaN };
}

/**
 * `vigil ingest` as a process of its own (embedded engine in a data directory of its own, default
 * settings), on topics of its own: once it holds their partitions, the metrics backlog is produced
 * at full speed, then the logs. Each phase is timed from its first produce until the ingest's group
 * has committed every offset (a commit follows the insert), its CPU until the process is quiet
 * again (the merges its inserts caused included). After a clean stop, the rows are counted.
 */
async function runIngestProcess(
  admin: ReturnType<Kafka['admin']>,
  brokers: string,
  topic: string,
  metrics: { key: string; value: Buffer }[],
  logs: { key: string; value: Buffer }[],
  dir: string,
): Promise<{ metrics: { seconds: number; cpuS: number; stored: number }; logs: { seconds: number; cpuS: number; stored: number }; peakMiB: number }> {
  const topics = { metrics: topic, logs: `${topic}-logs` };
  await admin.createTopics({ topics: Object.values(topics).map((t) => ({ topic: t, numPartitions: PARTITIONS })), waitForLeaders: true });
  const port = await freePort();
  const data = join(dir, 'ingest-process');
  const file = join(dir, 'ingest-process.yaml');
  const group = `${topic}-ingest`;
  writeFileSync(file, `kafka:\n  topics: { metrics: ${topics.metrics}, logs: ${topics.logs}, alerts: ${topic}-alerts, dlq: ${topic}-dlq }\ningest: { groupId: ${group} }\n`);
  const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'ingest', '--config', file], {
    env: { ...process.env, KAFKA_BROKERS: brokers, VIGIL_DATA_DIR: data, VIGIL_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'bench-proc', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    // Ready once its consumer holds the partitions of both topics.
    for (const t = performance.now(); ; ) {
      if (child.exitCode !== null) throw new Error(`vigil ingest exited with ${child.exitCode}: ${stderr}`);
      const h = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json() as Promise<{ checks?: { ingest?: { partitions?: string } } }>, () => undefined);
      const held = h?.checks?.ingest?.partitions ?? '';
      if (held.includes(`${topics.metrics}[`) && held.includes(`${topics.logs}[`)) break;
      if (performance.now() - t > 120_000) throw new Error(`vigil ingest did not take its partitions in 2 minutes: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await producer.connect();
    const committedAll = async (t: string) => {
      const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(t), admin.fetchOffsets({ groupId: group, topics: [t] })]);
      return ends.every((e) => BigInt(committed!.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1') >= BigInt(e.high));
    };
    const timed = async (t: string, messages: { key: string; value: Buffer }[], perSend: number) => {
      const before = procStats(child.pid!);
      const started = performance.now();
      for (let i = 0; i < messages.length; i += perSend) await producer.send({ topic: t, acks: -1, messages: messages.slice(i, i + perSend) });
      while (!(await committedAll(t))) {
        if (child.exitCode !== null) throw new Error(`vigil ingest exited with ${child.exitCode}: ${stderr}`);
        if (performance.now() - started > 600_000) throw new Error(`vigil ingest did not commit ${t} in 10 minutes`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - started) / 1000;
      // Its merges settle: quiet once it uses under 5 % of a core for a second.
      for (let last = procStats(child.pid!).cpuS, quiet = 0, n = 0; quiet < 1 && n < 60; n++) {
        await new Promise((r) => setTimeout(r, 1_000));
        const now = procStats(child.pid!).cpuS;
        quiet = now - last < 0.05 ? quiet + 1 : 0;
        last = now;
      }
      return { seconds, cpuS: Math.max(0.01, procStats(child.pid!).cpuS - before.cpuS) };
    };
    const m = await timed(topics.metrics, metrics, 100);
    const l = await timed(topics.logs, logs, 20);
    const peakMiB = procStats(child.pid!).peakMiB;
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`vigil ingest exited with ${code}: ${stderr}`);
    // Counted by a process of its own: the embedded engine serves one data directory per process.
    const counted = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { openStorage, queryRows } from '@vigil/platform';
const s = openStorage({ database: 'vigil', dataDir: ${JSON.stringify(data)} });
const n = async (t) => Number((await queryRows(s, 'SELECT count() AS n FROM ' + s.table(t)))[0].n);
console.log(JSON.stringify({ metrics: await n('otel_metrics_gauge'), logs: await n('otel_logs') }));
await s.close();`],
      { encoding: 'utf8' },
    );
    const stored = JSON.parse(counted.stdout.trim().split('\n').pop() || 'null') as { metrics: number; logs: number } | null;
    if (!stored) throw new Error(`counting the ingest process's rows failed: ${counted.stderr}`);
    return { metrics: { ...m, stored: stored.metrics }, logs: { ...l, stored: stored.logs }, peakMiB };
  } finally {
    await producer.disconnect().catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/ingest failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

/**
 * PROFILE=<dir>: a CPU profile of this process over one Vigil phase (the ingest, its engine's calls
 * and the producer), written to <dir>/<phase>.cpuprofile; returns the function that stops it.
 */
async function startProfile(phase: string): Promise<() => Promise<void>> {
  const dir = process.env.PROFILE;
  if (!dir) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${phase}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
