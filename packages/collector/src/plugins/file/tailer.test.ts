import { appendFileSync, closeSync, copyFileSync, openSync, writeSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogRecordInput } from '../../plugin.js';
import { Tailer, type TailerOptions } from './tailer.js';

/** The tailer against real files in a temporary directory; records land in an array (the plugin's own sink contract). */

const root = mkdtempSync(join(os.tmpdir(), 'vigil-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function setup(over: Partial<TailerOptions> = {}) {
  const dir = join(root, `t${n++}`);
  mkdirSync(join(dir, 'state'), { recursive: true });
  const opts: TailerOptions = {
    include: [join(dir, '*.log')],
    exclude: [],
    startAt: 'beginning',
    pollInterval: 10,
    refreshInterval: 30,
    fingerprintBytes: 64,
    maxLineBytes: 65536,
    encoding: 'utf8',
    attributes: { env: 'test' },
    batchSize: 50,
    batchWait: 5,
    rotateWait: 100,
    forceFlushPeriod: 200,
    ...over,
  };
  const got: LogRecordInput[] = [];
  const sink = { logs: async (r: LogRecordInput[]) => void got.push(...r), stateDir: async () => join(dir, 'state') };
  return { dir, opts, got, sink, tailer: (s = sink) => new Tailer(opts, s) };
}

const bodies = (rs: LogRecordInput[]) => rs.map((r) => r.body);
async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));
const seqLines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i} ${'x'.repeat((from + i) % 37)}`);

describe('file tailer on real files', () => {
  it('startAt end skips what was there at the first scan; beginning reads it; files created later are read whole', async () => {
    for (const startAt of ['end', 'beginning'] as const) {
      const t = setup({ startAt });
      writeFileSync(join(t.dir, 'a.log'), 'old 1\nold 2\n');
      const tailer = t.tailer();
      await tailer.start();
      appendFileSync(join(t.dir, 'a.log'), 'new 1\n');
      writeFileSync(join(t.dir, 'b.log'), 'b 1\n');
      await until('lines', () => t.got.length >= (startAt === 'end' ? 2 : 4));
      await tick(50);
      await tailer.stop();
      const want = startAt === 'end' ? ['new 1', 'b 1'] : ['old 1', 'old 2', 'new 1', 'b 1'];
      expect(bodies(t.got).sort()).toEqual(want.sort());
      const a = t.got.find((r) => r.body === 'new 1')!;
      expect(a.attributes).toEqual({ env: 'test', 'log.file.path': join(t.dir, 'a.log'), 'log.file.name': 'a.log' });
      expect(a.severityNumber).toBeUndefined();
    }
  });

  it('follows rename rotation while lines are written: every line once, in order, including those written to the old file after the rename', async () => {
    // A second of grace (5 s by default): the writer below goes on writing to the renamed file for
    // about 80 ms, and with 100 ms a CI run whose event loop stalled that long (a JVM starting
    // beside it) closed the old file before its last lines (as a real writer that keeps writing
    // past rotateWait would lose them).
    const t = setup({ fingerprintBytes: 32, rotateWait: 1_000 });
    t.opts.include = [join(t.dir, 'app.log')];
    const path = join(t.dir, 'app.log');
    // The application holds its descriptor: after the rename it goes on writing to the old file for a while, as real ones do until they reopen.
    let fd = openSync(path, 'a');
    const tailer = t.tailer();
    await tailer.start();
    const all = seqLines(0, 3000);
    writeSync(fd, `${all[0]}\n`);
    await until('the file is tailed', () => t.got.length === 1);
    for (let i = 1; i < all.length; i++) {
      writeSync(fd, `${all[i]}\n`);
      if (i % 500 === 450) {
        // The file in place must have been found before it is renamed to a name the glob does not
        // match (a file that lives under its name for less than a poll is never seen, by any tailer;
        // a CI run whose event loop stalled longer than this file's ~50 ms under its name lost it).
        await until('the current file is tailed', () => t.got.length >= i + 1);
        renameSync(path, join(t.dir, `app.log.${i}`)); // not matched by the glob: drained through our open descriptor
        await tick(40); // the tailer notices; lines 451..499 still go to the old file
      }
      if (i % 500 === 499) {
        await tick(40); // the tailer has seen the new file by now (and may have closed the old one too early)
        closeSync(fd);
        fd = openSync(path, 'a');
      }
      if (i % 97 === 0) await tick(5);
    }
    closeSync(fd);
    await until('all lines', () => t.got.length >= all.length);
    await tick(100);
    await tailer.stop();
    expect(bodies(t.got)).toEqual(all);
    expect(tailer.stats.rotations).toBeGreaterThanOrEqual(6);
  });

  it('follows copy-truncate (logrotate copytruncate, rotated copies matched by the glob): no line lost, none repeated', async () => {
    const t = setup({ fingerprintBytes: 32 });
    t.opts.include = [join(t.dir, 'app.log*')];
    const path = join(t.dir, 'app.log');
    writeFileSync(path, '');
    const tailer = t.tailer();
    await tailer.start();
    const all = seqLines(0, 3000);
    for (let i = 0; i < all.length; i++) {
      appendFileSync(path, `${all[i]}\n`);
      if (i % 400 === 399) {
        // As with logrotate, rotations are far apart next to the poll: the copy made last time has
        // been read before it is renamed again (a copy renamed over twice before any poll sees it
        // is gone for every tailer). Lines since then are still unread when this rotation starts.
        if (i > 400) await until('the previous rotation read', () => new Set(bodies(t.got)).size >= i - 400, 30_000);
        try {
          renameSync(join(t.dir, 'app.log.1'), join(t.dir, 'app.log.2'));
        } catch {
          // first rotation: no app.log.1 yet
        }
        copyFileSync(path, join(t.dir, 'app.log.1'));
        truncateSync(path, 0);
      }
      if (i % 89 === 0) await tick(3);
    }
    await until('all lines', () => new Set(bodies(t.got)).size >= all.length, 30_000);
    await tick(150);
    await tailer.stop();
    expect(new Set(bodies(t.got))).toEqual(new Set(all));
    expect(t.got.length - all.length).toBe(0);
  });

  it('copy-truncate of a file whose copy is not watched: restarts at 0 after the truncation', async () => {
    const t = setup();
    const path = join(t.dir, 'app.log');
    writeFileSync(path, 'a\nb\n');
    const tailer = t.tailer();
    await tailer.start();
    await until('first lines', () => t.got.length === 2);
    truncateSync(path, 0);
    await tick(50);
    appendFileSync(path, 'c\n');
    await until('after truncate', () => t.got.length === 3);
    // Truncated and rewritten past the old offset before the next look: the changed first bytes tell.
    truncateSync(path, 0);
    appendFileSync(path, 'a completely different first line\n');
    await until('after rewrite', () => t.got.length === 4);
    await tailer.stop();
    expect(bodies(t.got)).toEqual(['a', 'b', 'c', 'a completely different first line']);
    expect(tailer.stats.rotations).toBe(2);
  });

  it('survives binary garbage, invalid UTF-8 and very long lines (cut and flagged)', async () => {
    const t = setup({ maxLineBytes: 1024 });
    const path = join(t.dir, 'bin.log');
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const garbage = Buffer.from(Array.from({ length: 200_000 }, rnd));
    writeFileSync(path, garbage);
    appendFileSync(path, `\n${'L'.repeat(300_000)}\nafter\n`);
    const tailer = t.tailer();
    await tailer.start();
    await until('the line after', () => t.got.some((r) => r.body === 'after'));
    await tailer.stop();
    const long = t.got.find((r) => r.body.startsWith('LLL'))!;
    expect(long.body.length).toBe(1024);
    expect(long.attributes!['log.truncated']).toBe(true);
    expect(t.got.at(-1)!.attributes!['log.truncated']).toBeUndefined();
    expect(tailer.stats.truncated).toBeGreaterThanOrEqual(1);
    const segments = readFileSync(path).toString('latin1').split('\n').slice(0, -1).filter((s) => s.replace(/\r$/, '').length > 0);
    expect(t.got.length).toBe(segments.length);
  });

  it('joins multiline Java stack traces into one record each', async () => {
    const t = setup({ multiline: { startPattern: /^\d{4}-\d{2}-\d{2} /, flushTimeout: 100, maxLines: 500 } });
    const path = join(t.dir, 'java.log');
    const trace = ['2024-05-01 12:00:00 ERROR boom', 'java.lang.RuntimeException: x', '\tat a.B.c(B.java:1)', 'Caused by: java.io.IOException', '\t... 2 more'];
    writeFileSync(path, `${trace.join('\n')}\n2024-05-01 12:00:01 INFO ok\n`);
    const tailer = t.tailer();
    await tailer.start();
    await until('both records (the last after its flush timeout)', () => t.got.length === 2);
    await tailer.stop();
    expect(bodies(t.got)).toEqual([trace.join('\n'), '2024-05-01 12:00:01 INFO ok']);
  });

  it('emits a last line without newline after forceFlushPeriod', async () => {
    const t = setup({ forceFlushPeriod: 100 });
    writeFileSync(join(t.dir, 'p.log'), 'done\npartial');
    const tailer = t.tailer();
    await tailer.start();
    await until('partial', () => t.got.length === 2);
    await tailer.stop();
    expect(bodies(t.got)).toEqual(['done', 'partial']);
  });

  it('checkpoints only what was acknowledged: a restart resends the unacknowledged tail and loses nothing', async () => {
    const t = setup({ batchSize: 10 });
    const path = join(t.dir, 'c.log');
    const all = seqLines(0, 100);
    writeFileSync(path, `${all.slice(0, 30).join('\n')}\n`);
    // Acknowledge the first two batches, then never again (a shipper that hangs, then the process dies).
    let calls = 0;
    const first: LogRecordInput[] = [];
    const hanging = { logs: (r: LogRecordInput[]) => (++calls <= 2 ? Promise.resolve(void first.push(...r)) : new Promise<void>(() => undefined)), stateDir: t.sink.stateDir };
    const a = new Tailer(t.opts, hanging);
    const killed = new AbortController();
    await a.start(killed.signal);
    await until('two batches acknowledged and checkpointed', () => {
      try {
        return JSON.parse(readFileSync(join(t.dir, 'state', 'checkpoints.json'), 'utf8')).files[0].offset > 0;
      } catch {
        return false;
      }
    });
    await tick(50);
    killed.abort(); // no stop(): nothing more is flushed or checkpointed, like SIGKILL
    const saved = JSON.parse(readFileSync(join(t.dir, 'state', 'checkpoints.json'), 'utf8')) as { files: { offset: number }[] };
    expect(saved.files[0]!.offset).toBe(Buffer.byteLength(`${all.slice(0, 20).join('\n')}\n`));

    appendFileSync(path, `${all.slice(30).join('\n')}\n`);
    const b = t.tailer();
    await b.start();
    await until('the rest', () => t.got.length >= 80);
    await tailer_stop(b);
    expect(bodies(first)).toEqual(all.slice(0, 20));
    expect(bodies(t.got)).toEqual(all.slice(20)); // lines 20..29 were read but never acknowledged: sent again

    // A clean stop checkpoints everything: the next start sends nothing old, even with startAt beginning.
    t.got.length = 0;
    appendFileSync(path, 'one more\n');
    const c = t.tailer();
    await c.start();
    await until('one more', () => t.got.length >= 1);
    await tick(50);
    await c.stop();
    expect(bodies(t.got)).toEqual(['one more']);
  });
});

async function tailer_stop(t: Tailer): Promise<void> {
  await tick(50);
  await t.stop();
}
