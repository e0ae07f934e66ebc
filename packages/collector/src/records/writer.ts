/**
 * A protobuf writer into one growing Buffer, for the collector's hot path: canonical (shortest)
 * varints everywhere, so what it writes is byte for byte what the OpenTelemetry SDK's serializer
 * writes for the same message.
 */

const TWO_32 = 4294967296;

/** Bytes of the varint of a non-negative integer (up to 2^53). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 0x800000000) return 5;
  if (v < 0x40000000000) return 6;
  if (v < 0x2000000000000) return 7;
  return 8;
}

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `n` more bytes (positions already handed out stay valid). */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A non-negative integer below 2^32. */
  varint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v > 127) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** Any integer in int64 range; negatives as two's complement (10 bytes), as protobuf's int64. */
  varint(value: number): void {
    if (value >= 0 && value < TWO_32) return this.varint32(value);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / TWO_32) >>> 0;
    } else {
      const abs = -value;
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / TWO_32) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const buf = this.buf;
    while (high > 0 || low > 127) {
      buf[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 127;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = low & 255;
    buf[p++] = (low >>> 8) & 255;
    buf[p++] = (low >>> 16) & 255;
    buf[p++] = low >>> 24;
    buf[p++] = high & 255;
    buf[p++] = (high >>> 8) & 255;
    buf[p++] = (high >>> 16) & 255;
    buf[p++] = high >>> 24;
    this.pos = p;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Copies bytes already written at [from, to) to the end (a repeated sub-message). */
  again(from: number, to: number): void {
    this.ensure(to - from);
    // copyWithin: Buffer#copy's argument handling costs more than these few bytes.
    this.buf.copyWithin(this.pos, from, to);
    this.pos += to - from;
  }

  bytes(bytes: Uint8Array): void {
    this.varint32(bytes.length);
    this.raw(bytes);
  }

  /** A length-delimited UTF-8 string. Lone surrogates become U+FFFD, as with TextEncoder. */
  string(s: string): void {
    const n = s.length;
    // The length is guessed from the UTF-16 length (exact for ASCII); fixed up when the guess was short.
    const guess = varintSize(n);
    this.ensure(guess + 2 + n * 3);
    const at = this.pos + guess;
    const written = this.buf.utf8Write(s, at);
    const size = varintSize(written);
    if (size !== guess) this.buf.copyWithin(this.pos + size, at, at + written);
    this.varint32(written);
    this.pos += written;
  }

  /**
   * Starts a length-delimited message whose size is not known yet: reserves the bytes of the
   * varint of `expected` and returns where it starts, for `end`.
   */
  begin(expected: number): number {
    const start = this.pos;
    const reserved = varintSize(expected);
    this.ensure(reserved);
    this.pos += reserved;
    // The reservation's size is kept in the buffer itself, so `end` needs no second number.
    this.buf[start] = reserved;
    return start;
  }

  /**
   * Writes the length of the message begun at `start`, moving its content when the reservation
   * was wrong; returns by how many bytes it moved.
   */
  end(start: number): number {
    const reserved = this.buf[start]!;
    const contentAt = start + reserved;
    const length = this.pos - contentAt;
    const size = varintSize(length);
    if (size !== reserved) {
      this.ensure(size - reserved);
      this.buf.copyWithin(start + size, contentAt, this.pos);
      this.pos += size - reserved;
    }
    const buf = this.buf;
    let p = start;
    let v = length;
    while (v > 127) {
      buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[p] = v;
    return size - reserved;
  }
}

declare global {
  interface Buffer {
    /** Node's own UTF-8 write (what `buf.write(s, offset, 'utf8')` calls), without its argument parsing. */
    utf8Write(s: string, offset: number, length?: number): number;
  }
}
