/**
 * bench/collector: one generated log file shipped to Kafka three ways, side by side in one run:
 *   vigil    `vigil collector` with the file plugin (a child process, as deployed)
 *   rsyslog  rsyslogd's imfile → omkafka (Debian rsyslog + rsyslog-kafka)
 *   kcat     `kcat -P -l FILE`: the raw limit of producing the lines
 * Vigil runs two ways: `tsx` (packages/cli/bin/vigil.mjs, TypeScript through tsx, as in development)
 * and `bundle` (dist/vigil-collector.mjs from `pnpm build:collector`, plain node, with the flags and
 * environment of deploy/systemd/vigil-collector.service).
 * Each is timed from the moment the file appears (hard-linked into its watched directory) until
 * every line is in Kafka. Prints lines/s, CPU seconds per million lines (utime+stime of the child
 * from /proc) and peak RSS (VmHWM). Then the steady state: Vigil tailing a file written at
 * RATE lines/s for STEADY seconds, with its CPU % of one core and RSS.
 *
 *   pnpm bench:collector                          # 1,000,000 lines of ~120 bytes; 1,000 lines/s for 20 s
 *   LINES=200000 STEADY=10 pnpm bench:collector
 *   ONLY=vigil pnpm bench:collector               # one of vigil, rsyslog, kcat, steady (comma-separated)
 *   VIGIL=bundle pnpm bench:collector             # one of tsx, bundle (comma-separated; default both)
 *   VIGIL_NODE_ARGS=--cpu-prof pnpm bench:collector   # node flags for the vigil child
 * Uses KAFKA_BROKERS when set, else starts Kafka from the jars like the test suite.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { logEntries } from '@vigil/platform';
import { obtainKafkaBroker } from '../../test/harness/kafka-broker.js';
import { freePort } from '../../test/harness/kafka-jvm.js';

const LINES = Number(process.env.LINES ?? 1_000_000);
const STEADY_SECONDS = Number(process.env.STEADY ?? 20);
const RATE = Number(process.env.RATE ?? 1000);
const ONLY = new Set((process.env.ONLY ?? 'vigil,rsyslog,kcat,steady').split(','));
type Variant = 'tsx' | 'bundle';
const VARIANTS = (process.env.VIGIL ?? 'tsx,bundle').split(',').filter((v): v is Variant => v === 'tsx' || v === 'bundle');
const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);
const REPO = resolve(import.meta.dirname, '../..');
const run = `cbench-${process.pid}-${Date.now().toString(36)}`;

interface Result {
  name: string;
  seconds: number;
  cpuSeconds: number;
  peakRssKiB: number;
  note?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => `load ${os.loadavg()[0]!.toFixed(2)}`;

/** ~120-byte lines that look like an application's log. */
function line(i: number): string {
  const s = `2024-05-01T12:${String(Math.floor(i / 60000) % 60).padStart(2, '0')}:${String(Math.floor(i / 1000) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z INFO [worker-${i % 8}] seq=${i} order accepted terminal=POS-${String(i % 500).padStart(4, '0')} amount=${(i % 9973) / 100}`;
  return s.padEnd(119, ' .');
}

async function generate(path: string, lines: number): Promise<number> {
  const fh = await open(path, 'w');
  let bytes = 0;
  for (let i = 0; i < lines; i += 10_000) {
    const chunk: string[] = [];
    for (let j = i; j < Math.min(lines, i + 10_000); j++) chunk.push(line(j));
    const text = `${chunk.join('\n')}\n`;
    bytes += Buffer.byteLength(text);
    await fh.write(text);
  }
  await fh.close();
  return bytes;
}

/** utime+stime (seconds) and VmHWM/VmRSS (KiB) of a live process. */
function usage(pid: number): { cpu: number; hwm: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS; // fields 14 and 15 of the man page
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpu, hwm: kib('VmHWM'), rss: kib('VmRSS') };
}

