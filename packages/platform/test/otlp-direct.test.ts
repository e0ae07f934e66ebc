/**
 * The direct reader (otlp/direct.ts) against the general path (the plain-object tree, then the
 * flattening): `readLogs` and `readMetrics` must give the same records, rejections and errors
 * whichever reads a request. The general path is forced by handing them a decoder of their own.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { LOGS_REQUEST_PLAN, MAX_TIME_NANOS, METRICS_REQUEST_PLAN, OTLP_TYPES, anyValueToString, decodeLogsRequest, decodeMetricsRequest, readLogs, readMetrics } from '../src/otlp/index.js';
import { readLogsDirect, readMetricsDirect, type DirectLogs } from '../src/otlp/direct.js';
import { messageOf } from './otlp-arbitraries.js';

const type = OTLP_TYPES.logsRequest;
const ARRIVAL_MS = 1_764_000_000_000;
const general = (payload: Buffer) => decodeLogsRequest(payload);
const encode = (obj: Record<string, unknown>) => Buffer.from(type.encode(type.fromObject(obj)).finish());
/** What the direct reader gives on its own (undefined: not the plain case). */
const DIRECT: DirectLogs = { request: LOGS_REQUEST_PLAN, anyValue: (raw) => anyValueToString(raw), maxTimeText: MAX_TIME_NANOS.toString() };
const direct = (payload: Buffer) => readLogsDirect(payload, `${ARRIVAL_MS}000000`, DIRECT);

type Outcome = { records: unknown; rejected: unknown; accepted: Buffer } | { error: string };
function outcome(read: () => { records: unknown; rejected: unknown; accepted(): Buffer }): Outcome {
  try {
    const r = read();
    return { records: r.records, rejected: r.rejected, accepted: r.accepted() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** Both ways, the same. */
function same(payload: Buffer): void {
  const viaGeneral = outcome(() => readLogs(payload, { arrivalMs: ARRIVAL_MS }, general));
  expect(outcome(() => readLogs(payload, { arrivalMs: ARRIVAL_MS }))).toEqual(viaGeneral);
}

/** Where to cut a request short, and bytes to change in it. */
const damage = fc.tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }));
/** A request cut short, and the whole request with bytes changed. */
function damaged(whole: Buffer, [cut, changes]: [number, [number, number][]]): Buffer[] {
  const changed = Buffer.from(whole);
  for (const [at, byte] of changes) if (changed.length > 0) changed[at % changed.length] = byte;
  return [whole.subarray(0, cut % (whole.length + 1)), changed];
}

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('', 'service.name', 'checkout'));
const nanos = fc.oneof(fc.constant(undefined), fc.constantFrom('0', '1', '1764000000000000000', MAX_TIME_NANOS.toString()), fc.bigInt({ min: 1n, max: MAX_TIME_NANOS }).map(String));
/** AnyValues as senders write them: mostly strings, some numbers, bools, bytes, arrays and maps. */
const anyValue: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ v: Record<string, unknown> }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: text.map((s) => ({ stringValue: s })), weight: 6 },
    fc.integer().map((n) => ({ intValue: String(n) })),
    fc.double().map((d) => ({ doubleValue: d })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.uint8Array({ maxLength: 6 }).map((b) => ({ bytesValue: Buffer.from(b).toString('base64') })),
    fc.array(tie('v'), { maxLength: 3 }).map((values) => ({ arrayValue: { values } })),
    fc.array(fc.record({ key: text, value: tie('v') }), { maxLength: 3 }).map((values) => ({ kvlistValue: { values } })),
    fc.constant({}),
  ),
})).v;
// A key or a value may be missing (the general path skips a KeyValue without a key, and reads an absent value as '').
const attributes = fc.array(fc.oneof({ arbitrary: fc.record({ key: text, value: anyValue }), weight: 4 }, fc.record({ key: text, value: anyValue }, { requiredKeys: [] })), { maxLength: 6 });
const record = fc.record(
  {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: fc.integer({ min: 0, max: 24 }),
    severityText: text,
    body: anyValue,
    attributes,
    droppedAttributesCount: fc.nat(),
    flags: fc.nat(),
    traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64')),
    spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('base64')),
    eventName: text,
  },
  { requiredKeys: [] },
);
/** Requests a sender writes: times in range, severities 0-24, any value in attributes and bodies. */
const plainRequest = fc.record({
  resourceLogs: fc.array(
    fc.record(
      {
        resource: fc.record({ attributes, droppedAttributesCount: fc.nat() }, { requiredKeys: [] }),
        schemaUrl: text,
        scopeLogs: fc.array(
          fc.record({ scope: fc.record({ name: text, version: text, attributes, droppedAttributesCount: fc.nat() }, { requiredKeys: [] }), schemaUrl: text, logRecords: fc.array(record, { maxLength: 4 }) }, { requiredKeys: [] }),
          { maxLength: 3 },
        ),
      },
      { requiredKeys: [] },
    ),
    { minLength: 1, maxLength: 3 },
  ),
});

