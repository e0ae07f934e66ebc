import protobuf from 'protobufjs';

/**
 * A protobuf reader for OTLP export requests that writes the plain objects `Type.toObject` gives
 * with Vigil's options (`longs: String, bytes: String, enums: Number, defaults: false`), straight
 * from the wire: no message instances, no Long objects in between. protobufjs's decode and then
 * toObject cost 1.1-1.8 µs per metric point (bench/ingest profile); most of it was 64-bit times
 * going through Long and back to text.
 *
 * The plan of each message comes from the same protobufjs reflection (`proto/*.proto`), so a field
 * the protos gain is read without a change here. What the wire may hold and toObject shows:
 * - a field is present when it was on the wire (an explicit zero too); a repeated one when it has
 *   at least one element; the last of a non-repeated field wins, as in protobufjs;
 * - repeated numbers packed or not; unknown fields (groups included) skipped;
 * - 64-bit integers as decimal text (signed for int64, sint64, sfixed64), bytes as base64.
 * Stricter than protobufjs where it would read past the end or take a field in the wrong wire type:
 * those throw (the record goes to the dead-letter topic) instead of yielding garbage.
 */

const enum Kind {
  Double,
  Float,
  Int32,
  Uint32,
  Sint32,
  Fixed32,
  Sfixed32,
  Int64,
  Uint64,
  Sint64,
  Fixed64,
  Sfixed64,
  Bool,
  String,
  Bytes,
  Enum,
  Message,
}

const KINDS: Record<string, Kind> = {
  double: Kind.Double,
  float: Kind.Float,
  int32: Kind.Int32,
  uint32: Kind.Uint32,
  sint32: Kind.Sint32,
  fixed32: Kind.Fixed32,
  sfixed32: Kind.Sfixed32,
  int64: Kind.Int64,
  uint64: Kind.Uint64,
  sint64: Kind.Sint64,
  fixed64: Kind.Fixed64,
  sfixed64: Kind.Sfixed64,
  bool: Kind.Bool,
  string: Kind.String,
  bytes: Kind.Bytes,
};

/** The wire type a field's single value is written in (varint 0, 64-bit 1, length-delimited 2, 32-bit 5). */
function wireType(kind: Kind): number {
  switch (kind) {
    case Kind.Double:
    case Kind.Fixed64:
    case Kind.Sfixed64:
      return 1;
    case Kind.Float:
    case Kind.Fixed32:
    case Kind.Sfixed32:
      return 5;
    case Kind.String:
    case Kind.Bytes:
    case Kind.Message:
      return 2;
    default:
      return 0;
  }
}

interface FieldPlan {
  name: string;
  kind: Kind;
  wire: number;
  repeated: boolean;
  message: MessagePlan | undefined;
}

export interface MessagePlan {
  name: string;
  /** By field number. */
  fields: (FieldPlan | undefined)[];
}

const plans = new WeakMap<protobuf.Type, MessagePlan>();

/** The reading plan of a message type (made once per type, shared by the types that embed it). */
export function planOf(type: protobuf.Type): MessagePlan {
  const known = plans.get(type);
  if (known) return known;
  const plan: MessagePlan = { name: type.fullName, fields: [] };
  plans.set(type, plan);
  for (const f of type.fieldsArray) {
    f.resolve();
    if (f.map) throw new Error(`${type.fullName}.${f.name}: map fields are not supported`);
    let kind = KINDS[f.type];
    let message: MessagePlan | undefined;
    if (kind === undefined) {
      if (f.resolvedType instanceof protobuf.Enum) kind = Kind.Enum;
      else if (f.resolvedType instanceof protobuf.Type) {
        kind = Kind.Message;
        message = planOf(f.resolvedType);
      } else throw new Error(`${type.fullName}.${f.name}: unknown type ${f.type}`);
    }
    plan.fields[f.id] = { name: f.name, kind, wire: wireType(kind), repeated: f.repeated, message };
  }
  return plan;
}

/** Which fields a trimmed plan keeps, by name: `true` the whole field, an object the kept fields of a message field. */
export type KeptFields = { readonly [name: string]: true | KeptFields };

/**
 * A plan that reads only the `keep` fields of `plan` (a message field by its own `keep`) and skips
 * the others as unknown fields (their bytes are bounded, not read): a reader that needs a few
 * fields of a large message does not build the rest.
 */
