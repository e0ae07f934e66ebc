/**
 * bench/notifier: latency from "alert published" to "webhook received", for Vigil's notifier
 * and for Prometheus Alertmanager, in the same run, to the same loopback receiver:
 *   vigil          alert transition produced on Kafka → notifier role (inbox, dispatcher with
 *                  groupWait 0, snapshot, ledger) → webhook POST
 *   alertmanager   the same alerts POSTed to Alertmanager's v2 API (group_wait 0) → webhook POST
 * One alert at a time (each its own group), paced, so this is latency, not throughput.
 * Prints p50, p99 and max for each. The receiver is a process of its own (as Alertmanager is):
 * in the bench's process it took CPU from the notifier hosted there, and not from Alertmanager.
 * Times are the wall clock at high resolution (`performance.timeOrigin + performance.now()`) in both.
 *
 *   pnpm bench:notifier                 # 300 alerts each, 50 a second (WARMUP=5000 broker records first)
 *   ALERTS=3000 PACE_MS=2 pnpm bench:notifier   # 500 a second
 * Vigil's alerts are published as a rules worker publishes (one send at a time, each taking every
 * alert due meanwhile), Alertmanager's posted without waiting for the previous answer; each line
 * says the rate reached.
 * Uses KAFKA_BROKERS when set, else starts Kafka from the jars like the test suite. Needs
 * Debian's prometheus-alertmanager (/usr/bin/prometheus-alertmanager, or ALERTMANAGER=path).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { HealthRegistry, KafkaBus, createTelemetry, encodeAlert, fingerprint, migrate, openStorage, parseConfig, setLogLevel, type AlertTransition } from '@vigil/platform';
import { createNotifierRole } from '@vigil/notifier';
import { obtainKafkaBroker } from '../../test/harness/kafka-broker.js';
import { freePort } from '../../test/harness/kafka-jvm.js';

const ALERTS = Number(process.env.ALERTS ?? 300);
const PACE_MS = Number(process.env.PACE_MS ?? 20);
const ALERTMANAGER = process.env.ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager';
const WARMUP = Number(process.env.WARMUP ?? 5_000);

/** The receiver: when each bench_id first arrived (Vigil and Alertmanager both send alerts[].labels). */
const arrived = new Map<string, number>();
/** Wall-clock milliseconds at high resolution, comparable across processes. */
const clock = () => performance.timeOrigin + performance.now();

/** The webhook receiver, run as a child process: it reports each bench_id's arrival over IPC. */
const RECEIVER = `
const { createServer } = require('node:http');
const seen = new Set();
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const t = performance.timeOrigin + performance.now();
    res.writeHead(200).end();
    try {
      const ids = [];
      for (const a of JSON.parse(Buffer.concat(chunks).toString()).alerts ?? []) {
        const id = a.labels && a.labels.bench_id;
        if (id && !seen.has(id)) { seen.add(id); ids.push(id); }
      }
      if (ids.length > 0) process.send({ ids, t });
    } catch {}
  });
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
`;

/** Waits until the n-th alert's time (start + n × PACE_MS): a steady rate, timer lateness made up. */
async function paced(start: number, n: number): Promise<void> {
  const wait = start + n * PACE_MS - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** CPU clock ticks (user + system, 100 a second) a process used, from /proc. */
function ticks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

const cpuPerAlert = (seconds: number) => `CPU ${((seconds / ALERTS) * 1000).toFixed(2)} ms per alert`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function report(name: string, latencies: number[], lost: number): string {
  const s = [...latencies].sort((a, b) => a - b);
  const f = (v: number) => `${v.toFixed(1)} ms`;
  return `${name.padEnd(13)} n=${s.length}${lost ? ` (lost ${lost})` : ''}  p50 ${f(percentile(s, 50))}  p99 ${f(percentile(s, 99))}  max ${f(s[s.length - 1] ?? Number.NaN)}`;
}

/**
 * Where Vigil's time went: `vigil_notifier_stage_seconds` read from the role's /metrics text,
 * per stage the count, mean and the bucket bound under which 50% and 99% fall.
 */
function stageBreakdown(prometheus: string): string[] {
  const stages = new Map<string, { count: number; sum: number; buckets: [number, number][] }>();
  const at = (stage: string) => {
    let s = stages.get(stage);
    if (!s) stages.set(stage, (s = { count: 0, sum: 0, buckets: [] }));
    return s;
  };
  for (const line of prometheus.split('\n')) {
    const m = /^vigil_notifier_stage_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const s = at(labels.stage ?? '?');
    const v = Number(m[3]);
    if (m[1] === 'sum') s.sum = v;
    else if (m[1] === 'count') s.count = v;
    else s.buckets.push([labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le), v]);
  }
  const bound = (s: { count: number; buckets: [number, number][] }, p: number) => {
    const b = s.buckets.sort((x, y) => x[0] - y[0]).find(([, c]) => c >= (p / 100) * s.count);
    return b ? (Number.isFinite(b[0]) ? `≤${(b[0] * 1000).toFixed(1)}` : '>10000') : '-';
  };
  const order = ['kafka', 'decode', 'receive', 'flush_wait', 'flush', 'snapshot', 'send', 'ledger', 'inbox'];
  return order
    .filter((name) => stages.has(name))
    .map((name) => {
      const s = stages.get(name)!;
      return `  ${name.padEnd(11)} n=${String(s.count).padEnd(5)} mean ${((s.sum / Math.max(1, s.count)) * 1000).toFixed(2).padStart(7)} ms  p50 ${bound(s, 50).padStart(7)} ms  p99 ${bound(s, 99).padStart(7)} ms`;
    });
}

