import { describe, expect, it } from 'vitest';
import { decodeLogsRequest as decodeLogs, decodeMetricsRequest, encodeExportResponse, readLogs, readMetrics, type MetricPoint } from '@vigil/platform';
import protobuf from 'protobufjs';

/** What the issue saw stop a partition, one by one: each is normalised or rejected by its path, never passed on. */

const NOW_MS = 1_764_000_000_000;
const NOW_NS = `${NOW_MS}000000`;
const metrics = (dp: Record<string, unknown>, kind = 'gauge') =>
  Buffer.from(JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'host.id', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [{ name: 'm', [kind]: { dataPoints: [dp] } }] }] }] }));
const logs = (rec: Record<string, unknown>) => Buffer.from(JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ logRecords: [rec] }] }] }));
const read = (payload: Buffer) => readMetrics(payload, { arrivalMs: NOW_MS });

describe('OTLP decoding normalises what the spec allows', () => {
  it('a gauge without start_time_unix_nano (the Python SDK sends them) starts at 0, as the exporter writes it', () => {
    const [p] = read(metrics({ timeUnixNano: '1764000000123456789', asDouble: 1 })).records;
    expect(p!.startTimeUnixNano).toBe('0000000000000000000');
    expect(p!.timeUnixNano).toBe('1764000000123456789');
  });

  it('a point without a time gets the arrival time', () => {
    const [p] = read(metrics({ asDouble: 1 })).records;
    expect(p!.timeUnixNano).toBe(NOW_NS);
  });

  it('a log record without a time takes its observed time, else the arrival time', () => {
    expect(readLogs(logs({ observedTimeUnixNano: '1763000000000000000' }), { arrivalMs: NOW_MS }).records[0]!.timeUnixNano).toBe('1763000000000000000');
    const [bare] = readLogs(logs({ body: { stringValue: 'x' } }), { arrivalMs: NOW_MS }).records;
    expect(bare!.timeUnixNano).toBe(NOW_NS);
    expect(bare!.observedTimeUnixNano).toBe(NOW_NS);
  });

  it('short and numeric times become 19 digits (the engine reads "1" as a date and "100000000" as seconds)', () => {
    expect(read(metrics({ timeUnixNano: '1', asInt: '3' })).records[0]!.timeUnixNano).toBe('0000000000000000001');
    expect(read(metrics({ timeUnixNano: 1_000_000_000, asInt: 3 })).records[0]!.timeUnixNano).toBe('0000000001000000000');
  });

  it('lone UTF-16 surrogates anywhere become U+FFFD', () => {
    const payload = Buffer.from(
      JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'k\ud800', value: { stringValue: 'v\udfff' } }] },
            scopeLogs: [{ scope: { name: '\ud83d' }, logRecords: [{ body: { stringValue: 'a\ud800b' }, severityText: '\udc00', eventName: 'e\ud800', attributes: [{ key: 'x', value: { arrayValue: { values: [{ stringValue: '\ud800' }] } } }] }] }],
          },
        ],
      }),
    );
    const [e] = readLogs(payload).records;
    expect(e!.body).toBe('a\ufffdb');
    expect(e!.severityText).toBe('\ufffd');
    expect(e!.eventName).toBe('e\ufffd');
    expect(e!.scope.name).toBe('\ufffd');
    expect(e!.resource.attributes).toEqual({ 'k\ufffd': 'v\ufffd' });
    expect(e!.attributes.x).toBe('["\ufffd"]');
    expect(JSON.stringify(e).isWellFormed()).toBe(true);
  });

  it('accepts proto3 JSON spellings: enum names, NaN as a string', () => {
    const [e] = readLogs(logs({ severityNumber: 'SEVERITY_NUMBER_ERROR' })).records;
    expect(e!.severityNumber).toBe(17);
    const [p] = read(metrics({ asDouble: 'NaN' })).records as (MetricPoint & { value: number })[];
    expect(p!.value).toBeNaN();
  });
});

