/**
 * The wire reader (otlp/wire.ts) against protobufjs: for any message of the OTLP request types,
 * built from the protos' own reflection (every field kind, present or not, explicit zeros, 64-bit
 * extremes, NaN and -0, nested AnyValues), the reader gives exactly what `decode` then `toObject`
 * gives. Plus the wire forms protobufjs's encoder never writes (unpacked repeated numbers, unknown
 * fields, a field given twice) and malformed input, which must throw.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { messageOf, SCALARS } from './otlp-arbitraries.js';
import { OTLP_TYPES, logEntries, logHeaders, planOf, readProto, trimPlan, type KeptFields } from '../src/otlp/index.js';

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, bytes: String, enums: Number, defaults: false };

function viaProtobufjs(type: protobuf.Type, bytes: Uint8Array): unknown {
  return type.toObject(type.decode(bytes), TO_OBJECT);
}

/** Every scalar kind, single and repeated, and a nested message: what the OTLP protos do not use is read right too. */
const ALL_KINDS = (() => {
  const kinds = Object.keys(SCALARS);
  const fields: Record<string, { type: string; id: number; rule?: string }> = {};
  kinds.forEach((k, i) => {
    fields[`one_${k}`] = { type: k, id: i + 1 };
    fields[`many_${k}`] = { type: k, id: i + 101, rule: 'repeated' };
  });
  fields.child = { type: 'AllKinds', id: 200 };
  fields.children = { type: 'AllKinds', id: 201, rule: 'repeated' };
  fields.colour = { type: 'Colour', id: 202 };
  return protobuf.Root.fromJSON({ nested: { AllKinds: { fields }, Colour: { values: { NONE: 0, RED: 1, BLUE: -2 } } } }, new protobuf.Root()).lookupType('AllKinds');
})();

describe('the OTLP wire reader', () => {
  for (const [name, type] of [...Object.entries(OTLP_TYPES), ['every scalar kind', ALL_KINDS] as const]) {
    it(`reads any ${name} as protobufjs's decode and toObject do`, () => {
      const plan = planOf(type);
      fc.assert(
        fc.property(messageOf(type, type === ALL_KINDS ? 2 : 6), (obj) => {
          const bytes = Buffer.from(type.encode(type.fromObject(obj)).finish());
          expect(readProto(plan, bytes)).toEqual(viaProtobufjs(type, bytes));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('reads only the fields a trimmed plan keeps, whatever else the message holds', () => {
    const type = OTLP_TYPES.logsRequest;
    const keep: KeptFields = { resourceLogs: { resource: true, scopeLogs: { logRecords: { timeUnixNano: true, flags: true } } } };
    const trimmed = trimPlan(planOf(type), keep);
    /** The full reading with the fields `keep` leaves out removed. */
    const prune = (v: unknown, k: KeptFields | true): unknown => {
      if (k === true || v === null || typeof v !== 'object') return v;
      if (Array.isArray(v)) return v.map((x) => prune(x, k));
      const out: Record<string, unknown> = {};
      for (const [name, x] of Object.entries(v)) if (k[name]) out[name] = prune(x, k[name]!);
      return out;
    };
    fc.assert(
      fc.property(messageOf(type, 6), (obj) => {
        const bytes = Buffer.from(type.encode(type.fromObject(obj)).finish());
        expect(readProto(trimmed, bytes)).toEqual(prune(viaProtobufjs(type, bytes), keep));
      }),
      { numRuns: 200 },
    );
    expect(() => trimPlan(planOf(type), { resourceLogs: { nope: true } })).toThrow(/has no field nope/);
    expect(() => trimPlan(planOf(type), { resourceLogs: { schemaUrl: { x: true } } })).toThrow(/not a message/);
  });

  it("reads log records' headers as the full reading gives them, their content left out", () => {
    const type = OTLP_TYPES.logsRequest;
    fc.assert(
      fc.property(messageOf(type, 6), (obj) => {
        const bytes = Buffer.from(type.encode(type.fromObject(obj)).finish());
        let full: ReturnType<typeof logEntries>;
        try {
          full = logEntries(bytes, { arrivalMs: 1_764_000_000_000 });
        } catch (err) {
          expect(() => logHeaders(bytes, { arrivalMs: 1_764_000_000_000 })).toThrow((err as Error).constructor as ErrorConstructor);
          return;
        }
        const headers = logHeaders(bytes, { arrivalMs: 1_764_000_000_000 });
        const blank = logHeaders(Buffer.from(type.encode(type.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [{}] }] }] })).finish()))[0]!;
        expect(headers).toEqual(full.map((e) => ({ ...e, body: blank.body, attributes: blank.attributes, traceId: blank.traceId, spanId: blank.spanId, eventName: blank.eventName })));
      }),
      { numRuns: 300 },
    );
  });

  it('reads unpacked repeated numbers, skips unknown fields, and keeps the last of a field given twice', () => {
    const type = OTLP_TYPES.metricsRequest.lookupType('opentelemetry.proto.metrics.v1.HistogramDataPoint');
    const w = protobuf.Writer.create();
    w.uint32((6 << 3) | 1).fixed64(7); // bucket_counts, unpacked
    w.uint32((6 << 3) | 1).fixed64('18446744073709551615');
    w.uint32((7 << 3) | 2).fork().double(1.5).double(-2).ldelim(); // explicit_bounds, packed
    w.uint32((7 << 3) | 1).double(9); // and one more unpacked
    w.uint32((99 << 3) | 0).uint64(123456789012); // unknown varint
    w.uint32((98 << 3) | 2).bytes(Buffer.from('skip me')); // unknown bytes
    w.uint32((97 << 3) | 3).uint32((1 << 3) | 0).uint32(5).uint32((97 << 3) | 4); // unknown group
    w.uint32((3 << 3) | 1).fixed64(1); // time_unix_nano, then again
    w.uint32((3 << 3) | 1).fixed64('1764000000000000000');
    w.uint32((5 << 3) | 1).double(0); // sum: an explicit zero is present
    const bytes = Buffer.from(w.finish());
    const read = readProto(planOf(type), bytes);
    expect(read).toEqual(viaProtobufjs(type, bytes));
    expect(read).toEqual({ bucketCounts: ['7', '18446744073709551615'], explicitBounds: [1.5, -2, 9], timeUnixNano: '1764000000000000000', sum: 0 });
  });

  it('refuses what is cut short or malformed, naming the place', () => {
    const type = OTLP_TYPES.metricsRequest;
    const plan = planOf(type);
    const whole = Buffer.from(
      type.encode(type.fromObject({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'cpu', gauge: { dataPoints: [{ timeUnixNano: '1764000000000000000', asDouble: 0.5 }] } }] }] }] })).finish(),
    );
    for (let cut = 1; cut < whole.length; cut++) expect(() => readProto(plan, whole.subarray(0, cut))).toThrow();
    expect(() => readProto(plan, Buffer.from([0x0a, 0x05, 0x01]))).toThrow(/truncated/);
    expect(() => readProto(plan, Buffer.from([0x0b]))).toThrow(/wire type 3|wire type/);
    expect(() => readProto(plan, Buffer.from([0x00, 0x01]))).toThrow(/field number 0/);
    // resource_metrics (a message) written as a varint.
    expect(() => readProto(plan, Buffer.from([0x08, 0x01]))).toThrow(/resourceMetrics: wire type 0/);
  });

  it('never fails with anything but an Error on random bytes', () => {
    const plan = planOf(OTLP_TYPES.logsRequest);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          readProto(plan, Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