/**
 * A broker in service has run for days; one the bench just started compiles its hot paths for the
 * first tens of seconds, and took Vigil's p99 from 15 to 45-145 ms at 50 alerts a second (Kafka's
 * JVM at a full core for 50 alerts a second). So first WARMUP records (default 5,000) go through
 * the calls the notifier's path makes: produced one at a time from 16 senders, consumed by a group
 * that commits each batch. Alertmanager, a Go program, needs no warming.
 */
async function warmBroker(bus: KafkaBus, producer: Awaited<ReturnType<KafkaBus['producer']>>, topic: string): Promise<string> {
  const t0 = performance.now();
  let seen = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = await bus.subscribe({
    groupId: `${topic}-group`,
    topics: [topic],
    handler: async (batch) => {
      seen += batch.records.length;
      if (seen >= WARMUP) done();
    },
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < WARMUP; i = next++) await producer.send(topic, [{ key: String(i), value: Buffer.from(`warm ${i}`) }]);
    }),
  );
  await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
  await sub.stop();
  return `  (broker warmed: ${seen} of ${WARMUP} records produced one at a time and consumed in ${((performance.now() - t0) / 1000).toFixed(1)} s; WARMUP=0 skips it)`;
}

async function waitFor(ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && ids.some((id) => !arrived.has(id))) await new Promise((r) => setTimeout(r, 50));
}

