import { createRequire } from 'node:module';
import kafkajs, { type CompressionTypes as CompressionType } from 'kafkajs';
import { decompress as zstdDecompress } from 'fzstd';
import type { VigilConfig } from '../config/schema.js';

/**
 * The compression codecs Kafka has (gzip, snappy, lz4, zstd), registered with kafkajs, which
 * decodes only gzip itself and throws "… compression not implemented" for the others.
 *
 * What producers write, and what is decoded here (each checked against kcat/librdkafka, the
 * broker's own recompression and kafkajs in platform/test/kafka-codecs.test.ts):
 * - snappy: raw snappy blocks (librdkafka, sarama and franz-go, so the OpenTelemetry Collector)
 *   or xerial's framing of them (Java clients, and the broker when a topic sets
 *   compression.type=snappy). Both are read; Vigil writes raw blocks, which the Java clients read too.
 * - lz4: the LZ4 frame format (every producer since Kafka 0.10; the broken header checksum of
 *   0.8-era message sets is not in record batches).
 * - zstd: standard frames, often streamed without a content size (Java, librdkafka).
 *
 * Packages: `snappy` and `lz4-napi` (napi-rs; prebuilt binaries come as npm packages, so no
 * compiler), `fzstd` (pure JavaScript; decodes streamed frames of unknown size, where the WASM
 * decoders guess an output size and fail on well-compressed batches) and `@bokuweb/zstd-wasm`
 * (WASM, for compressing only). Those three are loaded on first use through `require`, so a
 * process that never meets a codec never loads it, and a bundle leaves them in node_modules.
 * A codec that fails to load or to decode makes the batch undecodable: see kafkajs-undecodable.ts.
 */

/** `kafka.compression`: what Vigil's producers compress with. */
export type Compression = VigilConfig['kafka']['compression'];

/** kafkajs's codec contract: `compress` gets its encoder (the records' bytes in `buffer`). */
interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

// kafkajs's index builds these from members, which Node's named-export detection does not see.
const { CompressionCodecs, CompressionTypes } = kafkajs;
const require = createRequire(import.meta.url);

/** Loads a codec's package once, on first use; says which package when it cannot be loaded here. */
function lazy<T>(pkg: string, load: () => T): () => T {
  let loaded: T | undefined;
  return () => {
    try {
      return (loaded ??= load());
    } catch (err) {
      throw new Error(`the ${pkg} package cannot be loaded on this machine (${(err as Error).message})`);
    }
  };
}

const snappyLib = lazy('snappy', () => require('snappy') as typeof import('snappy'));
const lz4Lib = lazy('lz4-napi', () => require('lz4-napi') as typeof import('lz4-napi'));
type ZstdWasm = typeof import('@bokuweb/zstd-wasm');
const zstdWasm = lazy('@bokuweb/zstd-wasm', () => require('@bokuweb/zstd-wasm') as ZstdWasm);
let zstdReady: Promise<ZstdWasm> | undefined;
/** The WASM zstd compressor, instantiated once (it reads its .wasm file beside it). */
const zstdCompressor = () => (zstdReady ??= (async () => {
  const lib = zstdWasm();
  await lib.init();
  return lib;
})());

/** xerial snappy-java's stream header: magic, then version and oldest compatible version (int32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

/** The raw snappy blocks inside `buffer`: the buffer itself, or the chunks of xerial's framing. */
export function snappyBlocks(buffer: Buffer): Buffer[] {
  if (buffer.length < XERIAL_HEADER || !buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return [buffer];
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER; at < buffer.length; ) {
    if (at + 4 > buffer.length) throw new Error(`snappy: xerial chunk length at byte ${at} is cut off (${buffer.length} bytes)`);
    const size = buffer.readInt32BE(at);
    at += 4;
    if (size < 0 || at + size > buffer.length) throw new Error(`snappy: xerial chunk of ${size} bytes at byte ${at} runs past the end (${buffer.length} bytes)`);
    blocks.push(buffer.subarray(at, at + size));
    at += size;
  }
  return blocks;
}

const snappy: Codec = {
  compress: async ({ buffer }) => snappyLib().compress(buffer),
  async decompress(buffer) {
    const blocks = await Promise.all(snappyBlocks(buffer).map((b) => snappyLib().uncompress(b, { asBuffer: true }) as Promise<Buffer>));
    return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
  },
};

const lz4: Codec = {
  // Independent blocks without checksums, as Kafka's Java producer writes them (and reads them: the broker checks each batch).
  compress: async ({ buffer }) => lz4Lib().compressFrame(buffer),
  decompress: async (buffer) => lz4Lib().decompressFrame(buffer),
};

/** Kafka's default compression.zstd.level. */
const ZSTD_LEVEL = 3;

const zstd: Codec = {
  async compress({ buffer }) {
    const out = (await zstdCompressor()).compress(buffer, ZSTD_LEVEL);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  },
  async decompress(buffer) {
    const out = zstdDecompress(buffer);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  },
};

// kafkajs looks a codec up for every compressed batch: a factory that returns the same object.
CompressionCodecs[CompressionTypes.Snappy] = () => snappy;
CompressionCodecs[CompressionTypes.LZ4] = () => lz4;
CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;

/** kafkajs's code for each `kafka.compression` name. */
const TYPES: Record<Compression, CompressionType> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export const compressionType = (compression: Compression): CompressionType => TYPES[compression];
