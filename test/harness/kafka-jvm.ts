/**
 * Apache Kafka from Maven Central's jars, run with the local JDK as a single KRaft node.
 * Used by the vitest global setup when neither KAFKA_BROKERS nor Docker is available, and
 * by benchmark scripts (no vitest import here, so it runs under plain node/tsx). Tests that
 * need replication start their own three-node cluster from the same jars (`startKafkaCluster`).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { logTail, waitForKafka } from './kafka-ready.js';

/** Pinned: the version the suite is known to pass against. */
export const KAFKA_VERSION = '4.1.1';
/** The Scala build of the broker artifact (kafka_2.13). */
const SCALA_VERSION = '2.13';
/** Kafka 4.1's own slf4j API version; the simple binding sends the broker's log to stderr. */
const SLF4J_VERSION = '1.7.36';
/** maven-dependency-plugin pinned so the fetch behaves the same under every Maven 3. */
const DEPENDENCY_PLUGIN_VERSION = '2.8';
const MARKER = '.complete';

export interface KafkaJarsOptions {
  /** Where jars are cached between runs (the repo's `.cache/`). */
  cacheDir: string;
  version?: string;
  /** Progress lines (download, start); defaults to silence. */
  log?: (line: string) => void;
}

export interface StartKafkaOptions extends KafkaJarsOptions {
  /** Broker JVM heap. Default 512. */
  heapMb?: number;
  /** How long the broker may take to answer a metadata request. Default 90 s. */
  startTimeoutMs?: number;
  /** The JVM is killed when this process disappears (watchdog). Default: this process. */
  ownerPid?: number;
}

export interface RunningKafka {
  /** `host:port` of the PLAINTEXT listener. */
  brokers: string;
  /** The broker's stdout/stderr (removed by stop()). */
  logFile: string;
  /** Wall time of the jar fetch (0 when cached) and of the broker start, for reports. */
  timings: { fetchMs: number; startMs: number };
  /** Stops the JVM (SIGTERM, then SIGKILL after 10 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Outage tests: stops the JVM but keeps its ports and data, for `resume`. */
  halt(): Promise<void>;
  /** Starts the halted broker again on the same port and data dir; resolves once it answers. */
  resume(): Promise<void>;
}

/** The throwaway pom whose runtime dependencies are exactly the broker's classpath. */
export function kafkaJarsPom(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>vigil.test</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA_VERSION}</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>${DEPENDENCY_PLUGIN_VERSION}</version></plugin>
    </plugins>
  </build>