async function main(): Promise<void> {
  setLogLevel('warn');
  if (!existsSync(ALERTMANAGER)) throw new Error(`${ALERTMANAGER} not found: install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager) or set ALERTMANAGER`);
  const receiver = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    receiver.once('error', reject);
    receiver.on('message', (m: { port?: number; ids?: string[]; t?: number }) => {
      if (m.port !== undefined) resolve(m.port);
      for (const id of m.ids ?? []) if (!arrived.has(id)) arrived.set(id, m.t!);
    });
  });
  const hook = `http://127.0.0.1:${port}/hook`;
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-bench-notifier-'));
  const broker = await obtainKafkaBroker({ log: (l) => process.stderr.write(`[kafka] ${l}\n`) });
  const lines: string[] = [];
  try {
    // ---- Vigil ----
    const run = Date.now().toString(36);
    const config = parseConfig(
      `kafka:
  topics: { alerts: bench-alerts-${run}, dlq: bench-dlq-${run} }
notifier:
  groupId: bench-notifier-${run}
  receivers: [{ name: bench, webhook: [{ url: "${hook}" }] }]
  route: { receiver: bench, groupBy: ["..."], groupWait: 0s, groupInterval: 1s }
`,
      { env: { KAFKA_BROKERS: broker.brokers } },
    );
    const storage = openStorage({ database: 'vigil', dataDir: join(dir, 'ch') });
    await migrate(storage, 86_400_000);
    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: `bench-${run}`, partitions: 3 });
    const telemetry = createTelemetry('bench');
    // The alerts come from another process in a deployment (the rules role): their own Kafka client.
    const source = new KafkaBus({ brokers: config.kafka.brokers, clientId: `bench-source-${run}`, partitions: 3 });
    const producer = await source.producer();
    if (WARMUP > 0) lines.push(await warmBroker(source, producer, `bench-warm-${run}`));
    const role = createNotifierRole({ config, bus, storage, telemetry, health: new HealthRegistry() });
    await role.start();
    // Warm up: the consumer joined, the first fetch and insert done.
    const warm = (id: string): AlertTransition => {
      const labels = { alertname: 'bench', bench_id: id };
      return { fingerprint: fingerprint(labels), status: 'firing', severity: 'warning', labels, annotations: {}, startsAt: new Date().toISOString(), value: 1, rule: 'bench', window: 0 };
    };
    await producer.send(config.kafka.topics.alerts, [{ key: 'w', value: encodeAlert(warm(`vigil-warm-${run}`)) }]);
    await waitFor([`vigil-warm-${run}`], 60_000);
    const metricsServer = createServer((req, res) => telemetry.handle(req, res));
    await new Promise<void>((r) => metricsServer.listen(0, '127.0.0.1', r));
    const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
    const vigilSent = new Map<string, number>();
    const produced: number[] = [];
    // The bench's own process hosts the notifier: a blocked event loop delays everything in it.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const vigilStart = performance.now();
    const vigilCpu = process.cpuUsage();
    // Published as a rules worker publishes: one send at a time, each taking every transition due
    // meanwhile (at 50 a second that is one alert per send; at 500, those of the last few ms).
    const due: { a: ReturnType<typeof warm>; t: number }[] = [];
    let sending: Promise<void> | undefined;
    const drain = async () => {
      while (due.length > 0) {
        const batch = due.splice(0);
        await producer.send(config.kafka.topics.alerts, batch.map(({ a }) => ({ key: a.fingerprint, value: encodeAlert(a) })));
        const now = performance.now();
        for (const { t } of batch) produced.push(now - t);
      }
      sending = undefined;
    };
    for (let i = 0; i < ALERTS; i++) {
      const a = warm(`vigil-${run}-${i}`);
      const t = performance.now();
      vigilSent.set(a.labels.bench_id!, clock());
      due.push({ a, t });
      sending ??= drain();
      await paced(vigilStart, i + 1);
    }
    await sending;
    const vigilRate = ALERTS / ((performance.now() - vigilStart) / 1000);
    await waitFor([...vigilSent.keys()], 60_000);
    const vigilUsed = process.cpuUsage(vigilCpu);
    const vigil = [...vigilSent].filter(([id]) => arrived.has(id)).map(([id, t]) => arrived.get(id)! - t);
    lines.push(`${report('vigil', vigil, ALERTS - vigil.length)}  (${vigilRate.toFixed(0)} alerts/s; ${cpuPerAlert((vigilUsed.user + vigilUsed.system) / 1e6)} in this process: the notifier, its engine and the publishing producer)`);
    // Let the ledger rows of the last sends land before reading the stages.
    await new Promise((r) => setTimeout(r, 500));
    const stagesAfter = await (await fetch(metricsUrl)).text();
    metricsServer.close();
    loop.disable();
    lines.push(report('  (produce)', produced, 0));
    lines.push(`  (event loop delay) p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms  p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms  max ${(loop.max / 1e6).toFixed(1)} ms`);
    lines.push('  stages (vigil_notifier_stage_seconds, the warm-up alert included):');
    lines.push(...stageBreakdown(stagesAfter));
    await role.stop();
    await bus.close();
    await source.close();
    await storage.close();

    // ---- Alertmanager ----
    const amPort = await freePort();
    const amConfig = join(dir, 'alertmanager.yml');
    writeFileSync(
      amConfig,
      `route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: ${hook}
        send_resolved: true
`,
    );
    const am = spawn(ALERTMANAGER, [`--config.file=${amConfig}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { stdio: ['ignore', 'ignore', 'pipe'] });
    let amErr = '';
    am.stderr!.on('data', (d: Buffer) => (amErr += d.toString()));
    try {
      const base = `http://127.0.0.1:${amPort}`;
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          if ((await fetch(`${base}/-/ready`)).ok) break;
        } catch {
          // not yet
        }
        if (Date.now() > deadline) throw new Error(`alertmanager did not get ready: ${amErr.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const post = (id: string) =>
        fetch(`${base}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify([{ labels: { alertname: 'bench', bench_id: id }, annotations: {}, startsAt: new Date().toISOString() }]),
        }).then((r) => {
          if (!r.ok) throw new Error(`alertmanager answered HTTP ${r.status}`);
        });
      await post(`am-warm-${run}`);
      await waitFor([`am-warm-${run}`], 30_000);
      const amSent = new Map<string, number>();
      const posts: Promise<void>[] = [];
      const amStart = performance.now();
      const amTicks = ticks(am.pid!);
      for (let i = 0; i < ALERTS; i++) {
        const id = `am-${run}-${i}`;
        amSent.set(id, clock());
        posts.push(post(id));
        await paced(amStart, i + 1);
      }
      await Promise.all(posts);
      const amRate = ALERTS / ((performance.now() - amStart) / 1000);
      await waitFor([...amSent.keys()], 60_000);
      const amLat = [...amSent].filter(([id]) => arrived.has(id)).map(([id, t]) => arrived.get(id)! - t);
      lines.push(`${report('alertmanager', amLat, ALERTS - amLat.length)}  (${amRate.toFixed(0)} alerts/s; ${cpuPerAlert((ticks(am.pid!) - amTicks) / 100)} in its process)`);
    } finally {
      // Its files are removed below: it must have stopped writing them (rmSync raced its exit: ENOTEMPTY in CI).
      const exited = new Promise<void>((r) => (am.exitCode !== null || am.signalCode !== null ? r() : am.once('exit', () => r())));
      am.kill('SIGTERM');
      const killer = setTimeout(() => am.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  } finally {
    receiver.kill('SIGTERM');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
  process.stdout.write(`alert published → webhook received, ${ALERTS} alerts each, one every ${PACE_MS} ms; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:notifier failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
