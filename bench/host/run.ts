/**
 * bench/host: CPU time and peak memory of Vigil's host plugin against Prometheus' node_exporter,
 * both producing host metrics at the same interval for the same duration on the same machine.
 *   vigil        the host plugin alone (bench/host/host-child.ts): read /proc, collect, encode
 *                OTLP protobuf, every INTERVAL_MS
 *   node_exporter  scraped by this script every INTERVAL_MS, twice: with its default collectors,
 *                and with only the collectors that cover what the host plugin reports
 * CPU is utime+stime from /proc/<pid>/stat over the measured window (after a warm-up, so
 * start-up costs such as compiling TypeScript are left out); memory is VmHWM (peak RSS) and
 * VmRSS at the end. The Vigil child's memory includes Node itself and what @vigil/platform loads.
 * Target: the host plugin at most 1.5 × node_exporter's CPU.
 *
 *   pnpm bench:host                          # 200 ms for 30 s
 *   INTERVAL_MS=1000 DURATION_S=60 pnpm bench:host
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 200);
const DURATION_S = Number(process.env.DURATION_S ?? 30);
const WARMUP_S = Number(process.env.WARMUP_S ?? 3);
const NODE_EXPORTER = process.env.NODE_EXPORTER ?? '/usr/bin/prometheus-node-exporter';
const TICK = 100; // USER_HZ

/** The node_exporter collectors that cover the host plugin's metrics. */
const MATCHING = ['cpu', 'meminfo', 'filesystem', 'diskstats', 'netdev', 'loadavg', 'stat', 'time'];

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are at 11 and 12 once pid and comm are cut off.
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/** VmHWM (peak resident set) or VmRSS (now) of a process, MiB. */
function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms`);
}

interface Contender {
  name: string;
  child: ChildProcess;
  pid: number;
  scrape?: string;
  scrapes: number;
  bytes: number;
}

async function startExporter(name: string, collectors?: string[]): Promise<Contender> {
  const port = await freePort();
  const args = [`--web.listen-address=127.0.0.1:${port}`];
  if (collectors) args.push('--collector.disable-defaults', ...collectors.map((c) => `--collector.${c}`));
  const child = spawn(NODE_EXPORTER, args, { stdio: 'ignore' });
  const scrape = `http://127.0.0.1:${port}/metrics`;
  await waitFor(name, async () => (await fetch(scrape)).ok);
  return { name, child, pid: child.pid!, scrape, scrapes: 0, bytes: 0 };
}

async function startVigil(): Promise<Contender> {
  const script = fileURLToPath(new URL('./host-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, INTERVAL_MS: String(INTERVAL_MS), LOG_LEVEL: 'warn' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('vigil host plugin', async () => out.includes('ready'));
  const c: Contender = { name: 'vigil host plugin', child, pid: child.pid!, scrapes: 0, bytes: 0 };
  child.stdout!.on('data', () => {
    const last = out.trim().split('\n').pop() ?? '';
    if (last.startsWith('{')) {
      const r = JSON.parse(last) as { exports: number; bytes: number };
      c.scrapes = r.exports;
      c.bytes = r.bytes;
    }
  });
  return c;
}

async function main(): Promise<void> {
  if (!existsSync(NODE_EXPORTER)) throw new Error(`${NODE_EXPORTER} is missing: install the Debian package prometheus-node-exporter (or set NODE_EXPORTER)`);
  console.log(`bench/host: interval ${INTERVAL_MS} ms for ${DURATION_S} s (after ${WARMUP_S} s warm-up) on ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'} CPUs`);
  const vigil = await startVigil();
  const full = await startExporter('node_exporter (default collectors)');
  const matched = await startExporter(`node_exporter (${MATCHING.join(',')})`, MATCHING);
  const all = [vigil, full, matched];

  // node_exporter gathers on each scrape: scrape both at the interval, as Prometheus would.
  let scraping = true;
  const scraper = (c: Contender) =>
    (async () => {
      while (scraping) {
        const began = Date.now();
        const body = await (await fetch(c.scrape!)).arrayBuffer();
        c.scrapes++;
        c.bytes += body.byteLength;
        await new Promise((r) => setTimeout(r, Math.max(0, INTERVAL_MS - (Date.now() - began))));
      }
    })();
  const loops = [scraper(full), scraper(matched)];

  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const before = all.map((c) => cpuSeconds(c.pid));
  const scrapesBefore = all.map((c) => c.scrapes);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  const wall = (performance.now() - t0) / 1000;
  const cpu = all.map((c, i) => cpuSeconds(c.pid) - before[i]!);
  const rss = all.map((c) => rssMiB(c.pid, 'VmHWM'));
  const rssNow = all.map((c) => rssMiB(c.pid, 'VmRSS'));
  const scrapesInWindow = all.map((c, i) => c.scrapes - scrapesBefore[i]!);
  scraping = false;
  await Promise.all(loops);

  vigil.child.kill('SIGTERM');
  await new Promise((r) => vigil.child.once('exit', r));
  for (const c of [full, matched]) c.child.kill('SIGTERM');

  const rows = all.map((c, i) => ({
    contender: c.name,
    'cpu s': cpu[i]!.toFixed(2),
    'cpu %': ((cpu[i]! / wall) * 100).toFixed(2),
    'ms/collection': scrapesInWindow[i] ? ((cpu[i]! * 1000) / scrapesInWindow[i]!).toFixed(2) : vigil === c ? ((cpu[i]! * 1000) / ((wall * 1000) / INTERVAL_MS)).toFixed(2) : '-',
    'peak RSS MiB': rss[i]!.toFixed(1),
    'RSS MiB at end': rssNow[i]!.toFixed(1),
    'collections': c === vigil ? `${c.scrapes} total` : `${scrapesInWindow[i]} in window`,
    'bytes/collection': c.scrapes ? Math.round(c.bytes / c.scrapes) : '-',
  }));
  console.table(rows);
  const ratioFull = cpu[0]! / cpu[1]!;
  const ratioMatched = cpu[0]! / cpu[2]!;
  console.log(`CPU ratio vigil / node_exporter (default collectors): ${ratioFull.toFixed(2)}×`);
  console.log(`CPU ratio vigil / node_exporter (matching collectors): ${ratioMatched.toFixed(2)}×`);
  console.log(`RSS ratio vigil / node_exporter (default collectors): ${(rss[0]! / rss[1]!).toFixed(2)}×`);
  console.log(`target ≤ 1.5× node_exporter's CPU (matching collectors): ${ratioMatched <= 1.5 ? 'met' : 'NOT met'}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