export function trimPlan(plan: MessagePlan, keep: KeptFields): MessagePlan {
  const out: MessagePlan = { name: plan.name, fields: [] };
  plan.fields.forEach((f, id) => {
    const k = f && keep[f.name];
    if (!f || !k) return;
    if (k === true) out.fields[id] = f;
    else if (f.message) out.fields[id] = { ...f, message: trimPlan(f.message, k) };
    else throw new Error(`${plan.name}.${f.name} is not a message: keep it whole`);
  });
  for (const name of Object.keys(keep)) if (!out.fields.some((f) => f?.name === name)) throw new Error(`${plan.name} has no field ${name}`);
  return out;
}

/** An unsigned 64-bit value from its two 32-bit halves, as decimal text. */
export function unsignedText(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * 4294967296 + lo);
  // hi·2³² + lo = hi·4294·10⁶ + (hi·967296 + lo): both parts stay below 2⁵³.
  const low = hi * 967296 + lo;
  const high = hi * 4294 + Math.floor(low / 1e6);
  const rest = String(low % 1e6);
  return String(high) + '000000'.slice(rest.length) + rest;
}

/** A signed (two's complement) 64-bit value from its halves, as decimal text. */
export function signedText(lo: number, hi: number): string {
  if (hi < 0x80000000) return unsignedText(lo, hi);
  // Negate: invert and add one.
  let nlo = (~lo + 1) >>> 0;
  let nhi = ~hi >>> 0;
  if (nlo === 0) nhi = (nhi + 1) >>> 0;
  return `-${unsignedText(nlo, nhi)}`;
}

class Truncated extends Error {
  constructor(at: number) {
    super(`truncated at byte ${at}`);
  }
}

/** Node's Buffer has these (undocumented; protobufjs reads strings with `utf8Slice` too): no encoding lookup per call. */
type SlicingBuffer = Buffer & { utf8Slice(start: number, end: number): string; base64Slice(start: number, end: number): string };

/** The cursor over one buffer (`direct.ts` reads with it too). */
export class Cursor {
  pos = 0;
  /** The high 32 bits of the last 64-bit varint read by `varint64`. */
  hi = 0;
  readonly buf: SlicingBuffer;
  constructor(buf: Buffer) {
    this.buf = buf as SlicingBuffer;
  }

