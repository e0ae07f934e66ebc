import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { SeverityNumber, type Attributes } from '@opentelemetry/api';
import { Type } from '@sinclair/typebox';
import { ConfigError, Duration, backoffDelay, logger, sleep } from '@vigil/platform';
import { definePlugin, type LogRecordInput, type PluginContext } from '../../plugin.js';
import { MetricAggregator, loadRulePack, registerParsedMetrics, type Parser } from '../../parse/index.js';
import { LineSplitter } from '../file/lines.js';

/**
 * The exec plugin: runs a command and turns what it prints into log records (MISSION C: "log
 * lines of an external process are parsed by regular expressions into events"). stdout and
 * stderr are split into lines and parsed by a rule pack, like the file plugin's lines; the
 * command is restarted with backoff when it exits, and its lifecycle is reported as events
 * (`process.started`, `process.exited`, `process.restarting`).
 */

const log = logger('collector.exec');

/** Always passed to the command, so it can find programs and speak the host's language. */
const BASE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

export const execSchema = Type.Object(
  {
    command: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Program and arguments, run without a shell, e.g. [/usr/bin/tunneld, --verbose].',
    }),
    cwd: Type.Optional(Type.String({ minLength: 1, description: 'Working directory of the command; default the collector\'s.' })),
    env: Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'an environment variable name' }), {
      default: [],
      description: 'Names of environment variables passed through to the command, besides PATH, HOME, LANG, LC_ALL and TZ. Values come from the collector\'s environment, never from the file.',
    }),
    parser: Type.String({ minLength: 1, default: 'default', description: 'Rule pack that parses the output: a built-in name (default, plain) or a rules file.' }),
    restart: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Run the command again when it exits.' }),
        initialDelay: Duration({ default: '1s', description: 'Wait before the first restart; doubles with each quick exit.' }),
        maxDelay: Duration({ default: '1m', description: 'Longest wait between restarts.' }),
        stableAfter: Duration({ default: '30s', description: 'A run at least this long resets the wait to initialDelay.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    stopTimeout: Duration({ default: '10s', description: 'At stop: how long after SIGTERM before SIGKILL.' }),
    maxLineBytes: Type.Integer({ minimum: 256, default: 65_536, description: 'Longer lines are cut to this many bytes (vigil.truncated=true).' }),
    attributes: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Attributes added to every record of this command.' }),
  },
  { additionalProperties: false },
);

export interface ExecOptions {
  command: string[];
  cwd?: string;
  env: string[];
  parser: string;
  restart: { enabled: boolean; initialDelay: number; maxDelay: number; stableAfter: number };
  stopTimeout: number;
  maxLineBytes: number;
  attributes: Record<string, string>;
}

type Stream = 'stdout' | 'stderr';

export interface ExecRunner {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The running child's pid, if one runs. */
  pid(): number | undefined;
}

/** Child environment: the base names and the configured ones, as set in `from`. */
export function childEnv(names: readonly string[], from: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of BASE_ENV) if (from[name] !== undefined) env[name] = from[name];
  for (const name of names) if (from[name] !== undefined) env[name] = from[name];
  return env;
}

