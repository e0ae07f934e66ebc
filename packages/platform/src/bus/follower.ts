import type { BatchHandler, ConsumedRecord, Follower } from './types.js';
import { runBatch } from './batch.js';
import { backoffDelay, sleep } from '../backoff.js';
import { logger } from '../log.js';

const log = logger('bus.follow');

/** What an in-process bus gives a follower: its partitions, read from an offset, and a way to wait for more. */
export interface FollowSource {
  topic: string;
  /** Next offset to read, per partition (the start: earliest or end). */
  next: number[];
  /** Records of partition `p` from offset `from` (clamped to what is held), and the offset after them. */
  read(p: number, from: number): Promise<{ records: ConsumedRecord[]; next: number }>;
  /** The offset after the last readable record of each partition, now. */
  ends(): number[];
  /** Resolves when something may have been appended (or the follower stops). */
  idle(): Promise<void>;
  /** Wakes `idle` (called at stop). */
  wake(): void;
  handler: BatchHandler;
}

/**
 * The loop of a follower on an in-process bus (memory, local log): every partition in turn, the
 * handler retried with backoff on the same records until it succeeds, `caughtUp` once the ends
 * seen at its call are handled.
 */
export function runFollower(src: FollowSource): Follower & { positions(): number[] } {
  const abort = new AbortController();
  let progressed: (() => void)[] = [];
  const loop = (async () => {
    let failures = 0;
    while (!abort.signal.aborted) {
      let moved = false;
      const ends = src.ends();
      for (let p = 0; p < src.next.length && !abort.signal.aborted; p++) {
        if (src.next[p]! >= ends[p]!) continue;
        try {
          const read = await src.read(p, src.next[p]!);
          if (read.records.length > 0) await runBatch(src.handler, { topic: src.topic, partition: p, records: read.records });
          if (read.next !== src.next[p]) moved = true;
          src.next[p] = read.next;
          failures = 0;
        } catch (err) {
          log.warn({ topic: src.topic, partition: p, err: (err as Error).message }, 'follower: reading or handling failed; retrying the same records');
          await sleep(backoffDelay(failures++), abort.signal);
          moved = true;
        }
      }
      if (moved) {
        for (const f of progressed.splice(0)) f();
        continue;
      }
      if (!abort.signal.aborted) await src.idle();
    }
  })();
  return {
    positions: () => [...src.next],
    caughtUp: async () => {
      const ends = src.ends();
      const behind = () => ends.some((end, p) => src.next[p]! < end);
      while (behind() && !abort.signal.aborted) await new Promise<void>((resolve) => progressed.push(resolve));
      return !behind();
    },
    stop: async () => {
      abort.abort();
      src.wake();
      await loop;
      for (const f of progressed.splice(0)) f();
    },
  };
}
