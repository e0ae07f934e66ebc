import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStorage, queryRows, readLogs, readMetrics, schemaLayout, type Storage } from '@vigil/platform';
import { BinaryWriter, EncodedRows, RowBinaryRows, encodeRowBinary, rowBinaryLayout, writerFor } from '../src/rowbinary.js';
import { METRIC_TABLES, TableRows, alertRow, binaryLayouts, columnsOf, encodeRows, insertRows, logRow, metricRow, type Row, type TableName } from '../src/rows.js';
import { otlpLogsRequest, otlpMetricsRequest } from './otlp-arbitraries.js';

describe('RowBinary writer', () => {
  const bytes = (type: string, v: unknown) => {
    const w = new BinaryWriter(4);
    writerFor(type)!(w, v);
    return [...w.bytes()];
  };

  it('writes strings with their UTF-8 length as a varint, short and long, and grows its buffer', () => {
    expect(bytes('String', 'hé')).toEqual([3, 0x68, 0xc3, 0xa9]);
    const long = 'ü'.repeat(100); // 200 bytes: a two-byte length
    expect(bytes('LowCardinality(String)', long).slice(0, 3)).toEqual([200, 1, 0xc3]);
    expect(bytes('String', long)).toHaveLength(202);
    expect(bytes('String', undefined)).toEqual([0]);
  });

  it('writes numbers little-endian, a non-finite double as 0 (as JSON stores null), and times as Int64 ticks', () => {
    expect(bytes('UInt32', 258)).toEqual([2, 1, 0, 0]);
    expect(bytes('Int32', -1)).toEqual([255, 255, 255, 255]);
    expect(bytes('UInt64', 2 ** 32 + 1)).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
    expect(bytes('Float64', Number.NaN)).toEqual(bytes('Float64', 0));
    expect(bytes('Bool', true)).toEqual([1]);
    expect(bytes('DateTime64(9)', '1700000000123456789')).toEqual([...Buffer.from(new BigInt64Array([1700000000123456789n]).buffer)]);
    expect(bytes('DateTime64(3)', 1_700_000_000_123)).toEqual([...Buffer.from(new BigInt64Array([1700000000123n]).buffer)]);
  });

  it('writes any string as its UTF-8 bytes after a varint length, ASCII or not, of any length', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 130 })), (str) => {
        const utf8 = Buffer.from(str, 'utf8');
        const w = new BinaryWriter();
        w.varint(utf8.length);
        expect(bytes('String', str)).toEqual([...w.bytes(), ...utf8]);
      }),
      { numRuns: 500 },
    );
  });

  it('writes a map shared by consecutive rows as it writes equal maps of their own, across encodes too', () => {
    const layout = rowBinaryLayout(['R', 'A', 'X'], new Map([['R', 'Map(LowCardinality(String), String)'], ['A', 'Map(LowCardinality(String), String)'], ['X', 'Array(Map(String, String))']]))!;
    fc.assert(
      fc.property(fc.array(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 140 }), { maxKeys: 5 }), { minLength: 1, maxLength: 4 }), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 12 }), (maps, picks) => {
        const shared = picks.map((i) => maps[i % maps.length]!);
        const rows = shared.map((m, i) => [m, shared[(i + 1) % shared.length], [m, m]]);
        const copies = rows.map((r) => [{ ...(r[0] as object) }, { ...(r[1] as object) }, (r[2] as object[]).map((m) => ({ ...m }))]);
        const once = Buffer.from(encodeRowBinary(layout, rows));
        // A second encode of the same rows (a retry) starts from scratch.
        expect(Buffer.from(encodeRowBinary(layout, rows))).toEqual(once);
        expect(encodeRowBinary(layout, copies)).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });

  it('writes a time given as decimal digits as the same Int64 as BigInt would, and refuses one past Int64', () => {
    const asBigInt = (v: bigint) => [...Buffer.from(new BigInt64Array([v]).buffer)];
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), fc.bigInt({ min: 0n, max: 10n ** 12n })), fc.nat({ max: 3 }), (v, zeros) => {
        const digits = '0'.repeat(zeros) + String(v);
        if (digits.length > 19) return;
        expect(bytes('DateTime64(9)', digits)).toEqual(asBigInt(v));
      }),
      { numRuns: 1000 },
    );
    for (const v of [0n, 1n, 999_999n, 1_000_000n, 4_294_967_295n, 4_294_967_296n, 2n ** 53n + 1n, 2n ** 63n - 1n]) expect(bytes('DateTime64(9)', String(v))).toEqual(asBigInt(v));
    expect(() => bytes('DateTime64(9)', String(2n ** 63n))).toThrow(RangeError);
  });

  it('writes maps and arrays with their length first, and has no writer for a type it does not know', () => {
    expect(bytes('Map(LowCardinality(String), String)', { a: 'b' })).toEqual([1, 1, 0x61, 1, 0x62]);
    expect(bytes('Array(Float64)', [1])).toEqual([1, ...bytes('Float64', 1)]);
    expect(bytes('Array(Map(LowCardinality(String), String))', [])).toEqual([0]);
    expect(writerFor('Nullable(String)')).toBeUndefined();
    expect(writerFor('Map(String, Array(Nullable(Int8)))')).toBeUndefined();
    expect(rowBinaryLayout(['a', 'b'], new Map([['a', 'String'], ['b', 'UUID']]))).toBeUndefined();
  });

  it('keeps rows encoded as they come: any run of them is what encoding that run alone gives, and a row it cannot write is left out whole', () => {
    // The maps before the time: a refused row has written them (and its writers remembered where) when its time fails.
    const layout = rowBinaryLayout(['A', 'B', 'T'], new Map([['A', 'Map(LowCardinality(String), String)'], ['B', 'Map(String, String)'], ['T', 'DateTime64(9)']]))!;
    const map = fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 150 }), { maxKeys: 3 });
    const row = fc.record({ a: fc.nat({ max: 3 }), b: fc.nat({ max: 3 }), ok: fc.boolean(), t: fc.bigInt({ min: 0n, max: 2n ** 62n }) });
    fc.assert(
      fc.property(fc.array(map, { minLength: 1, maxLength: 4 }), fc.array(row, { maxLength: 14 }), fc.nat(), fc.nat(), (shared, specs, x, y) => {
        const rows: Row[] = specs.map((r) => [shared[r.a % shared.length], shared[r.b % shared.length], r.ok ? String(r.t) : 'soon']);
        const built = new RowBinaryRows(layout, 8);
        const kept: Row[] = [];
        for (const r of rows) {
          try {
            built.add(r);
            kept.push(r);
          } catch (err) {
            expect((err as Error).message).toMatch(/^cannot write T \(DateTime64\(9\)\) of a row/);
          }
        }
        expect(kept).toHaveLength(specs.filter((r) => r.ok).length);
        const encoded = built.done();
        expect(encoded.bytes()).toEqual(encodeRowBinary(layout, kept));
        const [from, to] = [x % (kept.length + 1), y % (kept.length + 1)].sort((p, q) => p - q) as [number, number];
        const run = encoded.slice(from, to);
        expect(run.length).toBe(to - from);
        expect(run.bytes()).toEqual(encodeRowBinary(layout, kept.slice(from, to)));
        // Halves of halves, as a refused insert is split.
        const half = Math.ceil(run.length / 2);
        expect(run.slice(half).bytes()).toEqual(encodeRowBinary(layout, kept.slice(from + half, to)));
      }),
      { numRuns: 400 },
    );
  });

  it('names the column it cannot write', () => {
    const layout = rowBinaryLayout(['Name', 'TimeUnix'], new Map([['Name', 'String'], ['TimeUnix', 'DateTime64(9)']]))!;
    expect(() => encodeRowBinary(layout, [['a', '17'], ['b', 'soon']])).toThrow(/TimeUnix \(DateTime64\(9\)\)/);
  });
});

