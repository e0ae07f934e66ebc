/**
 * What the spool keeps when it is full: the newest records. Pure, so the policy is tested
 * without files.
 */

export interface SegmentInfo {
  id: number;
  /** Size of the file. */
  bytes: number;
  /** Frames in the file, and the records (points, log records) they carry. */
  entries: number;
  items: number;
}

export interface DropPlan {
  /** How many of the oldest segments to delete. */
  segments: number;
  /** The incoming batch alone is larger than the whole spool: it is dropped instead. */
  incoming: boolean;
}

/**
 * Oldest segments go first, whole, until `incoming` bytes fit under `maxBytes`. The last segment
 * (the one being written) is never dropped: the spool rolls to a fresh one before a write that
 * would not fit, so the segments before it are enough.
 */
export function planDrops(segments: readonly SegmentInfo[], incomingBytes: number, maxBytes: number): DropPlan {
  let total = 0;
  for (const s of segments) total += s.bytes;
  let drop = 0;
  while (total + incomingBytes > maxBytes && drop < segments.length - 1) {
    total -= segments[drop]!.bytes;
    drop++;
  }
  return { segments: drop, incoming: total + incomingBytes > maxBytes };
}

/** Segment size for a spool cap: an eighth of it (what one drop loses at most), within 1 KiB..16 MiB. */
export function segmentBytesFor(maxBytes: number): number {
  return Math.max(1024, Math.min(16 * 1024 * 1024, Math.floor(maxBytes / 8)));
}

/** Segment file names sort in write order. */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(12, '0')}.seg`;
}

export function segmentIdOf(fileName: string): number | undefined {
  const m = /^(\d{12})\.seg$/.exec(fileName);
  return m ? Number(m[1]) : undefined;
}
