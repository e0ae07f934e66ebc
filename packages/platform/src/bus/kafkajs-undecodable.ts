import { createRequire } from 'node:module';

/**
 * A record batch kafkajs cannot decode (corrupt compressed bytes, a codec that fails or is
 * missing) becomes one marker record instead of an error, so the consumer goes on past it.
 *
 * Why here: kafkajs decodes record batches inside the fetch (fetch/v4/decodeMessages.js calls
 * recordBatch/v0/decoder.js for each batch of each partition of the response). A batch that
 * throws there fails the whole fetch: the consumer crashes, restarts, fetches the same offsets
 * and fails again, forever, and every partition that broker leads for the group stops with it.
 * Neither a codec nor the consumer can step around it: a codec sees only the compressed bytes
 * (not the record count kafkajs reads after it, nor the offsets), and the error that reaches
 * the consumer does not say which partition or offset failed.
 *
 * So the batch decoder itself is wrapped. On any error but kafkajs's "partial batch" (the cut-off
 * tail of a fetch, which it refetches), the wrapper reads the batch header (which the broker
 * checked, CRC included, when the batch was produced) and returns a batch holding one record:
 * at the batch's last offset, with the whole raw batch as its value and `UNDECODABLE` set on it.
 * kafkajs then treats it like any record: control and aborted transactional batches are
 * filtered as before, and KafkaBus (kafka.ts) sends the marker to the dead-letter topic and
 * commits past it. Records before and after it, and other partitions, are consumed as usual.
 *
 * The wrapper replaces the decoder module's export in Node's module cache before kafkajs loads
 * the fetch decoders (lazily, at the first fetch); kafka.ts imports this file first. A bundle
 * that inlines kafkajs (dist/vigil-collector.mjs, which only produces) is not guarded.
 */

export interface UndecodableBatch {
  /** What went wrong, with the codec: `lz4 batch: ContentChecksumError`. */
  error: string;
  /** The batch's codec: none, gzip, snappy, lz4, zstd, or `codec N` for an unknown one. */
  codec: string;
  firstOffset: string;
  lastOffset: string;
  /** Records the batch header declares. */
  records: number;
}

const UNDECODABLE = Symbol.for('vigil.kafka.undecodableBatch');
/** Marks the wrapped decoder; `Symbol.for`, so a second copy of this module (tests) sees it too. */
const GUARDED = Symbol.for('vigil.kafka.guardedBatchDecoder');

/** The marker's description, when `message` (a kafkajs message) stands for an undecodable batch. */
export function undecodableBatch(message: object): UndecodableBatch | undefined {
  return (message as { [UNDECODABLE]?: UndecodableBatch })[UNDECODABLE];
}

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Bytes of a v2 record batch header after its length field, up to the records. */
const HEADER_AFTER_LENGTH = 49;

/** kafkajs's protocol Decoder, as far as used here. */
interface FetchDecoder {
  buffer: Buffer;
  offset: number;
}
type BatchDecoder = ((decoder: FetchDecoder) => Promise<{ records: unknown[] }>) & { [GUARDED]?: true };

/** What the wrapper returns for the batch at `start` of `buffer`, or undefined when its header is not whole. */
export function undecodableMarker(buffer: Buffer, start: number, err: unknown): { end: number; batch: { records: unknown[] } } | undefined {
  if (start + 12 > buffer.length) return undefined;
  const length = buffer.readInt32BE(start + 8);
  const end = start + 12 + length;
  if (length < HEADER_AFTER_LENGTH || end > buffer.length) return undefined;
  const firstOffset = buffer.readBigInt64BE(start);
  const attributes = buffer.readInt16BE(start + 21);
  const lastOffsetDelta = buffer.readInt32BE(start + 23);
  const firstTimestamp = buffer.readBigInt64BE(start + 27).toString();
  const maxTimestamp = buffer.readBigInt64BE(start + 35).toString();
  const logAppendTime = (attributes & 0x08) !== 0;
  const context = {
    firstOffset: firstOffset.toString(),
    firstTimestamp,
    partitionLeaderEpoch: buffer.readInt32BE(start + 12),
    inTransaction: (attributes & 0x10) !== 0,
    isControlBatch: (attributes & 0x20) !== 0,
    lastOffsetDelta,
    producerId: buffer.readBigInt64BE(start + 43).toString(),
    producerEpoch: buffer.readInt16BE(start + 51),
    firstSequence: buffer.readInt32BE(start + 53),
    maxTimestamp,
    timestampType: logAppendTime ? 1 : 0,
  };
  const codec = CODECS[attributes & 0x07] ?? `codec ${attributes & 0x07}`;
  const lastOffset = (firstOffset + BigInt(Math.max(lastOffsetDelta, 0))).toString();
  const description: UndecodableBatch = {
    error: `${codec} batch: ${(err as Error)?.message || String(err)}`,
    codec,
    firstOffset: context.firstOffset,
    lastOffset,
    records: buffer.readInt32BE(start + 57),
  };
  const marker = {
    magicByte: buffer.readInt8(start + 16),
    attributes: 0,
    timestamp: logAppendTime ? maxTimestamp : firstTimestamp,
    offset: lastOffset,
    key: null,
    // A copy: the fetch response it came from is not kept alive by the dead letter.
    value: Buffer.from(buffer.subarray(start, end)),
    headers: {},
    isControlRecord: context.isControlBatch,
    batchContext: context,
    [UNDECODABLE]: description,
  };
  return { end, batch: { ...context, records: [marker] } };
}

function guard(decode: BatchDecoder): BatchDecoder {
  const guarded: BatchDecoder = async (decoder) => {
    const start = decoder.offset;
    try {
      return await decode(decoder);
    } catch (err) {
      if ((err as Error)?.name === 'KafkaJSPartialMessageError') throw err;
      const marked = undecodableMarker(decoder.buffer, start, err);
      if (!marked) throw err;
      decoder.offset = marked.end;
      return marked.batch;
    }
  };
  guarded[GUARDED] = true;
  return guarded;
}

const require = createRequire(import.meta.url);
const decoderPath = require.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const fetchPath = require.resolve('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js');
const decoder = require(decoderPath) as BatchDecoder;
if (!decoder[GUARDED]) {
  if (require.cache[fetchPath]) {
    throw new Error('kafkajs loaded its fetch decoders before the undecodable-batch guard: import @vigil/platform (bus/kafka.ts) before using kafkajs consumers');
  }
  require.cache[decoderPath]!.exports = guard(decoder);
}
