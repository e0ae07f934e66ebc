import fc from 'fast-check';
import { decodeLogsRequest, decodeMetricsRequest, type OtlpEncoding } from '@vigil/platform';

/**
 * fast-check arbitraries for OTLP export requests as senders really write them: spec-valid
 * variations (missing times, enum names, numbers as strings, lone surrogates in any string) and
 * invalid fields (times that are not numbers, negative, or past what can be stored; negative
 * counts and flags; severities outside 0-24). Every data point or log record carries an attribute
 * `i` (its index) and `run` (a tag given at encoding), and the arbitrary knows which ones are
 * valid. In protobuf only what the wire format can represent is generated (a fixed64 cannot be
 * "abc" or negative; an int32 severity can be -3).
 */

type Variant = { v: unknown; ok: boolean };
const ok = (v: unknown): Variant => ({ v, ok: true });
const bad = (v: unknown): Variant => ({ v, ok: false });
const ABSENT = undefined;

const DAY_NS = 86_400_000_000_000n;
const recentNanos = fc.bigInt({ min: 0n, max: 5n * DAY_NS }).map((d) => (BigInt(Date.now()) * 1_000_000n - d).toString());

/** A time field: valid recent or absent, or invalid; `proto` limits invalid ones to what a fixed64 can hold. */
function time(proto: boolean): fc.Arbitrary<Variant> {
  const valid = fc.oneof(
    recentNanos.map(ok),
    fc.constant(ok(ABSENT)),
    fc.constant(ok('0')),
    fc.constant(ok('4102444800000000000')),
    // Short ones the engine misreads unless written as 19 digits ("1" as a date, "100000000" as seconds).
    fc.constantFrom(ok('1'), ok('100000000'), ok('000123')),
    ...(proto ? [] : [fc.constantFrom(ok(1_000_000_000), ok(1_700_000_000_000_000_000))]),
  );
  const invalidProto = fc.constantFrom(bad('18446744073709551615'), bad('9300000000000000000'), bad('4102444800000000001'));
  const invalidJson = fc.constantFrom(bad('abc'), bad('-5'), bad(-5), bad(1.5), bad('1e9'), bad(true));
  return fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: invalidProto }, ...(proto ? [] : [{ weight: 1, arbitrary: invalidJson }]));
}

/** Any string, now and then with a lone surrogate in it. */
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom('\ud800', '\udfff', '\ud83d'), fc.string({ maxLength: 6 })).map((p) => p.join('')));

const uintField = (proto: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.nat({ max: 1_000_000 }).map(ok) },
    { weight: 2, arbitrary: fc.nat({ max: 1_000_000 }).map((n) => ok(String(n))) },
    ...(proto ? [] : [{ weight: 1, arbitrary: fc.constantFrom(bad(-1), bad('-2'), bad('x')) }]),
  );

const doubleField = (proto: boolean) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map(ok) },
    { weight: 1, arbitrary: fc.constantFrom(ok('NaN'), ok('Infinity'), ok('-Infinity')).map((x) => (proto ? ok(0.5) : x)) },
    ...(proto ? [] : [{ weight: 1, arbitrary: fc.constantFrom(bad('x'), bad({})) }]),
  );

const attr = (key: string, value: string) => ({ key, value: { stringValue: value } });

const attributes = fc.array(fc.tuple(text, fc.oneof(text.map((s) => ({ stringValue: s })), fc.integer().map((n) => ({ intValue: String(n) })), fc.boolean().map((b) => ({ boolValue: b })), fc.array(text, { maxLength: 3 }).map((a) => ({ arrayValue: { values: a.map((s) => ({ stringValue: s })) } })))), { maxLength: 4 }).map((kvs) =>
  kvs.map(([key, value]) => ({ key: key === 'i' || key === 'run' ? `_${key}` : key, value })),
);

interface Generated {
  /** The request with `run` set on every record, in `encoding`. */
  encode(run: string, encoding: OtlpEncoding): Buffer;
  /** Data points or log records in it. */
  points: number;
  /** The `i` of every valid one. */
  valid: string[];
  /** The time each valid one was given, in nanoseconds; absent when it should get the arrival (or observed) time. */
  times: Map<string, bigint>;
}

/** The time a valid field stands for, or undefined for "none given". */
function given(v: unknown): bigint | undefined {
  if (v === undefined || v === 0 || v === '0') return undefined;
  const n = BigInt(v as string | number);
  return n === 0n ? undefined : n;
}

function encodeWith(decode: typeof decodeMetricsRequest, body: unknown, encoding: OtlpEncoding): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  if (encoding === 'otlp_json') return json;
  const { type } = decode(json);
  return Buffer.from(type.encode(type.fromObject(body as Record<string, unknown>)).finish());
}

interface PointSpec {
  fields: Record<string, Variant>;
  attrs: { key: string; value: unknown }[];
}

const valid = (fields: Record<string, Variant>) => Object.values(fields).every((f) => f.ok);
const plain = (fields: Record<string, Variant>) => Object.fromEntries(Object.entries(fields).filter(([, f]) => f.v !== undefined).map(([k, f]) => [k, f.v]));

