/**
 * Deterministic batch boundaries for idempotent inserts.
 *
 * ClickHouse drops a repeated insert that carries the same `insert_deduplication_token`. A
 * replayed Kafka batch, though, need not have the boundaries of the first attempt (more records
 * arrived meanwhile; a new group reads everything at once), so a token made from the batch alone
 * would not match. Before inserting, ingest writes an intent (topic, partition, first and last
 * offset) to `vigil_ingest_ledger`. A batch is cut along the intents recorded inside it: each
 * recorded range is inserted again under its own token (a no-op if it was written), and only the
 * offsets no intent covers form new ranges.
 */
export interface OffsetRange {
  first: bigint;
  last: bigint;
}

export interface PlannedRange {
  /** Offsets of this batch to insert now. */
  range: OffsetRange;
  /** The range the token is made from (and the intent recorded before inserting). */
  token: OffsetRange;
}

/**
 * The token of a range: its topic, partition and offsets, and the timestamp of its first record,
 * so that the same offsets in a later incarnation of a topic (recreated, or a local bus log that
 * was lost) are never taken for a replay.
 */
export function dedupToken(topic: string, partition: number, range: OffsetRange, firstTimestamp: number): string {
  return `vigil-ingest:${topic}:${partition}:${range.first}-${range.last}@${firstTimestamp}`;
}

/**
 * Cuts the batch along recorded intents (those starting inside it). An intent that reaches past
 * the batch (a smaller refetch) keeps its token for the part the batch holds: if the first
 * attempt was written, ClickHouse drops the repeat.
 */
export function planRanges(batch: OffsetRange, intents: OffsetRange[]): PlannedRange[] {
  const starts = new Map<bigint, bigint>();
  for (const i of intents) {
    if (i.first < batch.first || i.first > batch.last || i.last < i.first) continue;
    starts.set(i.first, (starts.get(i.first) ?? i.last) > i.last ? starts.get(i.first)! : i.last);
  }
  const sortedStarts = [...starts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: PlannedRange[] = [];
  let cur = batch.first;
  while (cur <= batch.last) {
    const recorded = starts.get(cur);
    if (recorded !== undefined) {
      const last = recorded < batch.last ? recorded : batch.last;
      out.push({ range: { first: cur, last }, token: { first: cur, last: recorded } });
      cur = recorded + 1n;
      continue;
    }
    const next = sortedStarts.find((s) => s > cur);
    const last = next !== undefined && next - 1n < batch.last ? next - 1n : batch.last;
    out.push({ range: { first: cur, last }, token: { first: cur, last } });
    cur = last + 1n;
  }
  return out;
}
