import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { logEntries } from '@vigil/platform';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';

/**
 * The file plugin in a real `vigil collector` process, killed with SIGKILL while lines are being
 * written, then started again: every line must reach the Kafka topic at least once (the checkpoint
 * only moves after the shipper has made records durable). Duplicates are the unacknowledged tail.
 */

const TOTAL = 20_000;
const line = (i: number) => `2024-05-01T12:00:00.000Z INFO seq=${i} order accepted for terminal ${i % 97} ${'x'.repeat(i % 40)}`;

describe('file plugin survives SIGKILL', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-file-kill-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function collector(port: number): { child: ChildProcess; output: () => string } {
    let out = '';
    const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'collector', '--config', join(dir, 'vigil.yaml')], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: join(dir, 'data'), KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    children.push(child);
    return { child, output: () => out };
  }

  const shipped = async (port: number) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(text.match(/vigil_collector_file_records_shipped(?:_total)?\{[^}]*plugin="app"[^}]*\} (\d+)/)?.[1] ?? 0);
  };

  it('every line written arrives at least once across a SIGKILL and a restart', async () => {
    const p = unique('filekill');
    const logs = `${p}-logs`;
    const path = join(dir, 'app.log');
    writeFileSync(path, '');
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        `kafka:`,
        `  topics: { logs: ${logs}, metrics: ${p}-metrics, alerts: ${p}-alerts, dlq: ${p}-dlq }`,
        `collector:`,
        `  interval: 1h`,
        `  host: { enabled: false }`,
        `  plugins:`,
        `    - type: file`,
        `      name: app`,
        `      include: [${join(dir, '*.log')}]`,
        `      startAt: beginning`,
        `      pollInterval: 50ms`,
        `      batchSize: 500`,
        `      batchWait: 50ms`,
        '',
      ].join('\n'),
    );

    const port1 = await freePort();
    const first = collector(port1);
    await eventually('collector up', async () => (await fetch(`http://127.0.0.1:${port1}/health`)).status, (s) => s === 200, 60_000);

    // Write under load: 500 lines every 20 ms; kill the collector in the middle of it.
    let written = 0;
    const writeSome = (n: number) => {
      const chunk: string[] = [];
      for (let k = 0; k < n && written < TOTAL; k++) chunk.push(line(written++));
      appendFileSync(path, `${chunk.join('\n')}\n`);
    };
    while (written < TOTAL / 2) {
      writeSome(500);
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually('some lines shipped before the kill', () => shipped(port1), (n) => n >= 2000, 30_000, 50);
    // A burst, and the kill a poll later: the collector is then reading, batching and shipping it.
    writeSome(3000);
    await new Promise((r) => setTimeout(r, 70));
    first.child.kill('SIGKILL');
    await new Promise<void>((r) => first.child.once('exit', () => r()));
    const atKill = written;
    // Lines wholly before the checkpointed offset at the kill: the file plugin never reads those again.
    const checkpoint = JSON.parse(readFileSync(join(dir, 'data', 'collector', 'app', 'checkpoints.json'), 'utf8')) as { files: { offset: number }[] };
    const committedLines = readFileSync(path).subarray(0, checkpoint.files[0]!.offset).toString().split('\n').length - 1;
    while (written < TOTAL) writeSome(1000); // the rest while no collector runs

    const port2 = await freePort();
    const second = collector(port2);
    await eventually('every line shipped after the restart', () => shipped(port2), (n) => n > 0 && n >= TOTAL - atKill, 60_000, 200);

    const kafka = new Kafka({ clientId: p, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `${p}-check` });
    const seen = new Map<number, number>();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [logs], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          for (const e of logEntries(message.value!)) {
            const m = /seq=(\d+) /.exec(e.body);
            if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
          }
        },
      });
      await eventually('all lines in the topic', () => seen.size, (n) => n === TOTAL, 60_000, 200);
    } finally {
      await consumer.disconnect();
    }
    second.child.kill('SIGTERM');
    await new Promise<void>((r) => second.child.once('exit', () => r()));

    const missing = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => !seen.has(i));
    const duplicates = [...seen.values()].reduce((a, c) => a + c - 1, 0);
    let beforeCheckpoint = 0;
    for (const [seq, count] of seen) if (seq < committedLines) beforeCheckpoint += count - 1;
    console.log(
      `[file sigkill] ${TOTAL} lines, killed after ${atKill} written, ${committedLines} checkpointed; ${missing.length} missing, ` +
        `${duplicates} duplicates (${duplicates - beforeCheckpoint} re-read after the checkpoint, ${beforeCheckpoint} resent by the shipper)`,
    );
    expect(missing).toEqual([]);
    // Duplicates can only be lines that were in the file but after the checkpoint at the kill.
    expect(duplicates).toBeLessThanOrEqual(atKill - committedLines);
    expect(second.output()).not.toMatch(/"level":(50|60)/);
  }, 180_000);
});
