import type { Attributes } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { decodeLogsRequest, encodeLogs, logEntries, VIGIL_VERSION } from '@vigil/platform';
import type { LogRecordInput } from '../src/plugin.js';
import { encodeLogRecords, LogsEncoder, sdkLogRecords } from '../src/records.js';
import { ProtoWriter, varintSize } from '../src/records/writer.js';
import { writeMillisAsNanos } from '../src/records/logs-encoder.js';

/** The SDK's own serializer: the reference every output is compared with. */
const sdk = (resource: Resource, scope: string, records: LogRecordInput[], now: number) => encodeLogs(sdkLogRecords(resource, scope, records, now), 'otlp_proto');
const ours = (resource: Resource, scope: string, records: LogRecordInput[], now: number) => encodeLogRecords(resource, scope, records, 'otlp_proto', now);

/** A small deterministic PRNG, so a failure is reproducible. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOW = 1_714_567_890_123;
const resource = resourceFromAttributes({
  'host.id': 'a1b2c3',
  'host.name': 'web-1',
  'os.type': 'linux',
  'service.name': 'vigil-collector',
  'service.version': VIGIL_VERSION,
  'host.cpu.count': 8,
  'host.load': 0.25,
  'host.virtual': false,
  'host.ip': ['10.0.0.1', '10.0.0.2'],
});

const STRINGS = ['', 'a', 'plain ascii line', 'é', 'héllo wörld', '日本語のログ', '😀 emoji 🚀', 'lone \ud800 surrogate', 'x'.repeat(127), 'x'.repeat(128), 'é'.repeat(64), 'é'.repeat(100), 'y'.repeat(16383), 'y'.repeat(16384), '😀'.repeat(5000)];

const VALUES: unknown[] = [
  'text',
  '',
  0,
  1,
  127,
  128,
  -1,
  -128,
  2 ** 31,
  2 ** 32,
  2 ** 40 + 3,
  Number.MAX_SAFE_INTEGER,
  -(2 ** 53),
  0.5,
  -3.25,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  ['a', 'b', ''],
  [1, 2.5, -3],
  [true, false],
  ['x', null, undefined],
  [],
  new Uint8Array([0, 1, 255]),
  { nested: 'map', n: 2, inner: { deep: [1, 'two'] } },
  undefined,
  null,
];

function randomString(rand: () => number): string {
  return STRINGS[Math.floor(rand() * STRINGS.length)]!;
}

function randomRecords(rand: () => number, n: number, shared: Attributes[]): LogRecordInput[] {
  const out: LogRecordInput[] = [];
  for (let i = 0; i < n; i++) {
    const r: LogRecordInput = { body: rand() < 0.2 ? randomString(rand) : `line ${i} ${'z'.repeat(Math.floor(rand() * 300))}` };
    const t = rand();
    if (t < 0.3) r.timestamp = NOW - Math.floor(rand() * 1e10);
    else if (t < 0.4) r.timestamp = NOW + rand(); // fractional milliseconds
    else if (t < 0.45) r.timestamp = 0;
    if (rand() < 0.5) r.severityNumber = Math.floor(rand() * 25);
    if (rand() < 0.4) r.severityText = rand() < 0.2 ? '' : ['INFO', 'WARN', 'ERROR', 'Fehler'][Math.floor(rand() * 4)];
    if (rand() < 0.2) r.eventName = rand() < 0.1 ? '' : 'app.startup';
    const a = rand();
    if (a < 0.5) r.attributes = shared[Math.floor(rand() * shared.length)];
    else if (a < 0.85) {
      const attrs: Record<string, unknown> = {};
      const k = Math.floor(rand() * 6);
      for (let j = 0; j < k; j++) attrs[`k${j}.${randomString(rand).slice(0, 10)}`] = VALUES[Math.floor(rand() * VALUES.length)];
      r.attributes = attrs as Attributes;
    } else if (a < 0.9) r.attributes = {};
    out.push(r);
  }
  return out;
}

describe('otlp_proto log encoder', () => {
  it('writes the SDK serializer’s bytes for every kind of record (2,000 random requests)', () => {
    const rand = prng(42);
    const shared: Attributes[] = [
      Object.freeze({ 'log.file.path': '/var/log/app.log', 'log.file.name': 'app.log' }),
      Object.freeze({ 'log.file.path': '/var/log/é.log', 'log.file.name': 'é.log', 'log.truncated': true }),
      { 'service.name': 'shop', retries: 3 },
    ];
    for (let i = 0; i < 2000; i++) {
      const records = randomRecords(rand, 1 + Math.floor(rand() * 20), shared);
      const scope = rand() < 0.5 ? 'file' : 'probe-é';
      const now = NOW + i;
      const expected = sdk(resource, scope, records, now);
      const got = ours(resource, scope, records, now);
      if (!got.equals(expected)) throw new Error(`request ${i} differs from the SDK's: ${JSON.stringify(records).slice(0, 500)}`);
    }
  });

  it('every attribute value type, alone and together, matches the SDK byte for byte', () => {
    for (const [i, value] of VALUES.entries()) {
      const records: LogRecordInput[] = [{ body: 'b', attributes: { v: value } as Attributes }];
      expect(ours(resource, 's', records, NOW).equals(sdk(resource, 's', records, NOW)), `value #${i} ${String(value)}`).toBe(true);
    }
    const all: Record<string, unknown> = {};
    VALUES.forEach((v, i) => (all[`a${i}`] = v));
    const records: LogRecordInput[] = [{ body: 'b', attributes: all as Attributes }];
    expect(ours(resource, 's', records, NOW).equals(sdk(resource, 's', records, NOW))).toBe(true);
  });

  it('strings whose UTF-8 length crosses a varint size the UTF-16 length does not (bodies, keys, values, names)', () => {
    for (const s of STRINGS) {
      const records: LogRecordInput[] = [{ body: s, severityText: s, eventName: s, attributes: { [s || 'empty']: s } }];
      expect(ours(resource, s.slice(0, 20), records, NOW).equals(sdk(resource, s.slice(0, 20), records, NOW)), `string of ${s.length}`).toBe(true);
    }
  });

  it('a shared attributes object in records whose lengths cross 127 and 16383 bytes', () => {
    const attrs = Object.freeze({ 'log.file.path': '/var/log/x.log', 'log.file.name': 'x.log' });
    const records: LogRecordInput[] = [];
    for (let n = 0; n < 400; n += 3) records.push({ body: 'q'.repeat(n), attributes: attrs });
    records.push({ body: 'q'.repeat(20000), attributes: attrs }, { body: 'tail', attributes: attrs });
    for (let i = 0; i < 3; i++) expect(ours(resource, 'file', records, NOW).equals(sdk(resource, 'file', records, NOW))).toBe(true);
  });

  it('a frozen attributes object is encoded once; an unfrozen one is encoded again, so changing it between requests is seen', () => {
    const enc = new LogsEncoder({ attributes: { 'host.id': 'h' } }, '1.0');
    const mutable: Record<string, string> = { a: '1' };
    const first = logEntries(enc.encode('s', [{ body: 'x', attributes: mutable }], NOW));
    mutable.a = '2';
    const second = logEntries(enc.encode('s', [{ body: 'x', attributes: mutable }], NOW));
    expect([first[0]!.attributes.a, second[0]!.attributes.a]).toEqual(['1', '2']);
    const frozen = Object.freeze({ b: 'ok' });
    const a = enc.encode('s', [{ body: 'x', attributes: frozen }], NOW);
    const b = enc.encode('s', [{ body: 'x', attributes: frozen }], NOW);
    expect(a.equals(b)).toBe(true);
    expect(logEntries(b)[0]!.attributes).toEqual({ b: 'ok' });
  });

  it('a body that is not a string (from an untyped caller) is written as the SDK writes it', () => {
    for (const body of [undefined, 42, 1.5, true, ['a', 1], { k: 'v' }, null]) {
      const records = [{ body, attributes: { a: 1 } }] as unknown as LogRecordInput[];
      expect(ours(resource, 's', records, NOW).equals(sdk(resource, 's', records, NOW)), JSON.stringify(body)).toBe(true);
    }
  });

  it('a resource with a schema url, and no records at all, as the SDK writes them', () => {
    const withSchema = resourceFromAttributes({ 'host.id': 'h' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    const records: LogRecordInput[] = [{ body: 'x' }];
    expect(ours(withSchema, 's', records, NOW).equals(sdk(withSchema, 's', records, NOW))).toBe(true);
    expect(ours(resource, 's', [], NOW).equals(sdk(resource, 's', [], NOW))).toBe(true);
    expect(ours(resource, 's', [], NOW).length).toBe(0);
  });

  it('decodes field by field to what the SDK’s bytes decode to (platform decoder)', () => {
    const records: LogRecordInput[] = [
      { body: 'started', eventName: 'app.startup', severityNumber: 9, severityText: 'INFO', timestamp: NOW - 1500.5, attributes: { 'process.pid': 42, ratio: 0.75, ok: true, tags: ['a', 'b'], who: 'é' } },
      { body: 'plain', attributes: Object.freeze({ 'log.file.name': 'app.log' }) },
      { body: '', severityNumber: 17 },
    ];
    const mine = ours(resource, 'collector', records, NOW);
    const theirs = sdk(resource, 'collector', records, NOW);
    expect(decodeLogsRequest(mine).body).toEqual(decodeLogsRequest(theirs).body);
    const entries = logEntries(mine);
    expect(entries).toEqual(logEntries(theirs));
    const [e0, e1, e2] = entries;
    expect(e0).toMatchObject({
      eventName: 'app.startup',
      severityNumber: 9,
      severityText: 'INFO',
      body: 'started',
      timeUnixNano: '1714567888622500000',
      observedTimeUnixNano: `${NOW}000000`,
      attributes: { 'process.pid': '42', ratio: '0.75', ok: 'true', tags: '["a","b"]', who: 'é' },
      scope: { name: 'vigil.collector.collector', version: VIGIL_VERSION },
    });
    expect(e0!.resource.attributes).toMatchObject({ 'host.id': 'a1b2c3', 'host.cpu.count': '8', 'host.load': '0.25', 'host.virtual': 'false', 'host.ip': '["10.0.0.1","10.0.0.2"]' });
    expect(e1).toMatchObject({ body: 'plain', severityNumber: 0, attributes: { 'log.file.name': 'app.log' } });
    expect(e2).toMatchObject({ body: '', severityNumber: 17, timeUnixNano: `${NOW}000000` });
  });

  it('milliseconds to fixed64 nanoseconds as the SDK computes them (100,000 values)', () => {
    const rand = prng(7);
    const w = new ProtoWriter(16);
    const check = (ms: number) => {
      w.pos = 0;
      writeMillisAsNanos(w, ms);
      const [s, ns] = millisToHrTime(ms);
      // Past 2^64 ns (year 2554) the SDK wraps; so does this.
      const expected = (BigInt(s) * 1_000_000_000n + BigInt(ns)) % 2n ** 64n;
      const got = w.buf.readBigUInt64LE(0);
      if (got !== expected) throw new Error(`${ms} ms: ${got} != ${expected}`);
    };
    for (const ms of [0, 1, 999, 1000, 0.000001, 0.5, 4294.967296, 4294967296, 2 ** 42, 253402300799999, NOW, NOW + 0.999999]) check(ms);
    for (let i = 0; i < 100_000; i++) check(rand() < 0.5 ? Math.floor(rand() * 4102444800000) : rand() * 4102444800000);
  });

  it('varints: sizes and values at every 7-bit boundary, and int64 negatives in ten bytes', () => {
    const w = new ProtoWriter(1);
    for (let bits = 0; bits <= 53; bits++) {
      for (const v of [2 ** bits - 1, 2 ** bits]) {
        if (v > Number.MAX_SAFE_INTEGER) continue;
        w.pos = 0;
        w.varint(v);
        expect(w.pos, `size of ${v}`).toBe(varintSize(v));
        let got = 0;
        for (let i = w.pos - 1; i >= 0; i--) got = got * 128 + (w.buf[i]! & 127);
        expect(got).toBe(v);
      }
    }
    w.pos = 0;
    w.varint(-1);
    expect([...w.buf.subarray(0, w.pos)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  });
});
