import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers } from './harness/index.js';

/**
 * Every benchmark under bench/ run once at a tiny size, so none rots between the runs that
 * measure (the figures printed here mean nothing: the sizes are tiny and the machine busy). Each
 * must exit 0 and print its figures.
 */

function bench(script: string, args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Two lanes side by side (the suite's wall time: 122 s one after the other on the CI machine). The
 * benches on Vigil's default topics (bus, rules, notifier) share lane A, so no two of them meet on
 * a topic; the others make topics, ports and directories of their own.
 */
const LANES: Record<string, 'A' | 'B'> = { parse: 'A', bus: 'A', ingest: 'A', rules: 'A', host: 'A', notifier: 'A', collector: 'B', allinone: 'B', query: 'B' };
const lanes = new Map<string, Promise<unknown>>();
/** Runs `fn` after whatever its lane runs before it. */
function inLane<T>(lane: string, fn: () => Promise<T>): Promise<T> {
  const run = (lanes.get(lane) ?? Promise.resolve()).then(fn, fn);
  lanes.set(lane, run.catch(() => undefined));
  return run;
}

const cases: [name: string, script: string, args: string[], env: Record<string, string>, prints: RegExp][] = [
  ['parse', 'bench/parse/run.ts', ['--seconds', '0.3'], {}, /lines\/s/],
  ['bus', 'bench/bus/run.ts', [], { MESSAGES: '20', PER_MESSAGE: '5' }, /ingest on the durable log .* points\/s/],
  ['ingest', 'bench/ingest/run.ts', [], { POINTS: '400', PER_MESSAGE: '20', LATENCY_MESSAGES: '3' }, /vigil \(produce → Kafka → ingest → CH\)[^]*vigil ingest, its own process .* 400 stored[^]*its own process, logs .* 200 stored/],
  ['rules', 'bench/rules/run.ts', ['--skip-latency'], { SOURCES: '4', ROUNDS: '3' }, /throughput/],
  ['host', 'bench/host/run.ts', [], { DURATION_S: '1', WARMUP_S: '0', INTERVAL_MS: '500' }, /node_exporter/],
  ['notifier', 'bench/notifier/run.ts', [], { ALERTS: '4', PACE_MS: '50', WARMUP: '20' }, /alertmanager/],
  ['collector', 'bench/collector/run.ts', [], { LINES: '2000', STEADY: '1', VIGIL: 'tsx,bundle' }, /vigil \(bundle\) file → Kafka[^]*rsyslog/],
  ['allinone', 'bench/allinone/run.ts', [], { RECORDS: '2000', PER_REQUEST: '50' }, /accepted .* records\/s[^]*stored after a clean stop +2,000 of 2,000/],
  ['query', 'bench/query/run.ts', ['--scale', '0.0002', '--runs', '1', '--warmup', '1'], {}, /first render/],
];

describe('benchmarks, smoke run at a tiny size', () => {
  it.concurrent.each(cases)('%s runs and prints its figures', async (name, script, args, env, prints) => {
    const lane = LANES[name];
    if (!lane) throw new Error(`bench ${name} has no lane`);
    const { code, output } = await inLane(lane, () => bench(script, args, env));
    if (code !== 0) throw new Error(`${script} exited with ${code}:\n${output.slice(-3000)}`);
    expect(output).toMatch(prints);
  }, 900_000);
});
