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
}

/** The dead-letter record for `record`, keyed by the source key. */
export function deadLetter(record: ConsumedRecord, error: string, channel?: string): BusRecord {
  const letter: DeadLetter = {
    error,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    timestamp: record.timestamp,
    value: record.value.toString('base64'),
    ...(channel !== undefined ? { channel } : {}),
  };
  return {
    key: record.key,
    value: Buffer.from(JSON.stringify(letter)),
    headers: { 'vigil.error': error.slice(0, 200), 'vigil.source.topic': record.topic },
  };
}
