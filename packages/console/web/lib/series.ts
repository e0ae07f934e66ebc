/**
 * API series → chart data (uPlot's columns: one array of x in seconds, one of y per line, null
 * where a line has no point). Pure.
 */

export type Point = [number, number | null];

export interface ApiSeries {
  host: string;
  attributes: Record<string, string>;
  points: Point[];
}

export interface Lines {
  /** x in Unix seconds, ascending. */
  x: number[];
  lines: { label: string; values: (number | null)[] }[];
}

/** Several labelled point lists on one x axis. */
export function align(labelled: { label: string; points: Point[] }[]): Lines {
  const xs = [...new Set(labelled.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  return {
    x: xs.map((ms) => ms / 1000),
    lines: labelled.map((l) => {
      const values: (number | null)[] = new Array(xs.length).fill(null);
      for (const [t, v] of l.points) values[index.get(t)!] = v;
      return { label: l.label, values };
    }),
  };
}

/** One point list: per bucket, the sum of the series that `keep` accepts (CPU busy = every mode but idle). */
export function sumWhere(series: ApiSeries[], keep: (attributes: Record<string, string>) => boolean): Point[] {
  const by = new Map<number, number>();
  for (const s of series) {
    if (!keep(s.attributes)) continue;
    for (const [t, v] of s.points) if (v !== null) by.set(t, (by.get(t) ?? 0) + v);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * A cumulative counter's points → per-second rates between consecutive points; a drop (the
 * counter restarted) gives no rate for that interval rather than a negative one.
 */
export function rate(points: Point[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < points.length; i++) {
    const [t0, v0] = points[i - 1]!;
    const [t1, v1] = points[i]!;
    if (v0 === null || v1 === null || t1 <= t0 || v1 < v0) continue;
    out.push([t1, ((v1 - v0) * 1000) / (t1 - t0)]);
  }
  return out;
}

/** A label for a series from the attributes that differ: `/var`, `eth0 receive`. */
export function labelOf(attributes: Record<string, string>, keys: string[]): string {
  const parts = keys.map((k) => attributes[k]).filter((v): v is string => !!v);
  return parts.length > 0 ? parts.join(' ') : 'value';
}

export const RANGES = { '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000 } as const;
export type RangeName = keyof typeof RANGES;

/** from/to of a range ending now, and a step the rollups answer (whole minutes from 6h, whole hours at 7d). */
export function rangeQuery(range: RangeName, now: number): { from: number; to: number; step: string } {
  const span = RANGES[range];
  const step = range === '1h' ? '30s' : range === '6h' ? '2m' : range === '24h' ? '5m' : '1h';
  return { from: now - span, to: now, step };
}
