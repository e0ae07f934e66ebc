import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStorage, queryRows, readLogs, readMetrics, type Storage } from '@vigil/platform';
import { METRIC_TABLES, TableRows, insertRows, logRow, metricRow } from '../src/rows.js';
import { otlpLogsRequest, otlpMetricsRequest } from './otlp-arbitraries.js';

/**
 * Property: whatever a sender writes, every data point and log record either decodes into a row
 * the real engine stores, or is rejected by its path; nothing is both, nothing is neither, and
 * exactly the generated-invalid ones are rejected.
 */
describe('decoders × the real engine (property)', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, RETENTION_MS);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every stored row's time is the time it was given (or the arrival time when none was). */
  const checkTimes = async (table: string, run: string, given: Map<string, bigint>, arrival: [bigint, bigint]) => {
    const attrs = table === 'otel_logs' ? 'LogAttributes' : 'Attributes';
    const time = table === 'otel_logs' ? 'Timestamp' : 'TimeUnix';
    const rows = await queryRows<{ i: string; t: string }>(storage, `SELECT ${attrs}['i'] AS i, toString(toUnixTimestamp64Nano(${time})) AS t FROM ${storage.table(table)} WHERE ${attrs}['run'] = {run:String}`, { run });
    for (const r of rows) {
      const want = given.get(r.i);
      if (want !== undefined) expect(`${r.i}: ${r.t}`).toBe(`${r.i}: ${want}`);
      else expect(BigInt(r.t) >= arrival[0] && BigInt(r.t) <= arrival[1]).toBe(true);
    }
  };
  const nowNs = () => BigInt(Date.now()) * 1_000_000n;
  const RETENTION_MS = 30 * 86_400_000;
  const expired = (nanos: string) => BigInt(nanos) < BigInt(Date.now() - RETENTION_MS + 60_000) * 1_000_000n;

  /** Rows of a run within the retention (older ones may be dropped by the TTL any time, on insert or at a merge). */
  const count = async (table: string, run: string) => {
    const [attrs, time] = table === 'otel_logs' ? ['LogAttributes', 'Timestamp'] : ['Attributes', 'TimeUnix'];
    const rows = await queryRows<{ n: string }>(
      storage,
      `SELECT count() AS n FROM ${storage.table(table)} WHERE ${attrs}['run'] = {run:String} AND ${time} >= fromUnixTimestamp64Milli({oldest:Int64})`,
      { run, oldest: Date.now() - RETENTION_MS + 60_000 },
    );
    return Number(rows[0]!.n);
  };

  it('metrics: stored or rejected, never stuck', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(otlpMetricsRequest(), async (req) => {
        const tag = `m${run++}`;
        const payload = req.encode(tag, req.encoding);
        const before = nowNs();
        const read = readMetrics(payload);
        const arrival: [bigint, bigint] = [before, nowNs()];
        const rejected = read.rejected.reduce((n, r) => n + r.records, 0);
        expect(read.records.length + rejected).toBe(req.points);
        expect(new Set(read.records.map((p) => p.attributes.i)).size).toBe(read.records.length);
        expect(read.records.map((p) => p.attributes.i).sort()).toEqual(req.valid.sort());
        const rows = new TableRows();
        for (const p of read.records) rows.add(METRIC_TABLES[p.kind], metricRow(p));
        for (const [table, values] of rows.byTable) await insertRows(storage, table, values);
        let stored = 0;
        for (const table of Object.values(METRIC_TABLES)) stored += await count(table, tag);
        expect(stored).toBe(read.records.filter((p) => !expired(p.timeUnixNano)).length);
        for (const table of Object.values(METRIC_TABLES)) await checkTimes(table, tag, req.times, arrival);
        // What the intake forwards after a partial success decodes with nothing left to reject.
        const again = readMetrics(read.accepted());
        expect(again.rejected).toEqual([]);
        expect(again.records.length).toBe(read.records.length);
      }),
      { numRuns: 40 },
    );
  }, 180_000);

  it('logs: stored or rejected, never stuck', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(otlpLogsRequest(), async (req) => {
        const tag = `l${run++}`;
        const before = nowNs();
        const read = readLogs(req.encode(tag, req.encoding));
        const arrival: [bigint, bigint] = [before, nowNs()];
        const rejected = read.rejected.reduce((n, r) => n + r.records, 0);
        expect(read.records.length + rejected).toBe(req.points);
        expect(read.records.map((e) => e.attributes.i).sort()).toEqual(req.valid.sort());
        if (read.records.length > 0) await insertRows(storage, 'otel_logs', read.records.map(logRow));
        expect(await count('otel_logs', tag)).toBe(read.records.filter((e) => !expired(e.timeUnixNano)).length);
        await checkTimes('otel_logs', tag, req.times, arrival);
        expect(readLogs(read.accepted()).rejected).toEqual([]);
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});