export function createExecRunner(options: ExecOptions, ctx: PluginContext, parser: Parser = loadRulePack(options.parser)): ExecRunner {
  const executable = basename(options.command[0]!);
  const aggregator = new MetricAggregator();
  const stopping = new AbortController();
  const pending = new Set<Promise<void>>();
  let unregister: (() => void) | undefined;
  let child: ChildProcess | undefined;
  let loop: Promise<void> | undefined;

  const ship = (records: LogRecordInput[]) => {
    if (records.length === 0) return;
    const p = ctx.logs(records).catch((err: Error) => log.warn({ plugin: ctx.name, records: records.length, err: err.message }, 'could not hand over command output'));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const event = (name: string, body: string, attributes: Attributes, severity: SeverityNumber) => {
    const p = ctx.event(name, body, attributes, severity).catch((err: Error) => log.warn({ plugin: ctx.name, event: name, err: err.message }, 'could not send a lifecycle event'));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  /** Reads one output stream into parsed records, one batch per chunk read. */
  const read = (stream: NodeJS.ReadableStream, which: Stream, pid: number | undefined): Promise<void> => {
    const splitter = new LineSplitter(options.maxLineBytes, 'utf8');
    const context = {
      defaultSeverity: which === 'stderr' ? SeverityNumber.WARN : 0,
      attributes: { ...options.attributes, 'log.iostream': which, 'process.executable.name': executable, ...(pid !== undefined ? { 'process.pid': pid } : {}) } as Attributes,
    };
    let batch: LogRecordInput[] = [];
    const sink = (text: string, _end: number, truncated: boolean) => {
      if (text === '') return;
      const { record, metrics } = parser.parse(text, context);
      if (truncated && record.attributes) record.attributes['vigil.truncated'] = true;
      batch.push(record);
      if (metrics.length > 0) aggregator.updateAll(metrics);
    };
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        splitter.push(chunk, 0, chunk.length, sink);
        ship(batch);
        batch = [];
      });
      stream.on('end', () => {
        splitter.flush(sink);
        ship(batch);
        batch = [];
        resolve();
      });
      stream.on('error', () => resolve());
    });
  };

  /** Runs the command once; resolves with how it ended. */
  const runOnce = async (): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string; ranMs: number }> => {
    const started = Date.now();
    const proc = spawn(options.command[0]!, options.command.slice(1), {
      cwd: options.cwd,
      env: childEnv(options.env, process.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let spawnError: string | undefined;
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc.once('error', (err: NodeJS.ErrnoException) => {
        spawnError = err.code ?? err.message;
        // A command that could not start emits no close on some versions; do not wait for one.
        if (proc.pid === undefined) resolve({ code: null, signal: null });
      });
      proc.once('close', (code, signal) => resolve({ code, signal }));
    });
    const pid = proc.pid;
    const outputs: Promise<void>[] = [];
    if (pid !== undefined) {
      event('process.started', `${executable} started (pid ${pid})`, { 'process.pid': pid, 'process.executable.name': executable }, SeverityNumber.INFO);
      outputs.push(read(proc.stdout!, 'stdout', pid), read(proc.stderr!, 'stderr', pid));
    }
    const { code, signal } = await closed;
    await Promise.all(outputs);
    child = undefined;
    return { code, signal, error: spawnError, ranMs: Date.now() - started };
  };

  const supervise = async () => {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      const { code, signal, error, ranMs } = await runOnce();
      const attrs: Attributes = { 'process.executable.name': executable, 'vigil.exec.uptime_ms': ranMs };
      if (code !== null) attrs['process.exit.code'] = code;
      if (signal !== null) attrs['vigil.exec.signal'] = signal;
      if (error !== undefined) attrs['vigil.exec.error'] = error;
      const how = error !== undefined ? `could not start (${error})` : signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      const clean = error === undefined && code === 0;
      event('process.exited', `${executable} ${how} after ${ranMs} ms`, attrs, clean || stopping.signal.aborted ? SeverityNumber.INFO : SeverityNumber.WARN);
      if (error !== undefined) log.warn({ plugin: ctx.name, executable, error }, 'command could not start (check the path in command[0] and cwd)');
      if (stopping.signal.aborted || !options.restart.enabled) break;
      if (ranMs >= options.restart.stableAfter) attempt = 0;
      const delay = backoffDelay(attempt, options.restart.initialDelay, options.restart.maxDelay);
      attempt++;
      event('process.restarting', `${executable} restarts in ${delay} ms`, { 'process.executable.name': executable, 'vigil.exec.restart_delay_ms': delay, 'vigil.exec.attempt': attempt }, SeverityNumber.INFO);
      await sleep(delay, stopping.signal);
    }
  };

  return {
    pid: () => child?.pid,
    async start() {
      unregister = registerParsedMetrics(ctx.meter, aggregator);
      ctx.signal.addEventListener('abort', () => stopping.abort(), { once: true });
      loop = supervise().catch((err: Error) => log.error({ plugin: ctx.name, err: err.message }, 'exec supervisor failed'));
    },
    async stop() {
      stopping.abort();
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => {
          log.warn({ plugin: ctx.name, executable, pid: proc.pid }, `command did not stop within ${options.stopTimeout} ms of SIGTERM; sending SIGKILL`);
          proc.kill('SIGKILL');
        }, options.stopTimeout);
        await exited;
        clearTimeout(timer);
      }
      await loop;
      await Promise.all([...pending]);
      unregister?.();
    },
  };
}

export const execPlugin = definePlugin({
  type: 'exec',
  description: 'Runs a command, parses its stdout and stderr lines with a rule pack, restarts it with backoff, and reports its starts and exits as events.',
  schema: execSchema,
  check(options, at) {
    try {
      loadRulePack(options.parser);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => `${at}.parser: ${p}`));
      throw err;
    }
  },
  create(options, ctx) {
    // Loaded here, not at start, so that a broken rule pack is a config error before anything runs.
    const parser = loadRulePack(options.parser);
    return createExecRunner(options as ExecOptions, ctx, parser);
  },
});
