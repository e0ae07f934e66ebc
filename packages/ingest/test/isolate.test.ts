import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricPoints, migrate, openStorage, queryRows, type Storage } from '@vigil/platform';
import { insertIsolating, isTransientInsertError } from '../src/isolate.js';
import { METRIC_TABLES, insertRows, metricRow, type Row } from '../src/rows.js';

describe('insertIsolating', () => {
  const fake = (bad: Set<number>, calls: string[] = []) => async (rows: readonly number[], part: string) => {
    calls.push(part);
    const hit = rows.find((r) => bad.has(r));
    if (hit !== undefined) throw new Error(`Cannot parse input: row ${hit}`);
  };

  it('inserts a good batch once, whole', async () => {
    const calls: string[] = [];
    expect(await insertIsolating([1, 2, 3], fake(new Set(), calls))).toEqual([]);
    expect(calls).toEqual(['']);
  });

  it('halves until the refused rows stand alone, writing every other row', async () => {
    const written: number[] = [];
    const refused = await insertIsolating([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], async (rows) => {
      if (rows.some((r) => r === 3 || r === 8)) throw new Error('Cannot parse input');
      written.push(...rows);
    });
    expect(refused.map((r) => r.index)).toEqual([3, 8]);
    expect(written.sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 5, 6, 7, 9]);
  });

  it('names parts by row range, the same on every replay (so their dedup tokens match)', async () => {
    const first: string[] = [];
    const second: string[] = [];
    await insertIsolating([0, 1, 2, 3, 4], fake(new Set([4]), first));
    await insertIsolating([0, 1, 2, 3, 4], fake(new Set([4]), second));
    expect(first).toEqual(second);
    expect(first).toEqual(['', '0-2', '3-4', '3-3', '4-4']);
  });

  it('throws a transient failure instead of splitting', async () => {
    await expect(insertIsolating([1, 2], async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')))).rejects.toThrow(/ECONNREFUSED/);
    expect(isTransientInsertError(new Error('Code: 252. DB::Exception: Too many parts (300)'))).toBe(true);
    expect(isTransientInsertError(new Error('Cannot read DateTime: neither Date nor Time was parsed successfully'))).toBe(false);
  });

  it('throws rather than refusing a row while the engine is down', async () => {
    await expect(insertIsolating([1], fake(new Set([1])), { engineUp: async () => false })).rejects.toThrow(/Cannot parse/);
    expect(await insertIsolating([1], fake(new Set([1])), { engineUp: async () => true })).toEqual([{ index: 0, error: 'Cannot parse input: row 1' }]);
  });
});

describe('insertIsolating on the real engine', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-isolate-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the good rows of a batch holding rows the engine cannot read, and names the others', async () => {
    const now = `${Date.now()}000000`;
    const [point] = metricPoints(Buffer.from(JSON.stringify({ resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics: [{ name: 'iso', gauge: { dataPoints: [{ timeUnixNano: now, asDouble: 1 }] } }] }] }] })));
    const rows: Row[] = [];
    for (let i = 0; i < 20; i++) {
      const row = metricRow({ ...point!, value: i } as typeof point & { value: number });
      // Times the decoder would never let through: neither RowBinary's writer nor the engine's JSON parser reads them.
      if (i === 4) row[12] = 'soon';
      if (i === 13) row[13] = '12:00';
      rows.push(row);
    }
    const refused = await insertIsolating(rows, (part, suffix) => insertRows(storage, METRIC_TABLES.gauge, part, { insert_deduplicate: 1, insert_deduplication_token: `t/${suffix}` }), {
      engineUp: () => storage.ping(),
    });
    expect(refused.map((r) => r.index)).toEqual([4, 13]);
    expect(refused[0]!.error).toMatch(/StartTimeUnix/);
    const stored = await queryRows<{ v: number }>(storage, `SELECT Value AS v FROM ${storage.table('otel_metrics_gauge')} WHERE MetricName = 'iso' ORDER BY v`);
    expect(stored.map((r) => Number(r.v))).toEqual([...Array(20).keys()].filter((i) => i !== 4 && i !== 13));
  });
});
