import { crc32 } from 'node:zlib';

/**
 * The record format of the local log (the all-in-one's durable bus). A segment file is a run of
 * frames, each
 *
 *     u32 BE body length | u32 BE CRC-32 of the body | body
 *
 * and a body is
 *
 *     u8 version (1) | u64 BE offset | i64 BE timestamp (Unix ms) | i32 BE key length (-1: none) | key |
 *     u16 BE header count | (u16 name length | name | u32 value length | value)* | value
 *
 * Appends only add whole frames and a partition has one writer, so after a crash only the tail of
 * the last segment can be torn: `decodeFrames` stops at the first frame that is incomplete or
 * fails its checksum, and says where.
 */

export interface LogRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

const VERSION = 1;
export const FRAME_HEADER_BYTES = 8;
/** A body longer than this is garbage, not a record. */
export const MAX_BODY_BYTES = 512 * 1024 * 1024;

export function encodeFrame(r: LogRecord): Buffer {
  const key = r.key === null ? null : Buffer.from(r.key, 'utf8');
  const headers = r.headers ? Object.entries(r.headers).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const) : [];
  let bodyLength = 1 + 8 + 8 + 4 + (key?.length ?? 0) + 2 + r.value.length;
  for (const [k, v] of headers) bodyLength += 2 + k.length + 4 + v.length;
  if (headers.length > 0xffff) throw new Error('local log: more than 65535 headers on one record');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  let at = FRAME_HEADER_BYTES;
  at = frame.writeUInt8(VERSION, at);
  at = frame.writeBigUInt64BE(BigInt(r.offset), at);
  at = frame.writeBigInt64BE(BigInt(Math.trunc(r.timestamp)), at);
  at = frame.writeInt32BE(key === null ? -1 : key.length, at);
  if (key) at += key.copy(frame, at);
  at = frame.writeUInt16BE(headers.length, at);
  for (const [k, v] of headers) {
    if (k.length > 0xffff) throw new Error('local log: a header name longer than 65535 bytes');
    at = frame.writeUInt16BE(k.length, at);
    at += k.copy(frame, at);
    at = frame.writeUInt32BE(v.length, at);
    at += v.copy(frame, at);
  }
  r.value.copy(frame, at);
  frame.writeUInt32BE(bodyLength, 0);
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES)) >>> 0, 4);
  return frame;
}

export interface DecodedFrames {
  records: LogRecord[];
  /** Byte offset (in the buffer) just after the last whole, valid frame. */
  end: number;
  /** Why decoding stopped before the end of the buffer: a frame cut short (more bytes may come) or a bad one. */
  stop?: { reason: 'partial' | 'corrupt'; at: number; detail: string; needs?: number };
}

/** Decodes whole frames from `buf`, at most `max` records. */
export function decodeFrames(buf: Buffer, max = Number.POSITIVE_INFINITY): DecodedFrames {
  const records: LogRecord[] = [];
  let at = 0;
  while (at < buf.length && records.length < max) {
    if (buf.length - at < FRAME_HEADER_BYTES) return { records, end: at, stop: { reason: 'partial', at, detail: 'frame header cut short', needs: FRAME_HEADER_BYTES } };
    const length = buf.readUInt32BE(at);
    if (length < 1 + 8 + 8 + 4 + 2 || length > MAX_BODY_BYTES) return { records, end: at, stop: { reason: 'corrupt', at, detail: `impossible frame length ${length}` } };
    if (buf.length - at - FRAME_HEADER_BYTES < length) return { records, end: at, stop: { reason: 'partial', at, detail: 'frame cut short', needs: FRAME_HEADER_BYTES + length } };
    const body = buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
    if ((crc32(body) >>> 0) !== buf.readUInt32BE(at + 4)) return { records, end: at, stop: { reason: 'corrupt', at, detail: 'checksum mismatch' } };
    try {
      records.push(decodeBody(body));
    } catch (err) {
      return { records, end: at, stop: { reason: 'corrupt', at, detail: (err as Error).message } };
    }
    at += FRAME_HEADER_BYTES + length;
  }
  return { records, end: at };
}

function decodeBody(body: Buffer): LogRecord {
  let at = 0;
  const version = body.readUInt8(at++);
  if (version !== VERSION) throw new Error(`unknown frame version ${version}`);
  const offset = Number(body.readBigUInt64BE(at));
  at += 8;
  const timestamp = Number(body.readBigInt64BE(at));
  at += 8;
  const keyLength = body.readInt32BE(at);
  at += 4;
  let key: string | null = null;
  if (keyLength >= 0) {
    key = body.toString('utf8', at, at + keyLength);
    at += keyLength;
  }
  const headerCount = body.readUInt16BE(at);
  at += 2;
  let headers: Record<string, string> | undefined;
  for (let i = 0; i < headerCount; i++) {
    const kl = body.readUInt16BE(at);
    at += 2;
    const k = body.toString('utf8', at, at + kl);
    at += kl;
    const vl = body.readUInt32BE(at);
    at += 4;
    (headers ??= {})[k] = body.toString('utf8', at, at + vl);
    at += vl;
  }
  if (at > body.length) throw new Error('frame body shorter than its fields');
  // A copy: the read buffer is reused and large.
  const value = Buffer.from(body.subarray(at));
  return headers ? { offset, timestamp, key, value, headers } : { offset, timestamp, key, value };
}
