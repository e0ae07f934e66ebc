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
  /** Tells this writer from earlier ones (a column's writer remembers what it wrote last, and where). */
  readonly id = ++writers;

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

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
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

/** Rows (in the layout's column order) as RowBinaryWithNamesAndTypes: the header, then each row. */
export function encodeRowBinary(layout: RowBinaryLayout, rows: readonly Row[]): Buffer {
  const w = new BinaryWriter(Math.max(1 << 12, rows.length * 256));
  w.varint(layout.columns.length);
  for (const c of layout.columns) w.string(c);
  for (const t of layout.types) w.string(t);
  const { writers } = layout;
  let i = 0;
  try {
    for (const row of rows) for (i = 0; i < writers.length; i++) writers[i]!(w, row[i]);
  } catch (err) {
    // Refused like a row the engine cannot read: the batch is halved until it stands alone.
    throw new Error(`cannot write ${layout.columns[i]} (${layout.types[i]}) of a row: ${(err as Error).message}`);
  }
  return w.bytes();
}
