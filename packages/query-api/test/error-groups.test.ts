import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStorage, type Storage } from '@vigil/platform';
import { MINUTE_ROLLUP_REACH_MS, groupsFromRecords, groupsFromRollups, mergeRanges, planCountParts, type CountPart, type GroupsQuery } from '../src/error-groups.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Math.floor(Date.now() / HOUR) * HOUR + 17 * MIN + 12_345;

/** The parts cover the window once, in order, and each rollup part is whole buckets. */
function checkCover(parts: CountPart[], from: number, to: number, now: number) {
  expect(parts[0]!.fromMs).toBe(from);
  expect(parts.at(-1)!.toMs).toBe(to);
  for (let i = 1; i < parts.length; i++) expect(parts[i]!.fromMs).toBe(parts[i - 1]!.toMs);
  for (const p of parts) {
    expect(p.fromMs).toBeLessThan(p.toMs);
    const step = p.source === '1h' ? HOUR : p.source === '1m' ? MIN : 1;
    expect(p.fromMs % step).toBe(0);
    expect(p.toMs % step).toBe(0);
    if (p.source === '1m') expect(p.fromMs).toBeGreaterThanOrEqual(now - MINUTE_ROLLUP_REACH_MS);
  }
}

describe('planCountParts', () => {
  it('a day: raw edges, minutes up to the hours, hours, minutes after, raw edge', () => {
    const parts = planCountParts(NOW - DAY, NOW, NOW);
    expect(parts.map((p) => p.source)).toEqual(['raw', '1m', '1h', '1m', 'raw']);
    checkCover(parts, NOW - DAY, NOW, NOW);
    expect(parts[2]!.toMs - parts[2]!.fromMs).toBe(23 * HOUR);
  });

  it('within a minute: raw only; within an hour: minutes and raw edges', () => {
    expect(planCountParts(NOW - 20_000, NOW, NOW)).toEqual([{ source: 'raw', fromMs: NOW - 20_000, toMs: NOW }]);
    const parts = planCountParts(NOW - 10 * MIN, NOW, NOW);
    expect(parts.map((p) => p.source)).toEqual(['raw', '1m', 'raw']);
    checkCover(parts, NOW - 10 * MIN, NOW, NOW);
  });

  it('aligned windows have no raw part; minutes older than the per-minute rollup keeps are read raw', () => {
    const h = Math.floor(NOW / HOUR) * HOUR;
    expect(planCountParts(h - 3 * HOUR, h, NOW)).toEqual([{ source: '1h', fromMs: h - 3 * HOUR, toMs: h }]);
    const from = NOW - 30 * DAY;
    const parts = planCountParts(from, NOW, NOW);
    checkCover(parts, from, NOW, NOW);
    expect(parts.map((p) => p.source)).toEqual(['raw', 'raw', '1h', '1m', 'raw']);
  });

  it('covers any window (property over random windows)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const to = NOW - Math.floor(rnd() * 10 * DAY);
      const from = to - 1 - Math.floor(rnd() ** 3 * 20 * DAY);
      checkCover(planCountParts(from, to, NOW), from, to, NOW);
    }
  });

  it('merges ranges', () => {
    expect(mergeRanges([[5, 9], [1, 3], [3, 4], [8, 12], [20, 20]])).toEqual([[1, 4], [5, 12]]);
  });
});

/** The same groups from the rollups as from the raw records, on the real engine. */
describe('error groups from the rollups match the raw records', () => {
  let dir: string;
  let storage: Storage;
  const hosts = ['a', 'b', 'c'];
  const services = ['pos', 'shop'];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-error-groups-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * DAY);
    let seed = 11;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const rows: Record<string, unknown>[] = [];
    // 3,000 records over the last 30 hours, a third errors of 7 fingerprints; some at the same millisecond.
    for (let i = 0; i < 3000; i++) {
      const ms = i % 50 === 0 ? NOW - 2 * HOUR : NOW - Math.floor(rnd() * 30 * HOUR);
      const host = hosts[i % 3]!;
      const service = services[i % 2]!;
      const err = i % 3 === 0;
      const sev = err ? (i % 7 === 0 ? 21 : 17) : 9;
      rows.push({
        Timestamp: (BigInt(ms) * 1_000_000n).toString(),
        SeverityText: i % 11 === 0 ? 'ERROR' : '',
        SeverityNumber: i % 11 === 0 ? 0 : sev,
        ServiceName: service,
        Body: `record ${i}`,
        ResourceAttributes: { 'host.name': host, 'service.name': service },
        LogAttributes: err ? { 'vigil.error.fingerprint': `fp-${i % 7}` } : {},
        EventName: err ? 'app.error' : '',
      });
    }
    await storage.client.insert({ table: storage.table('otel_logs'), values: rows, format: 'JSONEachRow' });
  }, 120_000);

  afterAll(async () => {
    await storage?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const query = (fromMs: number, toMs: number, f: Partial<GroupsQuery> = {}): GroupsQuery => ({
    fromMs,
    toMs,
    limit: 100,
    host: '',
    service: '',
    event: '',
    category: '',
    fingerprint: '',
    q: '',
    minSeverity: 0,
    ...f,
  });

  it('over random windows and filters: same counts, times, bodies, severities, hosts and order', async () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const windows: [number, number][] = [
      [NOW - DAY, NOW],
      [NOW - 30 * HOUR, NOW],
      [NOW - 2 * HOUR, NOW - 2 * HOUR + 1], // the millisecond many records share
      [NOW - 5 * MIN, NOW],
    ];
    for (let i = 0; i < 8; i++) {
      const to = NOW - Math.floor(rnd() * 6 * HOUR);
      windows.push([to - 1 - Math.floor(rnd() * 26 * HOUR), to]);
    }
    const filters: Partial<GroupsQuery>[] = [{}, { host: 'b' }, { service: 'shop', minSeverity: 21 }, { fingerprint: 'fp-3' }, { limit: 3 }, { host: 'zz' }];
    let compared = 0;
    for (const [from, to] of windows) {
      for (const f of filters) {
        const q = query(from, to, f);
        const raw = await groupsFromRecords(storage, q);
        const rolled = await groupsFromRollups(storage, q, NOW);
        expect(rolled, `window ${new Date(from).toISOString()}..${new Date(to).toISOString()} ${JSON.stringify(f)}`).toEqual(raw);
        compared += raw.length;
      }
    }
    expect(compared).toBeGreaterThan(100);
  }, 120_000);
});