describe('the direct log reader', () => {
  it('reads any request a sender writes itself, as the general path does', () => {
    fc.assert(
      fc.property(plainRequest, (obj) => {
        const payload = encode(obj);
        const records = direct(payload);
        expect(records).toBeDefined();
        expect(records).toEqual(readLogs(payload, { arrivalMs: ARRIVAL_MS }, general).records);
        same(payload);
      }),
      { numRuns: 400 },
    );
  });

  it('gives what the general path gives for any logs request, rejections and errors included', () => {
    fc.assert(
      fc.property(messageOf(type, 6), (obj) => same(encode(obj))),
      { numRuns: 400 },
    );
  });

  it('gives what the general path gives for requests cut short or with bytes changed', () => {
    fc.assert(
      fc.property(plainRequest, damage, (obj, d) => {
        for (const payload of damaged(encode(obj), d)) same(payload);
      }),
      { numRuns: 400 },
    );
  });

  it('reads the wire forms an encoder may write: fields in any order, unknown fields, a scalar given twice', () => {
    const w = protobuf.Writer.create();
    // ResourceLogs: scope_logs before resource, schema_url between, an unknown field.
    w.uint32((1 << 3) | 2).fork();
    w.uint32((2 << 3) | 2).fork();
    w.uint32((2 << 3) | 2).fork(); // a log record: fields out of order, time twice (the last wins), an unknown field
    w.uint32((6 << 3) | 2).fork().uint32((1 << 3) | 2).string('k').uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string('v').ldelim().ldelim();
    w.uint32((1 << 3) | 1).fixed64(5);
    w.uint32((5 << 3) | 2).fork().uint32((1 << 3) | 2).string('first').uint32((1 << 3) | 2).string('body').ldelim();
    w.uint32((1 << 3) | 1).fixed64('1764000000000000000');
    w.uint32((77 << 3) | 0).uint64(9);
    w.ldelim();
    w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('scope').ldelim(); // scope after its records
    w.ldelim();
    w.uint32((3 << 3) | 2).string('https://schema');
    w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string('service.name').uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string('api').ldelim().ldelim().ldelim();
    w.uint32((99 << 3) | 2).bytes(Buffer.from('skip'));
    w.ldelim();
    const payload = Buffer.from(w.finish());
    const records = direct(payload);
    expect(records).toHaveLength(1);
    expect(records![0]).toMatchObject({ timeUnixNano: '1764000000000000000', body: 'body', attributes: { k: 'v' }, scope: { name: 'scope' }, resource: { serviceName: 'api', schemaUrl: 'https://schema' } });
    same(payload);
  });

  it('writes invalid UTF-8 as the general path does (U+FFFD), and leaves an unusual request to it', () => {
    const payload = encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'AAAA' }, attributes: [{ key: 'BBBB', value: { stringValue: 'CCCC' } }] }] }] }] });
    for (const [from, to] of [['AAAA', [0xff, 0xfe, 0x41, 0x41]], ['BBBB', [0xed, 0xa0, 0x80, 0x42]], ['CCCC', [0xf0, 0x9f, 0x98, 0x43]]] as const) {
      const at = payload.indexOf(from);
      Buffer.from(to).copy(payload, at);
    }
    const records = direct(payload);
    expect(records![0]!.body).toContain('\uFFFD');
    expect(Object.keys(records![0]!.attributes)[0]).toContain('\uFFFD');
    same(payload);
    // A severity out of range, a time past the latest: rejected by the general path, which reads them.
    for (const rec of [{ severityNumber: 25 }, { timeUnixNano: (MAX_TIME_NANOS + 1n).toString() }]) {
      const odd = encode({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }, rec] }] }] });
      expect(direct(odd)).toBeUndefined();
      const read = readLogs(odd, { arrivalMs: ARRIVAL_MS });
      expect(read.records).toHaveLength(1);
      expect(read.rejected).toHaveLength(1);
      same(odd);
    }
  });
});

const metricsType = OTLP_TYPES.metricsRequest;
const encodeMetrics = (obj: Record<string, unknown>) => Buffer.from(metricsType.encode(metricsType.fromObject(obj)).finish());
const generalMetrics = (payload: Buffer) => decodeMetricsRequest(payload);
/** A metric the direct reader hands back to the flattening: read by the test as the flattening reads it. */
const directMetrics = (payload: Buffer) => {
  const viaGeneral = readMetrics(payload, { arrivalMs: ARRIVAL_MS }, generalMetrics);
  let handedBack = 0;
  const points = readMetricsDirect(payload, `${ARRIVAL_MS}000000`, {
    ...DIRECT,
    request: METRICS_REQUEST_PLAN,
    noExemplars: [],
    metric: (raw, resource, scope) => {
      handedBack++;
      const one = readMetrics(encodeMetrics({ resourceMetrics: [{ scopeMetrics: [{ metrics: [raw] }] }] }), { arrivalMs: ARRIVAL_MS }, generalMetrics);
      return one.rejected.length > 0 ? undefined : one.records.map((p) => ({ ...p, resource, scope }));
    },
  });
  return { points, handedBack, viaGeneral };
};
function sameMetrics(payload: Buffer): void {
  const viaGeneral = outcome(() => readMetrics(payload, { arrivalMs: ARRIVAL_MS }, generalMetrics));
  expect(outcome(() => readMetrics(payload, { arrivalMs: ARRIVAL_MS }))).toEqual(viaGeneral);
}

