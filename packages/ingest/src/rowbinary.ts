import type { Row } from './rows.js';

/**
 * Rows in ClickHouse's RowBinaryWithNamesAndTypes: the engine reads them without parsing text
 * (`pnpm bench:ingest`: half the engine's CPU per point of JSONCompactEachRow with the same rows
 * and views). Each column is written by a writer compiled from the column's type as the engine
 * reports it (`system.columns`), and the header names those same types, so the engine takes the
 * bytes as they are and refuses a mismatch instead of misreading it. Values are the rows ingest
 * builds for JSON (`rows.ts`), read the way the JSON parser reads them: a missing value is the
 * type's default, and a non-finite double is 0 (JSON writes it as null).
 */

type Write = (w: BinaryWriter, v: unknown) => void;

let writers = 0;

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;
  private ident = ++writers;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  string(s: string): void {
    const len = s.length;
    // ASCII of up to 127 characters (names, keys, most values): byte by byte, one length byte. A
    // native write per string cost more than the copy.
    if (len <= 127) {
      this.room(1 + len);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      while (i < len) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i++] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = at + len;
        return;
      }
    }
    // Up to 42 UTF-16 units are at most 126 UTF-8 bytes: one length byte, written after the text.
    if (len <= 42) {
      this.room(1 + len * 3);
      const n = this.buf.write(s, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  u8(n: number): void {
    this.room(1);
    this.buf[this.pos++] = n & 0xff;
  }

  u32(n: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(n >>> 0, this.pos);
  }

  i32(n: number): void {
    this.room(4);
    this.pos = this.buf.writeInt32LE(n | 0, this.pos);
  }

  /** A whole number of at most 2^53 (counts), as 64 bits. */
  u64(n: number): void {
    this.room(8);
    this.pos = this.buf.writeUInt32LE(n % 0x1_0000_0000, this.pos);
    this.pos = this.buf.writeUInt32LE(Math.floor(n / 0x1_0000_0000), this.pos);
  }

  i64(n: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigInt64LE(n, this.pos);
  }

  /**
   * A count of up to 19 decimal digits (a time in nanoseconds as rows carry it) as a signed 64-bit
   * number, without a BigInt: six digits at a time into two 32-bit halves. False, and nothing
   * written, for anything else.
   */
  i64Digits(s: string): boolean {
    const n = s.length;
    if (n === 0 || n > 19) return false;
    let lo = 0;
    let hi = 0;
    let i = 0;
    while (i < n) {
      const stop = Math.min(n, i + 6);
      let chunk = 0;
      let scale = 1;
      for (; i < stop; i++) {
        const c = s.charCodeAt(i) - 48;
        if (c < 0 || c > 9) return false;
        chunk = chunk * 10 + c;
        scale *= 10;
      }
      // (hi, lo) · scale + chunk, scale at most 10⁶: every product stays below 2⁵³.
      const t = lo * scale + chunk;
      lo = t % 0x1_0000_0000;
      hi = (hi * scale + Math.floor(t / 0x1_0000_0000)) % 0x1_0000_0000;
    }
    if (hi >= 0x8000_0000) return false; // past Int64
    this.room(8);
    this.buf.writeUInt32LE(lo, this.pos);
    this.buf.writeUInt32LE(hi, this.pos + 4);
    this.pos += 8;
    return true;
  }

  f64(n: number): void {
    this.room(8);
    this.pos = this.buf.writeDoubleLE(n, this.pos);
  }

  /**
   * Tells this writer from earlier ones, and from itself before a `truncate` (a column's writer
   * remembers what it wrote last, and where).
   */
  get id(): number {
    return this.ident;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** What was written, in a buffer of its own size (the writer's room is up to twice as large). */
  compact(): Buffer {
    if (this.buf.length - this.pos < this.pos / 4) return this.bytes();
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** Forgets what was written from `pos` on; what remembered a place past it no longer counts. */
  truncate(pos: number): void {
    if (pos < 0 || pos > this.pos) throw new RangeError(`cannot truncate to ${pos} of ${this.pos} bytes`);
    this.pos = pos;
    this.ident = ++writers;
  }

  /** Where the next byte goes. */
  get offset(): number {
    return this.pos;
  }

  /** Writes again the bytes written at [start, end). */
  repeat(start: number, end: number): void {
    const n = end - start;
    this.room(n);
    this.buf.copyWithin(this.pos, start, end);
    this.pos += n;
  }
}

/** Splits `A, B` at its top-level comma. */
function splitPair(inner: string): [string, string] | undefined {
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) return [inner.slice(0, i).trim(), inner.slice(i + 1).trim()];
  }
  return undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : typeof v === 'boolean' ? Number(v) : 0);

/** A nanosecond (or millisecond, for DateTime64(3)) count as JSON carries it: a decimal string or a number. */
function ticks(v: unknown): bigint {
  if (typeof v === 'string') return v === '' ? 0n : BigInt(v);
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  if (typeof v === 'bigint') return v;
  return 0n;
}

/** The writer of a column type, or undefined for a type this encoder does not write (the table stays on JSON). */
export function writerFor(type: string): Write | undefined {
  const t = type.trim();
  const inner = (name: string) => (t.startsWith(`${name}(`) && t.endsWith(')') ? t.slice(name.length + 1, -1) : undefined);
  const lc = inner('LowCardinality');
  if (lc !== undefined) return writerFor(lc);
  switch (t) {
    case 'String':
      return (w, v) => w.string(text(v));
    case 'UInt8':
      return (w, v) => w.u8(num(v));
    case 'Bool':
      return (w, v) => w.u8(v === true || v === 1 || v === 'true' ? 1 : 0);
    case 'UInt32':
      return (w, v) => w.u32(num(v));
    case 'Int32':
      return (w, v) => w.i32(num(v));
    case 'UInt64':
      return (w, v) => {
        const n = num(v);
        w.u64(Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0);
      };
    case 'Float64':
      return (w, v) => {
        const n = num(v);
        w.f64(Number.isFinite(n) ? n : 0);
      };
  }
  if (/^DateTime64\([0-9](,.*)?\)$/.test(t)) return (w, v) => (typeof v === 'string' && w.i64Digits(v)) || w.i64(ticks(v));
  const array = inner('Array');
  if (array !== undefined) {
    const each = writerFor(array);
    if (!each) return undefined;
    return (w, v) => {
      const list = Array.isArray(v) ? v : [];
      w.varint(list.length);
      for (const x of list) each(w, x);
    };
  }
  const map = inner('Map');
  if (map !== undefined) {
    const pair = splitPair(map);
    const key = pair && writerFor(pair[0]);
    const value = pair && writerFor(pair[1]);
    if (!key || !value) return undefined;
    // The same map object in consecutive rows (a resource's or scope's attributes, shared by every
    // point under it) is written once and its bytes copied after.
    let lastWriter = 0;
    let lastMap: object | undefined;
    let lastStart = 0;
    let lastEnd = 0;
    return (w, v) => {
      if (v === null || typeof v !== 'object') return w.varint(0);
      if (v === lastMap && w.id === lastWriter) return w.repeat(lastStart, lastEnd);
      const start = w.offset;
      const entries = Object.entries(v as Record<string, unknown>);
      w.varint(entries.length);
      for (const [k, x] of entries) {
        key(w, k);
        value(w, x);
      }
      lastWriter = w.id;
      lastMap = v;
      lastStart = start;
      lastEnd = w.offset;
    };
  }
  return undefined;
}

export interface RowBinaryLayout {
  columns: readonly string[];
  types: readonly string[];
  writers: readonly Write[];
}

/** The layout of a table's columns (in row order) from their engine types; undefined when one is not writable. */
export function rowBinaryLayout(columns: readonly string[], typeOf: ReadonlyMap<string, string>): RowBinaryLayout | undefined {
  const types: string[] = [];
  const writers: Write[] = [];
  for (const c of columns) {
    const type = typeOf.get(c);
    const write = type === undefined ? undefined : writerFor(type);
    if (!type || !write) return undefined;
    types.push(type);
    writers.push(write);
  }
  return { columns, types, writers };
}

/**
 * Rows (in the layout's column order) encoded one at a time as RowBinaryWithNamesAndTypes, and
 * where each ends: a batch is held as its bytes (a fifth or less of the rows as objects), and any
 * run of its rows can be inserted on its own (a refused batch is halved, see isolate.ts).
 */
export class RowBinaryRows {
  private readonly w: BinaryWriter;
  private readonly headerEnd: number;
  private ends = new Uint32Array(256);
  private count = 0;

  constructor(
    private readonly layout: RowBinaryLayout,
    sizeHint = 1 << 16,
  ) {
    this.w = new BinaryWriter(Math.max(1 << 12, sizeHint));
    this.w.varint(layout.columns.length);
    for (const c of layout.columns) this.w.string(c);
    for (const t of layout.types) this.w.string(t);
    this.headerEnd = this.w.offset;
  }

  get length(): number {
    return this.count;
  }

  /** Appends a row; a value that cannot be written throws, and the row is left out whole. */
  add(row: Row): void {
    const { writers } = this.layout;
    const w = this.w;
    const start = w.offset;
    let i = 0;
    try {
      for (i = 0; i < writers.length; i++) writers[i]!(w, row[i]);
    } catch (err) {
      w.truncate(start);
      // Refused like a row the engine cannot read: it goes to the dead-letter topic with its record.
      throw new Error(`cannot write ${this.layout.columns[i]} (${this.layout.types[i]}) of a row: ${(err as Error).message}`);
    }
    if (this.count === this.ends.length) {
      const more = new Uint32Array(this.ends.length * 2);
      more.set(this.ends);
      this.ends = more;
    }
    this.ends[this.count++] = w.offset;
  }

  /** The rows so far, in buffers of their own size; this builder is not used after. */
  done(): EncodedRows {
    return new EncodedRows(this.layout.columns, this.w.compact(), this.headerEnd, this.ends.slice(0, this.count), 0, this.count);
  }
}

/** Encoded rows (see `RowBinaryRows`), or a run of them: what `insertRows` sends as it is. */
export class EncodedRows {
  constructor(
    /** The columns the header names, in row order. */
    readonly columns: readonly string[],
    private readonly all: Buffer,
    private readonly headerEnd: number,
    private readonly ends: Uint32Array,
    private readonly from: number,
    private readonly to: number,
  ) {}

  get length(): number {
    return this.to - this.from;
  }

  /** Rows [start, end) of these, as `Array.prototype.slice` counts them. */
  slice(start = 0, end = this.length): EncodedRows {
    const clamp = (n: number) => Math.max(0, Math.min(this.length, n < 0 ? this.length + n : n));
    const a = clamp(start);
    return new EncodedRows(this.columns, this.all, this.headerEnd, this.ends, this.from + a, this.from + Math.max(a, clamp(end)));
  }

  /** RowBinaryWithNamesAndTypes: the header, then these rows. */
  bytes(): Buffer {
    const at = (i: number) => (i === 0 ? this.headerEnd : this.ends[i - 1]!);
    if (this.from === 0) return this.all.subarray(0, at(this.to));
    return Buffer.concat([this.all.subarray(0, this.headerEnd), this.all.subarray(at(this.from), at(this.to))]);
  }
}

/** Rows (in the layout's column order) as RowBinaryWithNamesAndTypes: the header, then each row. */
export function encodeRowBinary(layout: RowBinaryLayout, rows: readonly Row[]): Buffer {
  const out = new RowBinaryRows(layout, rows.length * 256);
  for (const row of rows) out.add(row);
  return out.done().bytes();
}
