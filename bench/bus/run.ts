/**
 * bench/bus: what durability costs the all-in-one. The same OTLP messages through the in-memory
 * bus (nothing survives a crash; what the all-in-one used before) and the durable local log
 * (fsync'd, group commit), side by side in one run:
 *   bus alone      produce → a consumer group that does nothing; messages/s and MB/s
 *                  - one message per send from 16 concurrent senders (the worst case: every send
 *                    waits for its own sync round)
 *                  - 256 messages per send (what the all-in-one does: the collector's shipper
 *                    gathers the intake's requests while the previous send syncs)
 *   with ingest    the ingest role on each bus into the embedded engine: points/s, from the first
 *                  send to the last point queryable
 *
 *   pnpm bench:bus                      # 2,000 messages of 100 points
 *   MESSAGES=5000 PER_MESSAGE=200 pnpm bench:bus
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { HealthRegistry, LogBus, MemoryBus, createTelemetry, migrate, openStorage, parseConfig, queryRows, setLogLevel, type Bus } from '@vigil/platform';
import { createIngestRole } from '@vigil/ingest';
import { metricPayloads } from '../otlp-payloads.js';

const MESSAGES = Number(process.env.MESSAGES ?? 2_000);
const PER_MESSAGE = Number(process.env.PER_MESSAGE ?? 100);
const HOSTS = 20;

const payloads = (count: number) => metricPayloads(count, PER_MESSAGE, { hosts: HOSTS });

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const cpu = () => {
  const u = process.cpuUsage();
  return { user: u.user / 1e6, system: u.system / 1e6 };
};

async function busAlone(bus: Bus, messages: { key: string; value: Buffer }[], perSend: number, senders: number): Promise<{ s: number; user: number; system: number }> {
  const topic = `t-${perSend}-${senders}`;
  await bus.ensureTopics([{ name: topic, partitions: 3 }]);
  let seen = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = await bus.subscribe({
    groupId: `g-${topic}`,
    topics: [topic],
    handler: async (b) => {
      seen += b.records.length;
      if (seen >= messages.length) done();
    },
  });
  const producer = await bus.producer();
  const c0 = cpu();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < messages.length) {
        const chunk = messages.slice(next, next + perSend);
        next += perSend;
        await producer.send(topic, chunk);
      }
    }),
  );
  await all;
  const s = (performance.now() - t0) / 1000;
  const c1 = cpu();
  await sub.stop();
  return { s, user: c1.user - c0.user, system: c1.system - c0.system };
}

async function withIngest(name: string, bus: Bus, messages: { key: string; value: Buffer }[], dataDir: string): Promise<number> {
  const storage = openStorage({ database: `bench_${name}`, dataDir });
  await migrate(storage, 86_400_000);
  const config = parseConfig('', { env: {} });
  const role = createIngestRole({ config, bus, storage, telemetry: createTelemetry('bench'), health: new HealthRegistry() });
  await role.start();
  const producer = await bus.producer();
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += 256) await producer.send(config.kafka.topics.metrics, messages.slice(i, i + 256));
  for (;;) {
    const n = Number((await queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table('otel_metrics_gauge')}`))[0]!.n);
    if (n >= messages.length * PER_MESSAGE) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const s = (performance.now() - t0) / 1000;
  await role.stop();
  await storage.close();
  return (messages.length * PER_MESSAGE) / s;
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-bench-bus-'));
  try {
    const messages = await payloads(MESSAGES);
    const bytes = messages.reduce((n, m) => n + m.value.length, 0);
    process.stdout.write(`bench/bus: ${fmt(MESSAGES)} OTLP messages of ${PER_MESSAGE} points (${(bytes / 1e6).toFixed(1)} MB), ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const row = (what: string, r: { s: number; user: number; system: number }) =>
      process.stdout.write(
        `  ${what.padEnd(52)} ${fmt(MESSAGES / r.s).padStart(9)} msg/s ${(bytes / 1e6 / r.s).toFixed(1).padStart(7)} MB/s  CPU per message: ${((r.user / MESSAGES) * 1e6).toFixed(0)} µs user, ${((r.system / MESSAGES) * 1e6).toFixed(0)} µs system\n`,
      );
    for (const [perSend, senders, label] of [
      [1, 16, 'one message per send, 16 senders'],
      [256, 1, '256 messages per send (the shipper batches)'],
    ] as const) {
      const mem = new MemoryBus({ partitions: 3 });
      row(`memory  ${label}`, await busAlone(mem, messages, perSend, senders));
      await mem.close();
      const log = new LogBus({ dir: join(dir, `bus-${perSend}`), partitions: 3 });
      row(`durable ${label}`, await busAlone(log, messages, perSend, senders));
      await log.close();
    }
    // One embedded engine per process: every ingest run shares it (a database each); alternated, twice each, best kept.
    const best = { memory: 0, durable: 0 };
    for (let round = 0; round < 2; round++) {
      for (const kind of round === 0 ? (['durable', 'memory'] as const) : (['memory', 'durable'] as const)) {
        const bus = kind === 'memory' ? new MemoryBus({ partitions: 3 }) : new LogBus({ dir: join(dir, `bus-ingest-${round}`), partitions: 3 });
        best[kind] = Math.max(best[kind], await withIngest(`${kind}_${round}`, bus, messages, dir));
        await bus.close();
      }
    }
    process.stdout.write(`  ${'ingest on the memory bus (best of 2)'.padEnd(52)} ${fmt(best.memory).padStart(9)} points/s\n`);
    process.stdout.write(`  ${'ingest on the durable log (best of 2)'.padEnd(52)} ${fmt(best.durable).padStart(9)} points/s  (${((best.durable / best.memory) * 100).toFixed(0)} % of the memory bus)\n`);
    process.stdout.write(`  load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench/bus failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