/**
 * Property: whatever a sender writes, the rows the engine stores from RowBinary are the rows it
 * stores from JSONCompactEachRow (the format ingest used before), column for column: every metric
 * kind, logs and alerts, with the generators' odd strings, attributes and numbers.
 */
const RETENTION_MS = 20 * 365 * 86_400_000;

describe('RowBinary × JSON on the real engine', () => {
  let dir: string;
  let binary: Storage;
  let json: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-rowbinary-'));
    binary = openStorage({ database: 'vigil', dataDir: dir });
    const layout = schemaLayout('vigil_json');
    json = { ...binary, database: 'vigil_json', layout, table: (t: string) => layout.table(t) };
    // Twenty years of retention (more overflows the TTL's DateTime): rows dated before are dropped at once, by both paths alike.
    await migrate(binary, RETENTION_MS);
    await migrate(json, RETENTION_MS);
  });
  afterAll(async () => {
    await binary.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The rows as objects into `binary` (RowBinary made at insert) or, given `encoded` (the same rows encoded as they came), those; and as JSON into `json`. */
  const writeBoth = async (rows: TableRows, encoded?: TableRows) => {
    for (const [table, values] of rows.byTable) {
      await insertRows(binary, table, encoded ? encoded.byTable.get(table)! : values);
      await json.insertEncoded!({ table: json.table(table), columns: columnsOf(table), format: 'JSONCompactEachRow', body: encodeRows(values as Row[]) });
    }
  };
  /** Every stored row of a table as text, sorted; the same from both databases or the test fails. */
  const same = async (table: TableName) => {
    const read = (s: Storage) => queryRows<{ r: string }>(s, `SELECT toJSONString(tuple(*)) AS r FROM ${s.table(table)} ORDER BY r`).then((rs) => rs.map((x) => x.r));
    const [b, j] = await Promise.all([read(binary), read(json)]);
    expect(b).toEqual(j);
    return b.length;
  };

  it('stores what JSON stores, for generated metrics and logs encoded as they come', async () => {
    const tables = [...Object.values(METRIC_TABLES), 'otel_logs'] as TableName[];
    const layouts = await binaryLayouts(binary, tables);
    expect([...layouts.values()].every((l) => l !== undefined)).toBe(true);
    const rows = new TableRows();
    const encoded = new TableRows(layouts);
    const requests = fc.sample(fc.tuple(otlpMetricsRequest(), otlpLogsRequest()), { numRuns: 25, seed: 7 });
    const add = (table: TableName, row: Row) => {
      rows.add(table, row);
      encoded.add(table, row);
    };
    requests.forEach(([m, l], n) => {
      for (const p of readMetrics(m.encode(`m${n}`, m.encoding), { arrivalMs: 1_700_000_000_000 + n }).records) add(METRIC_TABLES[p.kind], metricRow(p));
      for (const e of readLogs(l.encode(`l${n}`, l.encoding), { arrivalMs: 1_700_000_000_000 + n }).records) add('otel_logs', logRow(e));
    });
    expect(encoded.size).toBe(rows.size);
    for (const values of encoded.byTable.values()) expect(values).toBeInstanceOf(EncodedRows);
    await writeBoth(rows, encoded);
    let stored = 0;
    for (const table of [...Object.values(METRIC_TABLES), 'otel_logs'] as TableName[]) stored += await same(table);
    expect(stored).toBeGreaterThan(rows.size / 4);
    expect(rows.byTable.size).toBeGreaterThan(3);
  });

  it('stores alerts as JSON does (millisecond times)', async () => {
    const rows = new TableRows();
    rows.add('vigil_alerts', alertRow({ fingerprint: 'f1', status: 'firing', severity: 'critical', rule: 'disk', labels: { alertname: 'disk', 'host.name': 'db-1' }, annotations: { summary: 'Disk 97 % — full soon' }, startsAt: '2026-12-01T10:00:00.123Z', value: 97.5, window: 60_000 }, 1_764_583_200_456));
    rows.add('vigil_alerts', alertRow({ fingerprint: 'f1', status: 'resolved', severity: 'critical', rule: 'disk', labels: { alertname: 'disk' }, annotations: {}, startsAt: '2026-12-01T10:00:00.123Z', endsAt: '2026-12-01T10:05:00Z', value: Number.NaN, window: 0 }, 1_764_583_500_000));
    await writeBoth(rows);
    expect(await same('vigil_alerts')).toBe(2);
  });

  it('adds nothing when the same rows come again under the same deduplication token', async () => {
    const [point] = readMetrics(Buffer.from(JSON.stringify({ resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics: [{ name: 'dedup', gauge: { dataPoints: [{ timeUnixNano: `${Date.now()}000000`, asDouble: 1 }] } }] }] }] }))).records;
    const settings = { insert_deduplicate: 1, insert_deduplication_token: 'rowbinary-dedup' };
    await insertRows(binary, 'otel_metrics_gauge', [metricRow(point!)], settings);
    await insertRows(binary, 'otel_metrics_gauge', [metricRow(point!)], settings);
    const n = await queryRows<{ n: string }>(binary, `SELECT count() AS n FROM ${binary.table('otel_metrics_gauge')} WHERE MetricName = 'dedup'`);
    expect(Number(n[0]!.n)).toBe(1);
  });
});
