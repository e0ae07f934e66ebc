/**
 * The data one group of a rule keeps, in time order, and what a window over it gives. Pure.
 * Windows are half-open, `[end - window, end)`: a sample at a window's end belongs to the next
 * window, so a window is complete once its source has sent anything at or after its end.
 */

export type Combine = 'sum' | 'avg' | 'max' | 'min';
export type Aggregate = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last';

/** Index of the first element of sorted `ts` that is >= `t`. */
export function lowerBound(ts: readonly number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Removes the first `n` elements in place (splice would allocate an array of them: garbage on every step). */
export function dropFront<T>(a: T[], n: number): void {
  a.copyWithin(0, n);
  a.length -= n;
}

/**
 * Gauge-like samples of a group, by time and series. A sample delivered twice (same time and
 * series; Kafka is at least once) overwrites itself instead of counting twice. Which series are
 * newer than a time is the caller's to know (the engine keeps it per series and group): a `fresh`
 * sample at or after the newest is appended; any other is checked against those of its instant.
 */
export class SampleWindow {
  readonly ts: number[] = [];
  readonly series: string[] = [];
  readonly values: number[] = [];

  add(ts: number, series: string, value: number, fresh = false): void {
    const n = this.ts.length;
    if (fresh && (n === 0 || this.ts[n - 1]! <= ts)) {
      this.ts.push(ts);
      this.series.push(series);
      this.values.push(value);
      return;
    }
    let i = n;
    // Usually in order: scan back over samples newer than this one, and those of the same instant.
    while (i > 0 && this.ts[i - 1]! > ts) i--;
    for (let j = i - 1; j >= 0 && this.ts[j] === ts; j--) {
      if (this.series[j] === series) {
        this.values[j] = value;
        return;
      }
    }
    if (i === n) {
      this.ts.push(ts);
      this.series.push(series);
      this.values.push(value);
    } else {
      this.ts.splice(i, 0, ts);
      this.series.splice(i, 0, series);
      this.values.splice(i, 0, value);
    }
  }

  /** Drops samples before `t`, keeping the newest `keepLast` of them (a state's last value). */
  evictBefore(t: number, keepLast = 0): void {
    let n = lowerBound(this.ts, t);
    n = Math.max(0, Math.min(n, this.ts.length - keepLast));
    if (n === 0) return;
    dropFront(this.ts, n);
    dropFront(this.series, n);
    dropFront(this.values, n);
  }

  get size(): number {
    return this.ts.length;
  }

  /** Combine per instant, then aggregate over `[from, to)`; undefined when there is no sample. */
  aggregate(from: number, to: number, combine: Combine | undefined, how: Aggregate): number | undefined {
    const start = lowerBound(this.ts, from);
    const end = lowerBound(this.ts, to);
    if (start >= end) return undefined;
    let count = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let last = 0;
    const take = (v: number) => {
      count++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      last = v;
    };
    if (!combine) {
      for (let i = start; i < end; i++) take(this.values[i]!);
    } else {
      let i = start;
      while (i < end) {
        const t = this.ts[i]!;
        let c = this.values[i]!;
        let n = 1;
        for (i++; i < end && this.ts[i] === t; i++, n++) {
          const v = this.values[i]!;
          if (combine === 'sum' || combine === 'avg') c += v;
          else if (combine === 'max') c = Math.max(c, v);
          else c = Math.min(c, v);
        }
        take(combine === 'avg' ? c / n : c);
      }
    }
    switch (how) {
      case 'count':
        return count;
      case 'last':
        return last;
      case 'sum':
        return sum;
      case 'avg':
        return sum / count;
      case 'min':
        return min;
      case 'max':
        return max;
    }
  }

  /** The newest sample before `to` (the state at `to`), if any. */
  lastBefore(to: number): { ts: number; value: number } | undefined {
    const i = lowerBound(this.ts, to) - 1;
    return i >= 0 ? { ts: this.ts[i]!, value: this.values[i]! } : undefined;
  }
}

/** Counts of events by time (ms); several at one instant share an entry. */
export class CountWindow {
  readonly ts: number[] = [];
  readonly counts: number[] = [];

  add(ts: number, n = 1): void {
    let i = this.ts.length;
    while (i > 0 && this.ts[i - 1]! > ts) i--;
    if (i > 0 && this.ts[i - 1] === ts) this.counts[i - 1]! += n;
    else if (i === this.ts.length) {
      this.ts.push(ts);
      this.counts.push(n);
    } else {
      this.ts.splice(i, 0, ts);
      this.counts.splice(i, 0, n);
    }
  }

  evictBefore(t: number): void {
    const n = lowerBound(this.ts, t);
    if (n === 0) return;
    dropFront(this.ts, n);
    dropFront(this.counts, n);
  }

  get size(): number {
    return this.ts.length;
  }

  /** Events in `[from, to)`. */
  count(from: number, to: number): number {
    let n = 0;
    for (let i = lowerBound(this.ts, from); i < this.ts.length && this.ts[i]! < to; i++) n += this.counts[i]!;
    return n;
  }
}

/** One counter series: cumulative values with their start times, or delta values. */
export interface CounterSeries {
  ts: number[];
  values: number[];
  /** Start time of each cumulative point (ms, 0 unknown): a new start time is a reset. */
  starts: number[];
  delta: boolean;
}

/** The counters of one group, by series. */
export class CounterWindow {
  readonly series = new Map<string, CounterSeries>();

  add(series: string, ts: number, value: number, startMs: number, delta: boolean): void {
    let s = this.series.get(series);
    if (!s) {
      s = { ts: [], values: [], starts: [], delta };
      this.series.set(series, s);
    }
    let i = s.ts.length;
    while (i > 0 && s.ts[i - 1]! > ts) i--;
    if (i > 0 && s.ts[i - 1] === ts) {
      s.values[i - 1] = value;
      s.starts[i - 1] = startMs;
      return;
    }
    s.ts.splice(i, 0, ts);
    s.values.splice(i, 0, value);
    s.starts.splice(i, 0, startMs);
  }

  /**
   * Drops points before `t`, keeping the newest one before it as the base of the next window's
   * increase. A series with no point since `t` has been away a whole window and is forgotten.
   */
  evictBefore(t: number): void {
    for (const [key, s] of this.series) {
      if (s.ts.length === 0 || s.ts[s.ts.length - 1]! < t) {
        this.series.delete(key);
        continue;
      }
      const n = lowerBound(s.ts, t) - (s.delta ? 0 : 1);
      if (n > 0) {
        dropFront(s.ts, n);
        dropFront(s.values, n);
        dropFront(s.starts, n);
      }
    }
  }

  /** Whether any point lies at or after `t` (the group still has data). */
  hasDataSince(t: number): boolean {
    for (const s of this.series.values()) if (s.ts.length > 0 && s.ts[s.ts.length - 1]! >= t) return true;
    return false;
  }

  get size(): number {
    return this.series.size;
  }

  /** The increase over `[from, to)` of every series together; undefined when no series has a point in it. */
  increase(from: number, to: number): number | undefined {
    let total = 0;
    let any = false;
    for (const s of this.series.values()) {
      const v = seriesIncrease(s, from, to);
      if (v !== undefined) {
        total += v;
        any = true;
      }
    }
    return any ? total : undefined;
  }
}

/**
 * Increase of one series over `[from, to)`. Delta points add up. Cumulative points count from the
 * newest point before the window (the base), as Prometheus counts resets: a value below the one
 * before it, or a new start time, means the counter restarted from zero, so the new value is all
 * increase. Without a base, a series that started inside the window counts from zero; one that
 * did not counts from its first point. No extrapolation to the window's edges.
 */
export function seriesIncrease(s: CounterSeries, from: number, to: number): number | undefined {
  const start = lowerBound(s.ts, from);
  const end = lowerBound(s.ts, to);
  if (start >= end) return undefined;
  if (s.delta) {
    let sum = 0;
    for (let i = start; i < end; i++) sum += s.values[i]!;
    return sum;
  }
  let total = 0;
  let i = start;
  if (start === 0) {
    // No base: only a counter that started in the window has a known zero.
    const st = s.starts[0]!;
    if (st > 0 && st >= from) total += s.values[0]!;
    i = 1;
  }
  for (; i < end; i++) {
    const prev = s.values[i - 1]!;
    const cur = s.values[i]!;
    const reset = cur < prev || (s.starts[i]! > 0 && s.starts[i - 1]! > 0 && s.starts[i] !== s.starts[i - 1]);
    total += reset ? cur : cur - prev;
  }
  return total;
}
