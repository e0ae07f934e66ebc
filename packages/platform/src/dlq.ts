import type { BusRecord, ConsumedRecord } from './bus/types.js';

/**
 * What `vigil.dlq` holds for a record that could not be processed (ARCHITECTURE.md): the
 * original bytes, the error, and where it came from. JSON, keyed by the source key.
 */
export interface DeadLetter {
  error: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The source record's timestamp, Unix milliseconds. */
  timestamp: number;
  /** The original value, base64. */
  value: string;
  /** Set when the record decoded but a channel could not deliver it. */
  channel?: string;
  /**
   * Set when a whole Kafka record batch could not be decompressed or decoded: the letter stands
   * for offsets `offset` to `lastOffset`, its value is the raw record batch (Kafka's v2 format)
   * and its key is null.
   */
  lastOffset?: string;
}

/** The dead-letter record for `record`, keyed by the source key. */
export function deadLetter(record: ConsumedRecord, error: string, channel?: string): BusRecord {
  return letterRecord({
    error,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    timestamp: record.timestamp,
    value: record.value.toString('base64'),
    ...(channel !== undefined ? { channel } : {}),
  });
}

/** The dead-letter record for a record batch that could not be decoded, `raw` being its bytes. */
export function deadLetterBatch(
  batch: { topic: string; partition: number; firstOffset: string; lastOffset: string; timestamp: number; raw: Buffer },
  error: string,
): BusRecord {
  return letterRecord({
    error,
    topic: batch.topic,
    partition: batch.partition,
    offset: batch.firstOffset,
    lastOffset: batch.lastOffset,
    key: null,
    timestamp: batch.timestamp,
    value: batch.raw.toString('base64'),
  });
}

function letterRecord(letter: DeadLetter): BusRecord {
  return {
    key: letter.key,
    value: Buffer.from(JSON.stringify(letter)),
    headers: { 'vigil.error': letter.error.slice(0, 200), 'vigil.source.topic': letter.topic },
  };
}
