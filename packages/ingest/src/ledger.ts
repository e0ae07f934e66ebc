/**
 * Deterministic batch boundaries for idempotent inserts.
 *
 * ClickHouse drops a repeated insert that carries the same `insert_deduplication_token`. A
 * replayed Kafka batch, though, can be longer than the first attempt (more records arrived
 * meanwhile), so a token made from the batch alone would not match. Before inserting, ingest
 * writes an intent (topic, partition, first and last offset) to `vigil_ingest_ledger`; a
 * replay that starts at an offset with an intent first re-inserts exactly that range under
 * the same token (a no-op if it was written), then the rest as a new range.
 */
export interface OffsetRange {
  first: bigint;
  last: bigint;
}

export function dedupToken(topic: string, partition: number, range: OffsetRange): string {
  return `vigil-ingest:${topic}:${partition}:${range.first}-${range.last}`;
}

/**
 * Splits a batch [first, last] given the intent recorded for `first` (if any): the ranges to
 * insert, in order. An intent longer than the batch (a smaller refetch) keeps the intent's token
 * for what the batch holds: if the first attempt was written, ClickHouse drops the repeat.
 */
export function planRanges(batch: OffsetRange, intent: OffsetRange | undefined): { range: OffsetRange; token: OffsetRange }[] {
  if (!intent || intent.first !== batch.first) return [{ range: batch, token: batch }];
  if (intent.last >= batch.last) return [{ range: batch, token: intent }];
  return [
    { range: { first: batch.first, last: intent.last }, token: intent },
    { range: { first: intent.last + 1n, last: batch.last }, token: { first: intent.last + 1n, last: batch.last } },
  ];
}