  varint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) throw new Truncated(pos);
      const b = buf[pos++]!;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    // A 64-bit varint where 32 bits were expected (a negative int32): its upper bytes are dropped.
    for (let i = 0; i < 5; i++) {
      if (pos >= end) throw new Truncated(pos);
      if (buf[pos++]! < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    throw new Error(`a varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** Reads a varint of up to 64 bits: returns the low 32 bits, leaves the high ones in `hi`. */
  varint64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      if (pos >= end) throw new Truncated(pos);
      b = buf[pos++]!;
      lo |= (b & 0x7f) << (i * 7);
      if (b < 0x80) {
        this.pos = pos;
        this.hi = 0;
        return lo >>> 0;
      }
    }
    // Byte 5 holds bits 28-34: four in lo, three in hi.
    if (pos >= end) throw new Truncated(pos);
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let i = 0; i < 5; i++) {
        if (pos >= end) throw new Truncated(pos);
        b = buf[pos++]!;
        hi |= (b & 0x7f) << (i * 7 + 3);
        if (b < 0x80) break;
        if (i === 4) throw new Error(`a varint longer than 10 bytes at byte ${this.pos}`);
      }
    }
    this.pos = pos;
    this.hi = hi >>> 0;
    return lo >>> 0;
  }

  /** Reads a length; returns where the length-delimited value it announces ends (the cursor at its start). */
  delimited(end: number): number {
    const len = this.varint32(end);
    if (this.pos + len > end) throw new Truncated(this.pos);
    return this.pos + len;
  }

  need(n: number, end: number): number {
    const at = this.pos;
    if (at + n > end) throw new Truncated(at);
    this.pos = at + n;
    return at;
  }

  skip(wire: number, end: number, depth = 0): void {
    switch (wire) {
      case 0:
        this.varint64(end);
        return;
      case 1:
        this.need(8, end);
        return;
      case 2:
        this.need(this.varint32(end), end);
        return;
      case 5:
        this.need(4, end);
        return;
      case 3: {
        if (depth > 32) throw new Error('groups nested too deep');
        for (;;) {
          const tag = this.varint32(end);
          if ((tag & 7) === 4) return;
          this.skip(tag & 7, end, depth + 1);
        }
      }
      default:
        throw new Error(`wire type ${wire} at byte ${this.pos}`);
    }
  }

  /** One value of a scalar field (not a message), the cursor on it. */
  scalar(kind: Kind, end: number): unknown {
    const buf = this.buf;
    switch (kind) {
      case Kind.Double:
        return buf.readDoubleLE(this.need(8, end));
      case Kind.Float:
        return buf.readFloatLE(this.need(4, end));
      case Kind.Int32:
      case Kind.Enum:
        return this.varint32(end) | 0;
      case Kind.Uint32:
        return this.varint32(end);
      case Kind.Sint32: {
        const n = this.varint32(end);
        return (n >>> 1) ^ -(n & 1);
      }
      case Kind.Fixed32:
        return buf.readUInt32LE(this.need(4, end));
      case Kind.Sfixed32:
        return buf.readInt32LE(this.need(4, end));
      case Kind.Int64: {
        const lo = this.varint64(end);
        return signedText(lo, this.hi);
      }
      case Kind.Uint64: {
        const lo = this.varint64(end);
        return unsignedText(lo, this.hi);
      }
      case Kind.Sint64: {
        const lo = this.varint64(end);
        const hi = this.hi;
        // Zigzag: (n >>> 1) ^ -(n & 1), on the two halves.
        const mask = -(lo & 1);
        return signedText((((lo >>> 1) | (hi << 31)) ^ mask) >>> 0, ((hi >>> 1) ^ mask) >>> 0);
      }
      case Kind.Fixed64: {
        const at = this.need(8, end);
        return unsignedText(buf.readUInt32LE(at), buf.readUInt32LE(at + 4));
      }
      case Kind.Sfixed64: {
        const at = this.need(8, end);
        return signedText(buf.readUInt32LE(at), buf.readUInt32LE(at + 4));
      }
      case Kind.Bool:
        return (this.varint64(end) | this.hi) !== 0;
      case Kind.String: {
        const len = this.varint32(end);
        const at = this.need(len, end);
        return buf.utf8Slice(at, at + len);
      }
      case Kind.Bytes: {
        const len = this.varint32(end);
        const at = this.need(len, end);
        return buf.base64Slice(at, at + len);
      }
      default:
        throw new Error(`kind ${kind} is not a scalar`);
    }
  }

  message(plan: MessagePlan, end: number, depth: number): Record<string, unknown> {
    if (depth > 64) throw new Error(`${plan.name}: nested more than 64 deep`);
    const out: Record<string, unknown> = {};
    while (this.pos < end) {
      const tag = this.varint32(end);
      this.field(out, plan, tag >>> 3, tag & 7, end, depth);
    }
    return out;
  }

  /** One field of a `plan` message into `out`, the cursor after its tag (`tag >>> 3`, `tag & 7`). */
  field(out: Record<string, unknown>, plan: MessagePlan, id: number, wire: number, end: number, depth: number): void {
    if (id === 0) throw new Error(`${plan.name}: field number 0 at byte ${this.pos}`);
    const f = plan.fields[id];
    if (f === undefined) {
      this.skip(wire, end);
      return;
    }
    if (f.kind === Kind.Message) {
      if (wire !== 2) throw new Error(`${plan.name}.${f.name}: wire type ${wire}, expected 2`);
      set(out, f, this.message(f.message!, this.delimited(end), depth + 1));
      return;
    }
    if (wire === f.wire) {
      set(out, f, this.scalar(f.kind, end));
      return;
    }
    if (wire === 2 && f.repeated && f.wire !== 2) {
      // Packed: the values one after another.
      const stop = this.delimited(end);
      let list = out[f.name] as unknown[] | undefined;
      if (!list) list = [];
      while (this.pos < stop) list.push(this.scalar(f.kind, stop));
      if (list.length > 0) out[f.name] = list;
      return;
    }
    throw new Error(`${plan.name}.${f.name}: wire type ${wire}, expected ${f.wire}`);
  }
}

/** A field's value into its object: appended to a repeated field's list, else in place of an earlier one. */
function set(out: Record<string, unknown>, f: FieldPlan, value: unknown): void {
  if (!f.repeated) {
    out[f.name] = value;
    return;
  }
  const list = out[f.name] as unknown[] | undefined;
  if (list) list.push(value);
  else out[f.name] = [value];
}

/** Reads a whole protobuf message of `plan` into the plain object toObject would give. */
export function readProto(plan: MessagePlan, payload: Buffer): Record<string, unknown> {
  const c = new Cursor(payload);
  return c.message(plan, payload.length, 0);
}
