/**
 * The events explorer's live tail: newer records are put in front of those shown, without
 * repeats, keeping at most `cap`. Pure.
 */

export interface Keyed {
  id: string;
  timestamp: string;
}

export function mergeNewer<T extends Keyed>(shown: T[], incoming: T[], cap = 500): T[] {
  const seen = new Set(shown.map((e) => e.id));
  const fresh = incoming.filter((e) => !seen.has(e.id));
  return [...fresh, ...shown].sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)).slice(0, cap);
}

/** The `from` of the next poll: the newest time shown (the API's from is inclusive; repeats are dropped by id). */
export function tailFrom(shown: Keyed[], fallbackMs: number): number {
  const newest = shown.reduce((m, e) => Math.max(m, Date.parse(e.timestamp)), Number.NEGATIVE_INFINITY);
  return Number.isFinite(newest) ? newest : fallbackMs;
}

export const EVENT_FILTERS = ['q', 'severity', 'category', 'host', 'service', 'event', 'fingerprint', 'since'] as const;

/** The events API's query string from the explorer's filters (empty ones left out). */
export function eventsQuery(filters: Record<string, string | undefined>, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const k of EVENT_FILTERS) {
    const v = filters[k]?.trim();
    if (v) p.set(k, v);
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}