const int64Text = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const exemplar = fc.record(
  {
    filteredAttributes: attributes,
    timeUnixNano: nanos,
    asDouble: fc.double(),
    spanId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('base64')),
    traceId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64')),
  },
  { requiredKeys: [] },
);
/** A NumberDataPoint: a double, an integer, both (the double counts) or neither; with `exemplars`, sometimes some. */
const pointOf = (exemplars: boolean) =>
  fc
    .record(
      {
        attributes,
        startTimeUnixNano: nanos,
        timeUnixNano: nanos,
        value: fc.oneof(
          fc.double().map((asDouble) => ({ asDouble })),
          int64Text.map((asInt) => ({ asInt })),
          fc.tuple(fc.double(), int64Text).map(([asDouble, asInt]) => ({ asDouble, asInt })),
          fc.constant({}),
        ),
        flags: fc.nat(),
        exemplars: exemplars ? fc.array(exemplar, { maxLength: 2 }) : fc.constant([]),
      },
      { requiredKeys: ['exemplars'] },
    )
    .map(({ value, ...p }) => ({ ...p, ...value }));
const metricName = fc.oneof({ arbitrary: text.filter((t) => t !== ''), weight: 5 }, fc.constant(''), fc.constant(undefined));
/** Gauges and sums as an SDK writes them; `names` decides whether a metric may lack its name. */
const numberMetric = (names: fc.Arbitrary<string | undefined>, exemplars = false) => {
  const point = pointOf(exemplars);
  return fc.oneof(
    fc.record({ name: names, description: text, unit: text, gauge: fc.record({ dataPoints: fc.array(point, { maxLength: 4 }) }) }, { requiredKeys: ['name', 'gauge'] }),
    fc.record(
      { name: names, description: text, unit: text, sum: fc.record({ dataPoints: fc.array(point, { maxLength: 4 }), aggregationTemporality: fc.integer({ min: -1, max: 3 }), isMonotonic: fc.boolean() }, { requiredKeys: ['dataPoints'] }) },
      { requiredKeys: ['name', 'sum'] },
    ),
  );
};
const metricsRequest = (metric: fc.Arbitrary<Record<string, unknown>>) =>
  fc.record({
    resourceMetrics: fc.array(
      fc.record(
        {
          resource: fc.record({ attributes }, { requiredKeys: [] }),
          schemaUrl: text,
          scopeMetrics: fc.array(fc.record({ scope: fc.record({ name: text, version: text, attributes }, { requiredKeys: [] }), schemaUrl: text, metrics: fc.array(metric, { maxLength: 4 }) }, { requiredKeys: [] }), { maxLength: 3 }),
        },
        { requiredKeys: [] },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  });
const anyMetric = messageOf(metricsType.lookupType('opentelemetry.proto.metrics.v1.Metric'), 4);

describe('the direct metrics reader', () => {
  it('reads any gauge and sum a sender writes itself, as the general path does, handing nothing back', () => {
    fc.assert(
      fc.property(metricsRequest(numberMetric(text.filter((t) => t !== ''))), (obj) => {
        const payload = encodeMetrics(obj);
        const { points, handedBack, viaGeneral } = directMetrics(payload);
        expect(points).toBeDefined();
        expect(handedBack).toBe(0);
        expect(points).toEqual(viaGeneral.records);
        sameMetrics(payload);
      }),
      { numRuns: 400 },
    );
  });

  it('hands histograms, summaries, exemplars and odd metrics back to the flattening, and gives what the general path gives', () => {
    fc.assert(
      fc.property(metricsRequest(fc.oneof(numberMetric(metricName, true), anyMetric)), (obj) => {
        const payload = encodeMetrics(obj);
        const { points, viaGeneral } = directMetrics(payload);
        if (points) expect(points).toEqual(viaGeneral.records);
        else expect(viaGeneral.rejected.length).toBeGreaterThan(0);
        sameMetrics(payload);
      }),
      { numRuns: 400 },
    );
  });

  it('gives what the general path gives for any metrics request, cut short or with bytes changed too', () => {
    fc.assert(
      fc.property(messageOf(metricsType, 6), (obj) => sameMetrics(encodeMetrics(obj))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(metricsRequest(fc.oneof(numberMetric(metricName), anyMetric)), damage, (obj, d) => {
        for (const payload of damaged(encodeMetrics(obj), d)) sameMetrics(payload);
      }),
      { numRuns: 300 },
    );
  });
});
