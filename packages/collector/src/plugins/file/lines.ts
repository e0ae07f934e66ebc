import { decodeLine, utf8Boundary, type LineEncoding } from './text.js';

/**
 * Receives each complete line: its text, the file offset just past its newline (where reading
 * resumes after it), and whether it was cut at `maxLineBytes`.
 */
export type LineSink = (text: string, end: number, truncated: boolean) => void;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines across chunk boundaries. The chunk buffer may be reused by the
 * caller once `push` returns: only an unfinished tail is copied. A line longer than `maxLineBytes`
 * keeps its first `maxLineBytes` bytes (cut on a character boundary) and the rest, up to its
 * newline, is skipped, so memory stays bounded whatever the file holds. `\r\n` ends a line too.
 */
export class LineSplitter {
  /** File offset of the next byte to be pushed. */
  offset: number;
  private partial: Buffer[] = [];
  private partialLength = 0;
  private partialTruncated = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly encoding: LineEncoding,
    offset = 0,
  ) {
    this.offset = offset;
  }

  /** Bytes held of an unfinished line (0 when the last byte pushed was a newline). */
  get pending(): number {
    return this.partialLength + (this.partialTruncated ? 1 : 0);
  }

  /** Restarts at `offset` (a truncated file), dropping any unfinished line. */
  reset(offset: number): void {
    this.offset = offset;
    this.partial = [];
    this.partialLength = 0;
    this.partialTruncated = false;
  }

  push(chunk: Buffer, start: number, end: number, sink: LineSink): void {
    const base = this.offset - start;
    let pos = start;
    while (pos < end) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0 || nl >= end) {
        this.keep(chunk, pos, end);
        break;
      }
      if (this.partialLength === 0 && !this.partialTruncated) {
        let stop = nl > pos && chunk[nl - 1] === CR ? nl - 1 : nl;
        let truncated = false;
        if (stop - pos > this.maxLineBytes) {
          stop = pos + this.cut(chunk, pos, this.maxLineBytes);
          truncated = true;
        }
        sink(decodeLine(chunk, pos, stop, this.encoding), base + nl + 1, truncated);
      } else {
        this.keep(chunk, pos, nl);
        this.emitPartial(sink, base + nl + 1, true);
      }
      pos = nl + 1;
    }
    this.offset = base + end;
  }

  /** Emits an unfinished line as it is (a file that stopped growing without a final newline). */
  flush(sink: LineSink): boolean {
    if (this.partialLength === 0 && !this.partialTruncated) return false;
    this.emitPartial(sink, this.offset, false);
    return true;
  }

  private emitPartial(sink: LineSink, end: number, newline: boolean): void {
    const line = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial, this.partialLength);
    let stop = line.length;
    // A CR before the newline may have been the last byte of the previous chunk.
    if (newline && !this.partialTruncated && stop > 0 && line[stop - 1] === CR) stop--;
    let truncated = this.partialTruncated;
    if (stop > this.maxLineBytes) {
      stop = this.cut(line, 0, this.maxLineBytes);
      truncated = true;
    }
    this.partial = [];
    this.partialLength = 0;
    this.partialTruncated = false;
    sink(decodeLine(line, 0, stop, this.encoding), end, truncated);
  }

  /** Holds bytes of an unfinished line, at most `maxLineBytes + 1` of them (the +1 tells "too long" apart from "exactly full"). */
  private keep(chunk: Buffer, from: number, to: number): void {
    const room = this.maxLineBytes + 1 - this.partialLength;
    if (room <= 0) {
      if (to > from) this.partialTruncated = true;
      return;
    }
    const take = Math.min(room, to - from);
    if (take < to - from) this.partialTruncated = true;
    if (take > 0) {
      this.partial.push(Buffer.from(chunk.subarray(from, from + take)));
      this.partialLength += take;
    }
  }

  private cut(buf: Buffer, start: number, max: number): number {
    return this.encoding === 'utf8' ? utf8Boundary(buf, start, max) : max;
  }
}