</project>
`;
}

export interface BrokerPorts {
  port: number;
  controllerPort: number;
}

/**
 * Settings of a single-node KRaft broker+controller whose client listener is advertised on
 * 127.0.0.1. `bindHost` is where the listeners bind (0.0.0.0 inside a container); `logDir`
 * is left to the default when absent (the container image's own).
 */
export function brokerSettings(ports: BrokerPorts, opts: { bindHost?: string; logDir?: string; cluster?: ClusterNode } = {}): [string, string][] {
  const bind = opts.bindHost ?? '127.0.0.1';
  const c = opts.cluster;
  // A cluster keeps three copies of everything, and acknowledges a write once two have it.
  const replicas = c ? Math.min(3, c.voters.length) : 1;
  const settings: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', c?.nodeId ?? 1],
    ['controller.quorum.voters', c ? c.voters.map((v) => `${v.nodeId}@127.0.0.1:${v.controllerPort}`).join(',') : `1@127.0.0.1:${ports.controllerPort}`],
    ['listeners', `PLAINTEXT://${bind}:${ports.port},CONTROLLER://${bind}:${ports.controllerPort}`],
    ['advertised.listeners', `PLAINTEXT://127.0.0.1:${ports.port}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['listener.security.protocol.map', 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ...(opts.logDir !== undefined ? [['log.dirs', opts.logDir] as [string, string]] : []),
    ['num.partitions', 3],
    ['offsets.topic.replication.factor', replicas],
    ['transaction.state.log.replication.factor', replicas],
    ['transaction.state.log.min.isr', Math.max(1, replicas - 1)],
    ...(c ? ([['default.replication.factor', replicas], ['min.insync.replicas', Math.max(1, replicas - 1)]] as [string, number][]) : []),
    ['group.initial.rebalance.delay.ms', 0],
    ['auto.create.topics.enable', 'true'],
  ];
  return settings.map(([k, v]) => [k, String(v)]);
}

/** One node of a KRaft cluster: its id and every voter's controller port. */
export interface ClusterNode {
  nodeId: number;
  voters: { nodeId: number; controllerPort: number }[];
}

/** server.properties for `brokerSettings` on loopback with the given log dir. */
export function serverProperties(ports: BrokerPorts, logDir: string, cluster?: ClusterNode): string {
  // Properties files treat backslashes as escapes; a Windows-style path would be mangled.
  return brokerSettings(ports, { logDir, ...(cluster ? { cluster } : {}) }).map(([k, v]) => `${k}=${v.replaceAll('\\', '/')}`).join('\n') + '\n';
}

/**
 * A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (Kafka's Uuid
 * format). Like Kafka's own generator, never one starting with '-', which CLIs read as a flag.
 */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A port nobody listens on right now (the OS picks it; a small race is possible, see start retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('could not read the port of a probe socket'))));
    });
  });
}

interface RunResult {
  /** Exit code; null when killed or never started. */
  code: number | null;
  output: string;
  /** The program is not installed (ENOENT). */
  missing: boolean;
  /** What went wrong, when something did. */
  failure?: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (!error) return resolve({ code: 0, output, missing: false });
      const code = typeof error.code === 'number' ? error.code : null;
      const failure = error.killed ? `killed after ${opts.timeoutMs} ms` : code !== null ? `exit code ${code}` : error.message;
      resolve({ code, output, missing: error.code === 'ENOENT', failure });
    });
  });
}

function javaBin(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * The broker's jars under `<cacheDir>/kafka-<version>/libs`, fetched with Maven on first use.
 * The fetch goes to a private directory renamed into place, so concurrent runs never see half a
 * classpath; a marker file says the copy finished.
 */
export async function fetchKafkaJars(opts: KafkaJarsOptions): Promise<{ libs: string; downloaded: boolean; ms: number }> {
  const t0 = Date.now();
  const version = opts.version ?? KAFKA_VERSION;
  const home = join(opts.cacheDir, `kafka-${version}`);
  const libs = join(home, 'libs');
  if (existsSync(join(libs, MARKER))) return { libs, downloaded: false, ms: 0 };

  await mkdir(home, { recursive: true });
  const pom = join(home, 'pom.xml');
  await writeFile(pom, kafkaJarsPom(version));
  const partial = join(home, `libs.partial-${process.pid}-${randomBytes(3).toString('hex')}`);
  opts.log?.(`fetching Apache Kafka ${version} jars from Maven Central into ${libs}`);
  const res = await run('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${partial}`, '-DincludeScope=runtime'], {
    cwd: home,
    timeoutMs: 10 * 60_000,
  });
  if (res.missing) {
    throw new Error('cannot fetch the Kafka broker jars: Maven (mvn) is not on PATH; install Maven, run Docker, or set KAFKA_BROKERS=host:port');
  }
  if (res.code !== 0) {
    await rm(partial, { recursive: true, force: true });
    throw new Error(
      `cannot fetch the Kafka ${version} jars: mvn failed (${res.failure}) (pom: ${pom}); ` +
        `check access to Maven Central (or your ~/.m2/settings.xml mirror), or set KAFKA_BROKERS=host:port.\n${lastLines(res.output, 30)}`,
    );
  }
  const jars = readdirSync(partial).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`kafka_${SCALA_VERSION}-${version}`))) {
    await rm(partial, { recursive: true, force: true });
    throw new Error(`mvn finished but ${partial} holds no kafka_${SCALA_VERSION}-${version}.jar (got ${jars.length} jars); remove ${home} and retry`);
  }
  await writeFile(join(partial, MARKER), `${jars.length} jars\n`);
  try {
    await rename(partial, libs);
  } catch (err) {
    // Another run finished first: use its copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(libs, MARKER))) throw new Error(`could not move the fetched jars into ${libs}: ${(err as Error).message}; remove ${home} and retry`);
  }
  const ms = Date.now() - t0;
  opts.log?.(`fetched ${jars.length} jars in ${ms} ms`);
  return { libs, downloaded: true, ms };
}