describe('OTLP decoding rejects what cannot be stored, by its path, and keeps the rest', () => {
  const rejects = (dp: Record<string, unknown>, kind = 'gauge') => {
    const r = read(metrics(dp, kind));
    expect(r.records).toHaveLength(0);
    expect(r.rejected).toHaveLength(1);
    return `${r.rejected[0]!.path}: ${r.rejected[0]!.reason}`;
  };

  it.each([
    ['past 2262', '9300000000000000000'],
    ['2^64-1', '18446744073709551615'],
    ['not a number', 'abc'],
    ['negative', '-5'],
    ['a fraction', 1.5],
  ])('a time %s', (_what, t) => {
    expect(rejects({ timeUnixNano: t, asDouble: 1 })).toMatch(/^resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.gauge\.dataPoints\[0\]\.timeUnixNano: /);
    expect(rejects({ timeUnixNano: NOW_NS, startTimeUnixNano: t, asDouble: 1 })).toMatch(/dataPoints\[0\]\.startTimeUnixNano: /);
  });

  it('names the last storable time', () => {
    expect(rejects({ timeUnixNano: '18446744073709551615' })).toMatch(/after 2100-01-01T00:00:00Z/);
    expect(rejects({ timeUnixNano: '4102444800000000001' })).toMatch(/after 2100/);
    expect(read(metrics({ timeUnixNano: '4102444800000000000' })).records).toHaveLength(1);
  });

  it('negative counts, buckets and flags; a severity outside 0-24', () => {
    expect(rejects({ count: '-1', bucketCounts: ['1'] }, 'histogram')).toMatch(/histogram\.dataPoints\[0\]\.count: "-1" is not a count/);
    expect(rejects({ count: '1', bucketCounts: ['1', '-2'] }, 'histogram')).toMatch(/bucketCounts\[1\]: "-2" is not a count/);
    expect(rejects({ flags: -1, asDouble: 1 })).toMatch(/flags: -1 is not a count/);
    const neg = readLogs(logs({ severityNumber: -3 }));
    expect(neg.rejected[0]).toMatchObject({ path: 'resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber', records: 1 });
    expect(readLogs(logs({ flags: -1 })).rejected[0]!.path).toMatch(/logRecords\[0\]\.flags$/);
    expect(readLogs(logs({ severityNumber: 25 })).rejected).toHaveLength(1);
  });

  it('a value that is not a number', () => {
    expect(rejects({ asInt: 'twelve' })).toMatch(/asInt: "twelve" is not a whole number/);
    expect(rejects({ asDouble: 'x' })).toMatch(/asDouble: "x" is not a number/);
  });

  it('values nested deeper than 32 levels', () => {
    let v: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < 40; i++) v = { arrayValue: { values: [v] } };
    const r = readLogs(logs({ body: v }));
    expect(r.rejected[0]!.reason).toMatch(/nested deeper than 32/);
  });

  it('a bad resource attribute rejects the records under it, not the other resources', () => {
    const payload = Buffer.from(
      JSON.stringify({
        resourceMetrics: [
          { resource: { attributes: [{ key: 'n', value: { intValue: 'x' } }] }, scopeMetrics: [{ metrics: [{ name: 'a', gauge: { dataPoints: [{}, {}] } }] }] },
          { resource: {}, scopeMetrics: [{ metrics: [{ name: 'b', gauge: { dataPoints: [{ asInt: '1' }] } }] }] },
        ],
      }),
    );
    const r = read(payload);
    expect(r.records.map((p) => p.name)).toEqual(['b']);
    expect(r.rejected).toEqual([{ path: 'resourceMetrics[0].resource.attributes[0].value.intValue', reason: '"x" is not a whole number', records: 2 }]);
  });

  it('what is kept is re-encoded without the rejected records, in JSON and in protobuf', () => {
    const body = { resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ timeUnixNano: NOW_NS, asInt: '1' }, { timeUnixNano: 'bad', asInt: '2' }, { timeUnixNano: NOW_NS, asInt: '3' }] } }] }] }] };
    const json = read(Buffer.from(JSON.stringify(body)));
    expect(json.records).toHaveLength(2);
    expect(read(json.accepted()).records.map((p) => (p as { value: number }).value)).toEqual([1, 3]);

    // The same request as protobuf, one point with an unstorable time.
    const decoded = decodeMetricsRequest(Buffer.from(JSON.stringify(body)));
    const Req = decoded.type;
    const protoBody = structuredClone(body) as typeof body;
    const dps = protoBody.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.gauge.dataPoints;
    dps[1]!.timeUnixNano = '18446744073709551615';
    const bytes = Buffer.from(Req.encode(Req.fromObject(protoBody)).finish());
    const proto = read(bytes);
    expect(proto.rejected).toHaveLength(1);
    const again = read(proto.accepted());
    expect(again.rejected).toHaveLength(0);
    expect(again.records.map((p) => (p as { value: number }).value)).toEqual([1, 3]);
    expect(read(bytes).accepted().length).toBeLessThan(bytes.length);
  });

  it('bytes attributes are base64 in OTLP/JSON as in protobuf (only trace and span ids are hex in JSON)', () => {
    const rec = { timeUnixNano: NOW_NS, attributes: [{ key: 'raw', value: { bytesValue: 'aGVsbG8=' } }] };
    const json = readLogs(logs(rec), { arrivalMs: NOW_MS }).records[0]!;
    expect(json.attributes.raw).toBe('aGVsbG8=');
    const Req = decodeLogs(logs(rec)).type;
    const body = { resourceLogs: [{ resource: {}, scopeLogs: [{ logRecords: [{ ...rec, attributes: [{ key: 'raw', value: { bytesValue: Buffer.from('hello') } }] }] }] }] };
    const proto = readLogs(Buffer.from(Req.encode(Req.fromObject(body)).finish()), { arrivalMs: NOW_MS }).records[0]!;
    expect(proto.attributes.raw).toBe('aGVsbG8=');
    expect(readLogs(logs({ ...rec, attributes: [{ key: 'raw', value: { bytesValue: 'not base64!' } }] })).rejected[0]!.path).toMatch(/attributes\[0\]\.value\.bytesValue$/);
  });

  it('answers with OTLP partial success in the request encoding', () => {
    expect(JSON.parse(encodeExportResponse('metrics', 'otlp_json', 2, 'why').toString())).toEqual({ partialSuccess: { rejectedDataPoints: '2', errorMessage: 'why' } });
    expect(encodeExportResponse('logs', 'otlp_json').toString()).toBe('{}');
    expect(encodeExportResponse('logs', 'otlp_proto')).toHaveLength(0);
    const proto = encodeExportResponse('logs', 'otlp_proto', 3, 'why');
    const reader = protobuf.Reader.create(proto);
    expect(reader.uint32()).toBe((1 << 3) | 2); // field 1, length-delimited: partial_success
  });
});
