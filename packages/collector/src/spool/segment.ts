import { crc32 } from 'node:zlib';

/**
 * The spool's record format. A segment file is a run of frames, each
 *
 *     u32 BE payload length | u32 BE CRC-32 of the payload | payload
 *
 * and a payload is
 *
 *     u8 version (1) | u16 topic length | topic | i32 key length (-1: no key) | key |
 *     u16 source length | source | u32 count | value
 *
 * Appends only ever add whole frames, so after a crash only the last frame can be torn: the
 * decoder stops there and says how many bytes were good, and the spool cuts the file there.
 */

export interface SpoolRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  /** Records or points in `value` (one OTLP export request), for the counters. */
  count: number;
  /** The plugin instance that made it, for the per-source counters. */
  source: string;
}

const VERSION = 1;
export const FRAME_HEADER_BYTES = 8;
/** A length beyond this is garbage, not a record (one export request is at most a few MiB). */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

export function encodeRecord(r: SpoolRecord): Buffer {
  const topic = Buffer.from(r.topic, 'utf8');
  const key = r.key === null ? null : Buffer.from(r.key, 'utf8');
  const source = Buffer.from(r.source, 'utf8');
  if (topic.length > 0xffff || source.length > 0xffff) throw new Error(`spool record: topic or source name longer than 65535 bytes`);
  const payloadLength = 1 + 2 + topic.length + 4 + (key?.length ?? 0) + 2 + source.length + 4 + r.value.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLength);
  let at = FRAME_HEADER_BYTES;
  at = frame.writeUInt8(VERSION, at);
  at = frame.writeUInt16BE(topic.length, at);
  at += topic.copy(frame, at);
  at = frame.writeInt32BE(key === null ? -1 : key.length, at);
  if (key) at += key.copy(frame, at);
  at = frame.writeUInt16BE(source.length, at);
  at += source.copy(frame, at);
  at = frame.writeUInt32BE(r.count >>> 0, at);
  r.value.copy(frame, at);
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  frame.writeUInt32BE(payloadLength, 0);
  frame.writeUInt32BE(crc32(payload) >>> 0, 4);
  return frame;
}

export interface DecodedFrame {
  record: SpoolRecord;
  /** Offset of the frame's first byte, relative to the buffer start. */
  start: number;
  /** Offset just after the frame. */
  end: number;
}

export interface DecodeResult {
  frames: DecodedFrame[];
  /** Bytes of whole, valid frames from the buffer start. */
  validBytes: number;
  /**
   * Why decoding stopped before the end of the buffer: `partial` (the next frame is not all
   * there; `need` says how many bytes it takes), `corrupt` (bad length, CRC or payload).
   */
  stop?: { reason: 'partial'; need: number } | { reason: 'corrupt'; detail: string };
}

/** Decodes whole frames from `buf`, at most `maxFrames`. Never throws on bad bytes. */
export function decodeFrames(buf: Buffer, maxFrames = Number.MAX_SAFE_INTEGER): DecodeResult {
  const frames: DecodedFrame[] = [];
  let at = 0;
  while (at < buf.length && frames.length < maxFrames) {
    if (buf.length - at < FRAME_HEADER_BYTES) return { frames, validBytes: at, stop: { reason: 'partial', need: FRAME_HEADER_BYTES } };
    const length = buf.readUInt32BE(at);
    if (length < 13 || length > MAX_PAYLOAD_BYTES) return { frames, validBytes: at, stop: { reason: 'corrupt', detail: `frame length ${length} at byte ${at}` } };
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > buf.length) return { frames, validBytes: at, stop: { reason: 'partial', need: FRAME_HEADER_BYTES + length } };
    const payload = buf.subarray(at + FRAME_HEADER_BYTES, end);
    if ((crc32(payload) >>> 0) !== buf.readUInt32BE(at + 4)) return { frames, validBytes: at, stop: { reason: 'corrupt', detail: `CRC mismatch at byte ${at}` } };
    const record = decodePayload(payload);
    if (!record) return { frames, validBytes: at, stop: { reason: 'corrupt', detail: `unreadable record at byte ${at}` } };
    frames.push({ record, start: at, end });
    at = end;
  }
  return { frames, validBytes: at };
}

function decodePayload(p: Buffer): SpoolRecord | undefined {
  try {
    let at = 0;
    if (p.readUInt8(at) !== VERSION) return undefined;
    at += 1;
    const topicLength = p.readUInt16BE(at);
    at += 2;
    const topic = p.toString('utf8', at, at + topicLength);
    at += topicLength;
    const keyLength = p.readInt32BE(at);
    at += 4;
    let key: string | null = null;
    if (keyLength >= 0) {
      key = p.toString('utf8', at, at + keyLength);
      at += keyLength;
    }
    const sourceLength = p.readUInt16BE(at);
    at += 2;
    const source = p.toString('utf8', at, at + sourceLength);
    at += sourceLength;
    const count = p.readUInt32BE(at);
    at += 4;
    if (at > p.length) return undefined;
    // A copy: the read buffer is reused and the value outlives it on its way to the bus.
    return { topic, key, source, count, value: Buffer.from(p.subarray(at)) };
  } catch {
    return undefined;
  }
}
