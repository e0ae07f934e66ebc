/**
 * Group commit for the notifier's inserts: rows added while an insert is in flight, or within
 * `gapMs` of the last one's start, go in the next insert together. Each `add` resolves when the
 * insert holding its rows succeeded and rejects with that insert's error (the caller retries).
 *
 * Why: on the embedded engine every insert costs about the same (a part written, ~15-20 ms)
 * whatever its size, and inserts run one at a time. One insert per alert and per delivery saturates
 * the engine at a few dozen alerts a second and queues everything behind it; a few inserts a second
 * carry any rate.
 */
export class GroupCommit<T> {
  private queued: { rows: T[]; done: (err?: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly insert: (rows: T[]) => Promise<void>,
    private readonly gapMs = 0,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(rows: T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ rows, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.writeSoon();
    });
  }

  /** Rows waiting for an insert, or in the one in flight. */
  get busy(): boolean {
    return this.writing !== undefined || this.queued.length > 0;
  }

  private writeSoon(): void {
    if (this.writing) return;
    this.writing = this.writeQueued().finally(() => {
      this.writing = undefined;
      // Rows that came between the loop's end and here.
      if (this.queued.length > 0) this.writeSoon();
    });
  }

  private async writeQueued(): Promise<void> {
    while (this.queued.length > 0) {
      const wait = this.lastStart + this.gapMs - this.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch = this.queued;
      this.queued = [];
      this.lastStart = this.now();
      try {
        await this.insert(batch.flatMap((b) => b.rows));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
  }
}