function need(binary: string, pkg: string): void {
  if (!existsSync(binary) && spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) {
    throw new Error(`${binary} is not installed: apt-get install ${pkg}`);
  }
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const broker = await obtainKafkaBroker({ log: (m) => console.error(m) });
  const brokers = broker.brokers.split(',');
  const kafka = new Kafka({ clientId: run, brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-cbench-'));
  const results: Result[] = [];
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    for (const c of children) await stopChild(c, 'SIGKILL');
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await broker.stop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  /** Sum of the topic's partition high watermarks: messages in it. */
  const messagesIn = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((a, p) => a + Number(p.high), 0);
  const topic = async (name: string) => {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1 }] });
    return name;
  };

  try {
    const source = join(dir, 'source.log');
    const t0 = Date.now();
    const bytes = await generate(source, LINES);
    console.log(`generated ${LINES.toLocaleString()} lines (${(bytes / 1048576).toFixed(1)} MiB) in ${Date.now() - t0} ms; Kafka ${broker.brokers} (${broker.source}); ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`);

    // Vigil: records are counted by its own metric once the bus has accepted them (then checked in the topic below).
    if (VARIANTS.includes('bundle') && (ONLY.has('vigil') || ONLY.has('steady'))) {
      const built = spawnSync(process.execPath, [join(REPO, 'scripts/build-collector.mjs')], { cwd: REPO, encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`pnpm build:collector failed: ${built.stderr}`);
      console.log(built.stdout.trim());
    }
    const entry = (variant: Variant) => join(REPO, variant === 'tsx' ? 'packages/cli/bin/vigil.mjs' : 'dist/vigil-collector.mjs');
    // The bundle runs as deploy/systemd/vigil-collector.service runs it (the environment given to the bench wins, to try others).
    const deployed = (variant: Variant) => (variant === 'bundle' ? { args: ['--max-semi-space-size=1'], env: { MALLOC_ARENA_MAX: '2' } } : { args: [], env: {} });

    const vigil = async (variant: Variant, watchDir: string, logsTopic: string, opts: { pollInterval?: string } = {}) => {
      mkdirSync(watchDir, { recursive: true });
      const cfg = join(watchDir, '..', `${logsTopic}.yaml`);
      writeFileSync(
        cfg,
        [
          'kafka:',
          `  topics: { logs: ${logsTopic}, metrics: ${logsTopic}-metrics, alerts: ${run}-alerts, dlq: ${run}-dlq }`,
          'collector:',
          '  interval: 1h',
          '  host: { enabled: false }',
          '  plugins:',
          '    - type: file',
          '      name: bench',
          `      include: [${join(watchDir, '*.log')}]`,
          '      startAt: beginning',
          ...(opts.pollInterval ? [`      pollInterval: ${opts.pollInterval}`] : []),
          '',
        ].join('\n'),
      );
      const port = await freePort();
      const nodeArgs = (process.env.VIGIL_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const child = spawn(process.execPath, [...deployed(variant).args, ...nodeArgs, entry(variant), 'collector', '--config', cfg], {
        cwd: REPO,
        env: { ...deployed(variant).env, ...process.env, KAFKA_BROKERS: broker.brokers, VIGIL_PORT: String(port), VIGIL_DATA_DIR: join(watchDir, '..', `${logsTopic}-data`), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      const metric = async (name: string) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return Number(new RegExp(`${name}(?:_total)?\\{[^}]*(?:plugin|source)="bench"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
      };
      for (let i = 0; ; i++) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) break;
        } catch {
          // not listening yet
        }
        if (i > 600) throw new Error('vigil collector did not become ready within 60 s');
        await sleep(100);
      }
      return { child, metric };
    };

    for (const variant of ONLY.has('vigil') ? VARIANTS : []) {
      const logsTopic = await topic(`${run}-vigil-${variant}`);
      const watch = join(dir, `vigil-${variant}`, 'watch');
      const v = await vigil(variant, watch, logsTopic);
      await sleep(1000);
      const before = usage(v.child.pid!);
      const start = performance.now();
      linkSync(source, join(watch, 'app.log'));
      while ((await v.metric('vigil_collector_records_sent')) < LINES) await sleep(50);
      const seconds = (performance.now() - start) / 1000;
      const after = usage(v.child.pid!);
      await stopChild(v.child);
      // Check the topic really holds every line, once the timing is over.
      let records = 0;
      const consumer = kafka.consumer({ groupId: `${run}-check-${variant}` });
      await consumer.connect();
      await consumer.subscribe({ topics: [logsTopic], fromBeginning: true });
      const high = await messagesIn(logsTopic);
      let seen = 0;
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen++;
          for (const e of logEntries(message.value!)) if (e.attributes['log.file.name'] === 'app.log') records++;
        },
      });
      while (seen < high) await sleep(100);
      await consumer.disconnect();
      results.push({ name: `vigil (${variant}) file → Kafka`, seconds, cpuSeconds: after.cpu - before.cpu, peakRssKiB: after.hwm, note: `${records.toLocaleString()} records in ${high} messages; ${load()}` });
      if (records < LINES) throw new Error(`vigil (${variant}): only ${records} of ${LINES} lines in the topic`);
    }

    if (ONLY.has('rsyslog')) {
      need('/usr/sbin/rsyslogd', 'rsyslog');
      if (!existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so') && !existsSync('/usr/lib/rsyslog/omkafka.so')) throw new Error('omkafka is not installed: apt-get install rsyslog-kafka');
      const t = await topic(`${run}-rsyslog`);
      const work = join(dir, 'rsyslog');
      const watch = join(work, 'watch');
      mkdirSync(join(work, 'spool'), { recursive: true });
      mkdirSync(watch, { recursive: true });
      const conf = join(work, 'rsyslog.conf');
      writeFileSync(
        conf,
        `global(workDirectory="${join(work, 'spool')}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="raw" type="string" string="%msg%")
input(type="imfile" file="${join(watch, '*.log')}" tag="app" ruleset="tokafka" freshStartTail="off")
ruleset(name="tokafka" queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="1024") {
  action(type="omkafka" broker=[${brokers.map((b) => `"${b}"`).join(',')}] topic="${t}" template="raw" partitions.auto="on"
         confParam=["compression.codec=none", "queue.buffering.max.messages=200000"])
}
`,
      );
      const check = spawnSync('/usr/sbin/rsyslogd', ['-N1', '-f', conf], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`rsyslog config rejected: ${check.stderr}`);
      const child = spawn('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(work, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await sleep(1500);
      if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}`);
      const before = usage(child.pid!);
      const start = performance.now();
      linkSync(source, join(watch, 'app.log'));
      while ((await messagesIn(t)) < LINES) {
        if (performance.now() - start > 600_000) throw new Error(`rsyslog: ${await messagesIn(t)} of ${LINES} lines after 10 minutes`);
        await sleep(50);
      }
      const seconds = (performance.now() - start) / 1000;
      const after = usage(child.pid!);
      await stopChild(child);
      results.push({ name: 'rsyslog imfile → omkafka', seconds, cpuSeconds: after.cpu - before.cpu, peakRssKiB: after.hwm, note: `${(await messagesIn(t)).toLocaleString()} messages; ${load()}` });
    }

    if (ONLY.has('kcat')) {
      need('kcat', 'kcat');
      const t = await topic(`${run}-kcat`);
      const stats = join(dir, 'kcat.time');
      const start = performance.now();
      const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', stats, 'kcat', '-P', '-b', broker.brokers, '-t', t, '-X', 'compression.codec=none', '-l', source], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      if (code !== 0) throw new Error(`kcat exited with ${code}`);
      while ((await messagesIn(t)) < LINES) await sleep(20);
      const seconds = (performance.now() - start) / 1000;
      const [u, s, m] = readFileSync(stats, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
      results.push({ name: 'kcat -P -l (raw limit)', seconds, cpuSeconds: u! + s!, peakRssKiB: m!, note: `${(await messagesIn(t)).toLocaleString()} messages; ${load()}` });
    }

    if (results.length > 0) {
      console.log(`\n${LINES.toLocaleString()} lines, file to Kafka:`);
      console.log(`${'tool'.padEnd(28)}${'seconds'.padStart(9)}${'lines/s'.padStart(12)}${'CPU s/1M lines'.padStart(16)}${'peak RSS MiB'.padStart(14)}`);
      for (const r of results) {
        console.log(
          `${r.name.padEnd(28)}${r.seconds.toFixed(2).padStart(9)}${Math.round(LINES / r.seconds).toLocaleString().padStart(12)}${((r.cpuSeconds * 1e6) / LINES).toFixed(2).padStart(16)}${(r.peakRssKiB / 1024).toFixed(1).padStart(14)}   ${r.note ?? ''}`,
        );
      }
    }

    for (const variant of ONLY.has('steady') ? VARIANTS : []) {
      const logsTopic = await topic(`${run}-steady-${variant}`);
      const watch = join(dir, `steady-${variant}`, 'watch');
      const v = await vigil(variant, watch, logsTopic);
      const path = join(watch, 'app.log');
      writeFileSync(path, '');
      // Warm up (JIT, first batches), then measure.
      const write = (from: number, n: number) => {
        const chunk: string[] = [];
        for (let i = from; i < from + n; i++) chunk.push(line(i));
        appendFileSync(path, `${chunk.join('\n')}\n`);
      };
      let n = 0;
      const perTick = RATE / 10;
      for (let i = 0; i < 30; i++, n += perTick) {
        write(n, perTick);
        await sleep(100);
      }
      const before = usage(v.child.pid!);
      const start = performance.now();
      let next = start;
      while (performance.now() - start < STEADY_SECONDS * 1000) {
        write(n, perTick);
        n += perTick;
        next += 100;
        await sleep(Math.max(0, next - performance.now()));
      }
      const elapsed = (performance.now() - start) / 1000;
      const after = usage(v.child.pid!);
      const deadline = Date.now() + 10_000;
      while ((await v.metric('vigil_collector_records_sent')) < n && Date.now() < deadline) await sleep(100);
      const shipped = await v.metric('vigil_collector_records_sent');
      await stopChild(v.child);
      console.log(
        `\nsteady state, ${RATE} lines/s for ${elapsed.toFixed(1)} s: vigil (${variant}) CPU ${(((after.cpu - before.cpu) / elapsed) * 100).toFixed(2)} % of one core, RSS ${(after.rss / 1024).toFixed(1)} MiB (peak ${(after.hwm / 1024).toFixed(1)} MiB); ${shipped.toLocaleString()} of ${n.toLocaleString()} lines shipped; ${load()}`,
      );
    }
  } finally {
    await cleanup();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
