import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, queryRows } from '@vigil/platform';
import { eventually, freePort } from './harness/index.js';

/**
 * "Accepted means durable" for the all-in-one process: numbered log records sent over OTLP/HTTP
 * at 200 a second while the process is killed with SIGKILL (twice in a row), stopped with SIGTERM
 * and started again on the same data directory. Every record answered 200 is stored exactly once.
 * And under overload the intake answers 429 with Retry-After instead of growing without bound.
 */

interface Vigil {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(dir: string, port: number): Vigil {
  let output = '';
  const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'all-in-one', '--config', join(dir, 'vigil.yaml')], {
    env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function ready(port: number): Promise<void> {
  await eventually('vigil ready', async () => (await fetch(`http://127.0.0.1:${port}/health`)).status, (s) => s === 200, 90_000, 100);
}

function logsRequest(seqs: number[], run: string): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'host.id', value: { stringValue: 'crash-test' } }, { key: 'service.name', value: { stringValue: 'sender' } }] },
        scopeLogs: [
          {
            logRecords: seqs.map((seq) => ({
              timeUnixNano: `${Date.now()}000000`,
              severityNumber: 9,
              body: { stringValue: `record ${seq}` },
              attributes: [
                { key: 'seq', value: { intValue: String(seq) } },
                { key: 'run', value: { stringValue: run } },
              ],
            })),
          },
        ],
      },
    ],
  });
}

/** Sends `perTick` numbered records every `tickMs` until stopped; remembers which were answered 200. */
function sender(port: number, run: string, perTick: number, tickMs: number) {
  const accepted = new Set<number>();
  const statuses = new Map<string, number>();
  let next = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped) {
      const seqs = Array.from({ length: perTick }, () => next++);
      const p = (async () => {
        let status = 'error';
        try {
          const res = await fetch(`http://127.0.0.1:${port}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsRequest(seqs, run), signal: AbortSignal.timeout(10_000) });
          status = String(res.status);
          const body = (await res.json()) as { partialSuccess?: { rejectedLogRecords?: string } };
          if (res.status === 200 && !body.partialSuccess) for (const s of seqs) accepted.add(s);
        } catch {
          // refused or reset while the process is down: not accepted
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      })();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await Promise.all(inFlight);
  })();
  return {
    accepted,
    statuses,
    sent: () => next,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function storedCounts(dir: string, run: string): Promise<Map<number, number>> {
  const storage = openStorage({ database: 'vigil', dataDir: join(dir, 'data') });
  try {
    const rows = await queryRows<{ seq: string; n: string }>(
      storage,
      `SELECT LogAttributes['seq'] AS seq, count() AS n FROM ${storage.table('otel_logs')} WHERE LogAttributes['run'] = {run:String} GROUP BY seq`,
      { run },
    );
    return new Map(rows.map((r) => [Number(r.seq), Number(r.n)]));
  } finally {
    await storage.close();
  }
}

describe('vigil all-in-one durability', () => {
  it('stores every record answered 200 exactly once across SIGKILL, SIGKILL again, and SIGTERM', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'vigil-crash-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'vigil.yaml'), 'collector:\n  host: { enabled: false }\nrules:\n  defaults: false\n');
    const port = await freePort();
    const run = `crash-${Date.now()}`;
    const send = sender(port, run, 10, 50); // 200 records a second
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const phases: string[] = [];
    const step = async (what: string, signal: 'SIGKILL' | 'SIGTERM', runMs: number) => {
      const v = start(dir, port);
      await ready(port);
      const before = send.accepted.size;
      await pause(runMs);
      v.child.kill(signal);
      const code = await v.exited;
      phases.push(`${what}: ${send.accepted.size - before} accepted, exit ${code ?? 'signal'}`);
      if (signal === 'SIGTERM') {
        expect(code).toBe(0);
        expect(v.output()).toMatch(/stopped/);
      }
    };
    await step('first run, then SIGKILL', 'SIGKILL', 4_000);
    await step('restart, SIGKILL again soon after', 'SIGKILL', 1_500);
    await step('restart, SIGTERM', 'SIGTERM', 4_000);
    await step('restart, SIGTERM', 'SIGTERM', 2_000);
    await send.stop();

    const stored = await storedCounts(dir, run);
    const lost = [...send.accepted].filter((s) => !stored.has(s));
    const duplicated = [...stored].filter(([, n]) => n > 1);
    const storedAccepted = [...send.accepted].filter((s) => stored.get(s) === 1).length;
    console.log(
      `durability: sent ${send.sent()}, answered 200 ${send.accepted.size}, stored ${stored.size} (of them accepted ${storedAccepted}); lost ${lost.length}, duplicated ${duplicated.length}; ` +
        `answers ${JSON.stringify(Object.fromEntries(send.statuses))}; ${phases.join('; ')}`,
    );
    expect(send.accepted.size).toBeGreaterThan(1_000);
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
  }, 240_000);

  it('answers 429 with Retry-After under overload, stays within its memory, and stores every accepted record once it catches up', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'vigil-overload-'));
    dirs.push(dir);
    // A small bound, so a burst passes it on any machine.
    writeFileSync(join(dir, 'vigil.yaml'), 'collector:\n  host: { enabled: false }\nrules:\n  defaults: false\nbus:\n  maxPendingBytes: 2097152\n');
    const port = await freePort();
    const run = `overload-${Date.now()}`;
    const v = start(dir, port);
    await ready(port);
    const pid = v.child.pid!;
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    let peak = rss();
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);

    // 16 senders, each posting 2,000 records (~700 kB) as fast as answered, for 15 s.
    const accepted = new Set<number>();
    let next = 0;
    const answers = new Map<number, number>();
    let retryAfter: string | null = null;
    const deadline = Date.now() + 15_000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < deadline) {
          const seqs = Array.from({ length: 2_000 }, () => next++);
          const res = await fetch(`http://127.0.0.1:${port}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: logsRequest(seqs, run) });
          answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
          await res.arrayBuffer();
          if (res.status === 200) for (const s of seqs) accepted.add(s);
          else if (res.status === 429) {
            retryAfter = res.headers.get('retry-after');
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }),
    );
    clearInterval(sampler);
    expect(answers.get(429) ?? 0).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { checks: Record<string, { status: string; detail?: string }> };
    console.log(`overload: answers ${JSON.stringify(Object.fromEntries(answers))}, accepted ${accepted.size} records, peak RSS ${Math.round(peak / 1048576)} MiB; ingest ${JSON.stringify(health.checks.ingest)}`);
    expect(peak).toBeLessThan(1536 * 1048576);

    // Once the load stops, ingest catches up and stores everything that was accepted, once.
    v.child.kill('SIGTERM');
    expect(await v.exited).toBe(0);
    const again = start(dir, port);
    await ready(port);
    await eventually(
      'every accepted record stored',
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/health`);
        return ((await r.json()) as { checks: Record<string, { detail?: string }> }).checks.ingest?.detail;
      },
      (d) => d === 'caught up',
      120_000,
      500,
    );
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    const stored = await storedCounts(dir, run);
    expect([...accepted].filter((s) => !stored.has(s))).toEqual([]);
    expect([...stored].filter(([, n]) => n > 1)).toEqual([]);
  }, 240_000);
});