/**
 * Runs `java` under a bash watchdog in its own process group: the JVM is terminated when
 * `owner` disappears (e.g. vitest killed with SIGKILL), so no broker outlives its test run;
 * SIGTERM to the watchdog is forwarded to the JVM, which the watchdog then reaps.
 */
const WATCHDOG = [
  'owner=$1; shift',
  '"$@" &',
  'jvm=$!',
  "trap 'kill -TERM $jvm 2>/dev/null' TERM INT",
  'while kill -0 "$owner" 2>/dev/null && kill -0 "$jvm" 2>/dev/null; do sleep 1 & wait $!; done',
  'kill -TERM "$jvm" 2>/dev/null',
  'wait "$jvm"',
].join('\n');

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

function isBindFailure(log: string): boolean {
  return /BindException|Address already in use/.test(log);
}

/**
 * Starts a fresh single-node Kafka (KRaft) on free loopback ports with a fresh temp log dir,
 * and resolves once it answers metadata requests. Retries once if a port was taken between
 * probing and binding.
 */
export async function startKafkaFromJars(opts: StartKafkaOptions): Promise<RunningKafka> {
  const fetched = await fetchKafkaJars(opts);
  for (let attempt = 0; ; attempt++) {
    try {
      const running = await startOnce(fetched.libs, opts);
      running.timings.fetchMs = fetched.ms;
      return running;
    } catch (err) {
      if (attempt === 0 && err instanceof BindError) {
        opts.log?.('a broker port was taken meanwhile; retrying on new ports');
        continue;
      }
      throw err;
    }
  }
}

class BindError extends Error {}

