/**
 * The scheduled loops of the probe, prometheus and sql plugins: each task runs at once, then
 * `intervalMs` after the start of its previous run (a slow run delays the next, runs never
 * overlap); `stop()` cancels what is waiting and waits for runs in flight, so a plugin stops with
 * nothing half-sent. A task handles its own errors; one that throws anyway goes to `onError` and
 * its loop goes on.
 */
export class Loops {
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly onError: (err: Error) => void) {}

  every(intervalMs: number, task: () => Promise<void>): void {
    const tick = () => {
      if (this.stopped) return;
      const began = Date.now();
      const run = task().catch((err: Error) => this.onError(err));
      this.running.add(run);
      void run.finally(() => {
        this.running.delete(run);
        if (this.stopped) return;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          tick();
        }, Math.max(0, intervalMs - (Date.now() - began)));
        this.timers.add(timer);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.running);
  }
}
