/**
 * The sliding windows of one rule: per group, the samples of the last `window` milliseconds.
 *
 * Samples are kept by timestamp and series, so that `combine` can merge the series of a group
 * that were collected at one instant (CPU utilization per `cpu.mode`: the sum over the non-idle
 * modes is the busy fraction), and so that a point delivered twice (Kafka is at least once)
 * overwrites itself instead of counting twice.
 */
export type Combine = 'sum' | 'avg' | 'max' | 'min';
export type Aggregate = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last';

export interface Sample {
  timestampMs: number;
  value: number;
}

export interface GroupWindow {
  /** The group-by attribute values of this group (empty ones left out). */
  readonly values: Readonly<Record<string, string>>;
  /** timestamp (ms) → series identity → value. */
  readonly samples: Map<number, Map<string, number>>;
}

export class WindowStore {
  private readonly groups = new Map<string, GroupWindow>();

  constructor(readonly windowMs: number) {}

  /**
   * Adds one sample. Samples at or before `now - window` are refused (returns false): they can
   * no longer count, and refusing them keeps a backlog replay from piling up memory.
   */
  add(groupKey: string, values: Record<string, string>, series: string, timestampMs: number, value: number, now: number): boolean {
    if (timestampMs <= now - this.windowMs) return false;
    let group = this.groups.get(groupKey);
    if (!group) {
      group = { values, samples: new Map() };
      this.groups.set(groupKey, group);
    }
    let at = group.samples.get(timestampMs);
    if (!at) {
      at = new Map();
      group.samples.set(timestampMs, at);
    }
    at.set(series, value);
    return true;
  }

  /** Drops samples that left the window; a group left with none is forgotten. */
  evict(now: number): void {
    const cutoff = now - this.windowMs;
    for (const [key, group] of this.groups) {
      for (const ts of group.samples.keys()) if (ts <= cutoff) group.samples.delete(ts);
      if (group.samples.size === 0) this.groups.delete(key);
    }
  }

  entries(): IterableIterator<[string, GroupWindow]> {
    return this.groups.entries();
  }

  get(groupKey: string): GroupWindow | undefined {
    return this.groups.get(groupKey);
  }

  get size(): number {
    return this.groups.size;
  }
}

/** Merges values that share a timestamp. */
export function combineValues(values: number[], how: Combine): number {
  switch (how) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
  }
}

/**
 * The samples of a group in time order. With `combine`, one sample per timestamp (the series
 * merged); without, one per series and timestamp.
 */
export function groupSamples(group: GroupWindow, combine: Combine | undefined): Sample[] {
  const out: Sample[] = [];
  const times = [...group.samples.keys()].sort((a, b) => a - b);
  for (const ts of times) {
    const series = group.samples.get(ts)!;
    if (combine) out.push({ timestampMs: ts, value: combineValues([...series.values()], combine) });
    else for (const value of series.values()) out.push({ timestampMs: ts, value });
  }
  return out;
}

/** The window aggregate over time-ordered samples; undefined when there are none. */
export function aggregateSamples(samples: Sample[], how: Aggregate): number | undefined {
  if (samples.length === 0) return undefined;
  switch (how) {
    case 'count':
      return samples.length;
    case 'last':
      return samples[samples.length - 1]!.value;
    case 'sum':
      return samples.reduce((a, s) => a + s.value, 0);
    case 'avg':
      return samples.reduce((a, s) => a + s.value, 0) / samples.length;
    case 'max':
      return samples.reduce((a, s) => Math.max(a, s.value), -Infinity);
    case 'min':
      return samples.reduce((a, s) => Math.min(a, s.value), Infinity);
  }
}

/** The value a rule compares with its thresholds: combine per instant, then aggregate over the window. */
export function windowValue(group: GroupWindow, combine: Combine | undefined, aggregate: Aggregate): number | undefined {
  return aggregateSamples(groupSamples(group, combine), aggregate);
}
