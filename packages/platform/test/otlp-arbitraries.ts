/** Arbitraries of OTLP messages for the property tests of the protobuf readers. */
import fc from 'fast-check';
import protobuf from 'protobufjs';

const I64 = [-(2n ** 63n), 2n ** 63n - 1n];
const U64 = [0n, 2n ** 64n - 1n];
const bigText = (min: bigint, max: bigint) =>
  fc.oneof(fc.bigInt({ min, max }), fc.constantFrom(min, max, 0n, 1n, 2n ** 53n, 2n ** 53n + 1n, 1_764_000_000_000_000_000n).filter((v) => v >= min && v <= max)).map(String);

export const SCALARS: Record<string, fc.Arbitrary<unknown>> = {
  double: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, -0, Infinity, -Infinity, 0.1)),
  float: fc.float().map((f) => Math.fround(f)),
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  sint32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  sfixed32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  uint32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fixed32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  int64: bigText(I64[0]!, I64[1]!),
  sint64: bigText(I64[0]!, I64[1]!),
  sfixed64: bigText(I64[0]!, I64[1]!),
  uint64: bigText(U64[0]!, U64[1]!),
  fixed64: bigText(U64[0]!, U64[1]!),
  bool: fc.boolean(),
  string: fc.oneof(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 6 })),
  bytes: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b).toString('base64')),
};

/** Any plain object of `type` (the shape fromObject takes), nested at most `depth` deep. */
export function messageOf(type: protobuf.Type, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    let one: fc.Arbitrary<unknown> | undefined = SCALARS[f.type];
    if (!one && f.resolvedType instanceof protobuf.Enum) one = fc.constantFrom(...Object.values(f.resolvedType.values));
    if (!one && f.resolvedType instanceof protobuf.Type) {
      if (depth <= 0) continue;
      one = messageOf(f.resolvedType, depth - 1);
    }
    if (!one) throw new Error(`no arbitrary for ${f.type}`);
    fields[f.name] = f.repeated ? fc.array(one, { maxLength: depth > 2 ? 3 : 2 }) : one;
  }
  return fc.record(fields, { requiredKeys: [] });
}

