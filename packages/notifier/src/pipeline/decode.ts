import { decodeAlert, transitionKey, type AlertTransition, type BusRecord, type ConsumedRecord } from '@vigil/platform';

/** Stage "decode": a `vigil.alerts` record becomes a transition with its delivery key, or a dead letter. */

export type Arrival =
  | { ok: true; record: ConsumedRecord; alert: AlertTransition; key: string }
  | { ok: false; record: ConsumedRecord; error: string };

export function decodeRecord(record: ConsumedRecord): Arrival {
  try {
    const alert = decodeAlert(record.value);
    return { ok: true, record, alert, key: transitionKey(alert) };
  } catch (err) {
    return { ok: false, record, error: `${record.topic}[${record.partition}]@${record.offset}: ${(err as Error).message}` };
  }
}

/** What `vigil.dlq` holds for a record that could not be processed: the original bytes, the error and where it came from. */
export interface DeadLetter {
  error: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
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
    value: record.value.toString('base64'),
    ...(channel !== undefined ? { channel } : {}),
  };
  return { key: record.key, value: Buffer.from(JSON.stringify(letter)) };
}