function metricsFor(proto: boolean): fc.Arbitrary<Generated> {
  const common = { timeUnixNano: time(proto), startTimeUnixNano: time(proto) };
  const gauge = fc.record({ ...common, asDouble: doubleField(proto) });
  const sumPoint = fc.record({ ...common, asInt: fc.oneof(fc.integer().map((n) => ok(String(n))), ...(proto ? [] : [fc.constant(bad('twelve'))])), flags: uintField(proto) });
  const histogram = fc.record({ ...common, count: uintField(proto), sum: doubleField(proto), bucketCounts: fc.array(uintField(proto), { maxLength: 4 }).map((xs) => ({ v: xs.map((x) => x.v), ok: xs.every((x) => x.ok) })) });
  const kinds = { gauge, sum: sumPoint, histogram } as const;
  const metric = fc.constantFrom('gauge', 'sum', 'histogram').chain((kind) =>
    fc.record({ kind: fc.constant(kind), name: text.filter((n) => n.length > 0), points: fc.array(fc.record({ fields: kinds[kind] as fc.Arbitrary<Record<string, Variant>>, attrs: attributes }), { minLength: 1, maxLength: 4 }) }),
  );
  const resource = fc.record({ attrs: attributes, scopes: fc.array(fc.record({ name: text, metrics: fc.array(metric, { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 2 }) });
  return fc.array(resource, { minLength: 1, maxLength: 3 }).map((resources) => {
    let i = 0;
    const validIds: string[] = [];
    const build = (run: string) => {
      let j = 0;
      return {
        resourceMetrics: resources.map((r) => ({
          resource: { attributes: r.attrs },
          scopeMetrics: r.scopes.map((s) => ({
            scope: { name: s.name },
            metrics: s.metrics.map((m) => ({
              name: m.name,
              [m.kind]: {
                ...(m.kind === 'sum' ? { aggregationTemporality: 2, isMonotonic: true } : {}),
                ...(m.kind === 'histogram' ? { aggregationTemporality: proto ? 2 : 'AGGREGATION_TEMPORALITY_CUMULATIVE' } : {}),
                dataPoints: m.points.map((p: PointSpec) => ({ ...plain(p.fields), attributes: [...p.attrs, attr('i', String(j++)), attr('run', run)] })),
              },
            })),
          })),
        })),
      };
    };
    const times = new Map<string, bigint>();
    for (const r of resources) for (const s of r.scopes) for (const m of s.metrics) for (const p of m.points as PointSpec[]) {
      if (valid(p.fields)) {
        validIds.push(String(i));
        const t = given(p.fields.timeUnixNano!.v);
        if (t !== undefined) times.set(String(i), t);
      }
      i++;
    }
    return { encode: (run, encoding) => encodeWith(decodeMetricsRequest, build(run), encoding), points: i, valid: validIds, times };
  });
}

function logsFor(proto: boolean): fc.Arbitrary<Generated> {
  const severity = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 24 }).map(ok) },
    { weight: 1, arbitrary: fc.constantFrom(ok(ABSENT), ...(proto ? [] : [ok('SEVERITY_NUMBER_WARN')])) },
    { weight: 1, arbitrary: fc.constantFrom(bad(-3), bad(25), ...(proto ? [] : [bad('loud')])) },
  );
  const record = fc.record({
    fields: fc.record({
      timeUnixNano: time(proto),
      observedTimeUnixNano: time(proto),
      severityNumber: severity,
      severityText: text.map(ok),
      flags: uintField(proto),
      eventName: text.map(ok),
    }),
    body: text,
    attrs: attributes,
  });
  const resource = fc.record({ attrs: attributes, scopes: fc.array(fc.array(record, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 2 }) });
  return fc.array(resource, { minLength: 1, maxLength: 3 }).map((resources) => {
    let i = 0;
    const validIds: string[] = [];
    const times = new Map<string, bigint>();
    for (const r of resources) for (const s of r.scopes) for (const rec of s) {
      if (valid(rec.fields)) {
        validIds.push(String(i));
        const t = given(rec.fields.timeUnixNano!.v) ?? given(rec.fields.observedTimeUnixNano!.v);
        if (t !== undefined) times.set(String(i), t);
      }
      i++;
    }
    const build = (run: string) => {
      let j = 0;
      return {
        resourceLogs: resources.map((r) => ({
          resource: { attributes: r.attrs },
          scopeLogs: r.scopes.map((records) => ({
            logRecords: records.map((rec) => ({ ...plain(rec.fields), body: { stringValue: rec.body }, attributes: [...rec.attrs, attr('i', String(j++)), attr('run', run)] })),
          })),
        })),
      };
    };
    return { encode: (run, encoding) => encodeWith(decodeLogsRequest, build(run), encoding), points: i, valid: validIds, times };
  });
}

/** A metrics request and the encoding it is written in (JSON or protobuf). */
export const otlpMetricsRequest = (): fc.Arbitrary<Generated & { encoding: OtlpEncoding }> =>
  fc.boolean().chain((proto) => metricsFor(proto).map((g) => ({ ...g, encoding: proto ? ('otlp_proto' as const) : ('otlp_json' as const) })));

export const otlpLogsRequest = (): fc.Arbitrary<Generated & { encoding: OtlpEncoding }> =>
  fc.boolean().chain((proto) => logsFor(proto).map((g) => ({ ...g, encoding: proto ? ('otlp_proto' as const) : ('otlp_json' as const) })));
