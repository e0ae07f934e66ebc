import { createHash } from 'node:crypto';

/**
 * A file is known by a hash of its first bytes, not by its name: a renamed file keeps its
 * fingerprint, a new file at the same path gets another, and a copy is recognised as what it was
 * copied from. A file shorter than the configured size is fingerprinted by what it has; such a
 * fingerprint matches any file that starts with those bytes, and grows with the file.
 */
export interface Fingerprint {
  /** How many leading bytes were hashed. */
  length: number;
  /** SHA-1 of them, hex. */
  hash: string;
}

export function fingerprintOf(head: Buffer, bytes: number): Fingerprint {
  const length = Math.min(head.length, bytes);
  return { length, hash: createHash('sha1').update(head.subarray(0, length)).digest('hex') };
}

/** Whether a file whose first bytes are `head` is the file `known` was taken from (an empty fingerprint matches nothing). */
export function matches(known: Fingerprint, head: Buffer): boolean {
  if (known.length === 0 || head.length < known.length) return false;
  return createHash('sha1').update(head.subarray(0, known.length)).digest('hex') === known.hash;
}

/** What a file tracked under a path looks like now. */
export interface Observed {
  dev: number;
  ino: number;
  size: number;
}

export interface Tracked {
  dev: number;
  ino: number;
  /** Bytes read so far. */
  offset: number;
  fingerprint: Fingerprint;
}

/**
 * What happened to a tracked file, from a fresh stat of its path and its first bytes.
 * - `same`: it grew, or did not change.
 * - `truncated`: same file (inode) but shorter than what was read, or its first bytes changed
 *   (copy-truncate, then written past the old offset before we looked): read again from 0.
 * - `replaced`: another file is at the path now (rename or delete, then create): the tracked one
 *   is drained through its open descriptor and the new one is read from its beginning.
 */
export type Change = 'same' | 'truncated' | 'replaced';

export function changeAt(tracked: Tracked, now: Observed, head: Buffer | undefined): Change {
  if (now.dev !== tracked.dev || now.ino !== tracked.ino) return 'replaced';
  if (now.size < tracked.offset) return 'truncated';
  if (head && tracked.fingerprint.length > 0 && !matches(tracked.fingerprint, head)) return 'truncated';
  return 'same';
}

/** A file not yet seen in this run: where to start reading it. */
export interface Known {
  fingerprint: Fingerprint;
  offset: number;
  dev: number;
  ino: number;
}

/**
 * Where to start a newly found file: at the offset of a known file it is (resumed after a
 * restart, or a rotated copy), else at 0, or at its end when `startAtEnd` (files present at the
 * first scan, with `startAt: end`). A match on the same dev/inode is preferred when several fit
 * (short fingerprints can match more than one).
 */
export function startOffset(head: Buffer, now: Observed, known: Iterable<Known>, startAtEnd: boolean): { offset: number; resumed?: Known } {
  let best: Known | undefined;
  let bestScore = -1;
  for (const k of known) {
    if (!matches(k.fingerprint, head)) continue;
    const score = (k.dev === now.dev && k.ino === now.ino ? 1e9 : 0) + k.fingerprint.length;
    if (score > bestScore) {
      best = k;
      bestScore = score;
    }
  }
  // Shorter than where we were: truncated while we were not looking; all of it is new.
  if (best) return { offset: best.offset <= now.size ? best.offset : 0, resumed: best };
  return { offset: startAtEnd ? now.size : 0 };
}