const DIR_PREFIX = 'vigil-kafka-';
const OWNER_FILE = 'owner.pid';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temp dirs of brokers whose owner was killed before it could clean up (the watchdog stops only the JVM). */
async function sweepAbandonedDirs(): Promise<void> {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    const pid = Number.parseInt(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function startOnce(libs: string, opts: StartKafkaOptions): Promise<RunningKafka> {
  const t0 = Date.now();
  await sweepAbandonedDirs();
  const owner = opts.ownerPid ?? process.pid;
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), `${owner}\n`);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'broker.log');
  const propsFile = join(dir, 'server.properties');
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  await writeFile(propsFile, serverProperties({ port, controllerPort }, dataDir));
  const cp = join(libs, '*');

  const format = await run(javaBin(), ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', propsFile], {
    timeoutMs: 120_000,
  });
  if (format.missing) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot start Kafka from jars: no JDK found (${javaBin()}); install Java 17+, set JAVA_HOME, run Docker, or set KAFKA_BROKERS=host:port`);
  }
  if (format.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`formatting Kafka storage in ${dataDir} failed (${format.failure}); output:\n${lastLines(format.output, 30)}`);
  }

  const launch = () => {
    const fd = openSync(logFile, 'a');
    const child = spawn(
      'bash',
      [
        '-c',
        WATCHDOG,
        'vigil-kafka-watchdog',
        String(owner),
        javaBin(),
        `-Xmx${opts.heapMb ?? 512}m`,
        '-Djava.awt.headless=true',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
        '-cp',
        cp,
        'kafka.Kafka',
        propsFile,
      ],
      { cwd: dir, detached: true, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    // The watchdog, not this process's event loop, keeps the broker tied to its owner.
    child.unref();
    child.once('exit', (code, signal) => (exit = `the broker process exited (code ${code}, signal ${signal})`));
    child.once('error', (err) => (exit = `the broker process could not be started: ${err.message}`));
    return child;
  };
  let exit: string | undefined;
  let child = launch();

  const kill = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await exitOf(child);
      clearTimeout(timer);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = (removeDir: boolean) =>
    (stopped ??= (async () => {
      await kill();
      if (removeDir) await rm(dir, { recursive: true, force: true });
      else await rm(dataDir, { recursive: true, force: true });
    })());

  const brokers = `127.0.0.1:${port}`;
  opts.log?.(`starting Kafka on ${brokers} (log: ${logFile})`);
  try {
    await waitForKafka([brokers], {
      timeoutMs: opts.startTimeoutMs ?? 90_000,
      gone: () => exit,
    });
  } catch (err) {
    await stop(false);
    const tail = await logTail(logFile, 40);
    const msg = `Kafka from jars on ${brokers} did not become ready: ${(err as Error).message}. Broker log kept at ${logFile}; its tail:\n${tail}`;
    throw isBindFailure(tail) ? new BindError(msg) : new Error(msg);
  }
  const startMs = Date.now() - t0;
  opts.log?.(`Kafka ready on ${brokers} in ${startMs} ms`);
  const halt = kill;
  const resume = async () => {
    exit = undefined;
    child = launch();
    await waitForKafka([brokers], { timeoutMs: opts.startTimeoutMs ?? 90_000, gone: () => exit });
  };
  return { brokers, logFile, timings: { fetchMs: 0, startMs }, stop: () => stop(true), halt, resume };
}

export interface ClusterBroker {
  nodeId: number;
  /** `127.0.0.1:port` of its client listener. */
  address: string;
  logFile: string;
  /** SIGKILL to the JVM (a crash): its data stays for `restart`. */
  kill(): Promise<void>;
  /** Starts the killed node again on its ports and data; resolves once the cluster counts it again. */
  restart(): Promise<void>;
  /** Whether its JVM runs. */
  running(): boolean;
}

export interface RunningKafkaCluster {
  /** Every node's client listener, comma-separated. */
  brokers: string;
  nodes: ClusterBroker[];
  timings: { fetchMs: number; startMs: number };
  /** Stops every JVM and removes the cluster's temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A KRaft cluster of `size` nodes (each broker and controller, default 3) from the same jars,
 * on loopback only: topics get three replicas and `min.insync.replicas` 2 by default, so one node
 * can die without losing an acknowledged write or the controller quorum. For the tests that need
 * a cluster (the fleet scenario); the rest of the suite keeps the single node.
 */
export async function startKafkaCluster(opts: StartKafkaOptions & { size?: number }): Promise<RunningKafkaCluster> {
  const fetched = await fetchKafkaJars(opts);
  const t0 = Date.now();
  await sweepAbandonedDirs();
  const size = opts.size ?? 3;
  const owner = opts.ownerPid ?? process.pid;
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), `${owner}\n`);
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const ports: BrokerPorts[] = [];
  for (let i = 0; i < size; i++) ports.push({ port: await port(), controllerPort: await port() });
  const voters = ports.map((p, i) => ({ nodeId: i + 1, controllerPort: p.controllerPort }));
  const clusterId = newClusterId();
  const cp = join(fetched.libs, '*');
  const nodeDirs = ports.map((_, i) => join(dir, `node-${i + 1}`));
  // Every node formatted before any starts, so a failure leaves no JVM behind.
  try {
    await Promise.all(
      nodeDirs.map(async (nodeDir, i) => {
        const nodeId = i + 1;
        await mkdir(nodeDir, { recursive: true });
        const propsFile = join(nodeDir, 'server.properties');
        await writeFile(propsFile, serverProperties(ports[i]!, join(nodeDir, 'data'), { nodeId, voters }));
        const format = await run(javaBin(), ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], { timeoutMs: 120_000 });
        if (format.missing) throw new Error(`cannot start Kafka from jars: no JDK found (${javaBin()}); install Java 17+ or set JAVA_HOME`);
        if (format.code !== 0) throw new Error(`formatting node ${nodeId} in ${nodeDir} failed (${format.failure}):\n${lastLines(format.output, 30)}`);
      }),
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const nodes: (ClusterBroker & { stopNode(): Promise<void> })[] = [];
  for (let i = 0; i < size; i++) {
    const nodeId = i + 1;
    const nodeDir = nodeDirs[i]!;
    const propsFile = join(nodeDir, 'server.properties');
    const logFile = join(nodeDir, 'broker.log');
    let child: ChildProcess | undefined;
    let exit: string | undefined;
    const launch = () => {
      exit = undefined;
      const fd = openSync(logFile, 'a');
      const c = spawn(
        'bash',
        ['-c', WATCHDOG, 'vigil-kafka-watchdog', String(owner), javaBin(), `-Xmx${opts.heapMb ?? 384}m`, '-Djava.awt.headless=true', '-Dorg.slf4j.simpleLogger.defaultLogLevel=info', '-Dorg.slf4j.simpleLogger.showDateTime=true', '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS', '-cp', cp, 'kafka.Kafka', propsFile],
        { cwd: nodeDir, detached: true, stdio: ['ignore', fd, fd] },
      );
      closeSync(fd);
      // The watchdog, not this process's event loop, keeps the node tied to its owner.
      c.unref();
      c.once('exit', (code, signal) => (exit = `node ${nodeId} exited (code ${code}, signal ${signal}; log: ${logFile})`));
      c.once('error', (err) => (exit = `node ${nodeId} could not be started: ${err.message}`));
      child = c;
    };
    const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    /** The watchdog and its JVM are one process group (detached). */
    const signalGroup = async (signal: NodeJS.Signals) => {
      if (!child || !alive()) return;
      const c = child;
      try {
        process.kill(-c.pid!, signal);
      } catch {
        /* already gone */
      }
      await exitOf(c);
    };
    const address = `127.0.0.1:${ports[i]!.port}`;
    nodes.push({
      nodeId,
      address,
      logFile,
      running: alive,
      kill: async () => {
        await signalGroup('SIGKILL');
        // The watchdog's exit is seen before the JVM's threads are all gone: dead means its port refuses.
        await untilRefused(ports[i]!.port, 15_000);
      },
      restart: async () => {
        if (alive()) return;
        launch();
        const timeoutMs = opts.startTimeoutMs ?? 120_000;
        await waitForKafka([address], { timeoutMs, gone: () => exit });
        await waitForCluster(nodes.map((n) => n.address), size, timeoutMs, () => exit);
      },
      stopNode: async () => {
        if (!alive()) return;
        const c = child!;
        const timer = setTimeout(() => void signalGroup('SIGKILL'), 10_000);
        try {
          c.kill('SIGTERM');
        } catch {
          /* gone */
        }
        await exitOf(c);
        clearTimeout(timer);
        await untilRefused(ports[i]!.port, 15_000);
      },
    });
    launch();
  }
  const brokers = nodes.map((n) => n.address).join(',');
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      const stopped = await Promise.allSettled(nodes.map((n) => n.stopNode()));
      await rm(dir, { recursive: true, force: true });
      const failed = stopped.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    })());
  opts.log?.(`starting a ${size}-node Kafka cluster on ${brokers} (logs under ${dir})`);
  try {
    await waitForCluster(nodes.map((n) => n.address), size, opts.startTimeoutMs ?? 120_000, () => {
      const dead = nodes.find((n) => !n.running());
      return dead ? `node ${dead.nodeId} exited (log: ${dead.logFile})` : undefined;
    });
  } catch (err) {
    const tails = await Promise.all(nodes.map(async (n) => `node ${n.nodeId}:\n${await logTail(n.logFile, 15)}`));
    await stop();
    throw new Error(`the Kafka cluster did not become ready: ${(err as Error).message}\n${tails.join('\n')}`);
  }
  const startMs = Date.now() - t0;
  opts.log?.(`Kafka cluster ready on ${brokers} in ${startMs} ms`);
  return { brokers, nodes, timings: { fetchMs: fetched.ms, startMs }, stop };
}

/** Until every node answers and the cluster lists `size` brokers with a controller. */
async function waitForCluster(addresses: string[], size: number, timeoutMs: number, gone: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await waitForKafka(addresses, { timeoutMs, gone });
  const kafka = new Kafka({ clientId: 'vigil-test-harness', brokers: addresses, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const c = await admin.describeCluster();
      if (c.brokers.length >= size && c.controller !== null && c.controller >= 0) return;
    } catch {
      /* not yet */
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const why = gone();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`fewer than ${size} brokers registered within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Until nothing accepts connections on the loopback port (a killed JVM has closed its sockets). */
async function untilRefused(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  while (await accepts()) {
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} still accepts connections ${timeoutMs} ms after its node was killed`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
