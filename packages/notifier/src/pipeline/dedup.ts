/**
 * Stage "dedup": never send a transition to a channel that already has it. The truth is the
 * ledger in ClickHouse (see ledger.ts); this is its in-memory side, the deliveries known as sent.
 */

export type DedupDecision = 'send' | 'skip';

/** Deliveries known to be sent, by (delivery key, channel). Bounded: the oldest are forgotten first, and looked up again when needed. */
export class SentDeliveries {
  private readonly ids = new Set<string>();

  constructor(readonly capacity = 100_000) {}

  private static id(key: string, channel: string): string {
    return `${channel}\u0000${key}`;
  }

  has(key: string, channel: string): boolean {
    return this.ids.has(SentDeliveries.id(key, channel));
  }

  add(key: string, channel: string): void {
    const id = SentDeliveries.id(key, channel);
    this.ids.delete(id);
    this.ids.add(id);
    while (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Keys (once each, in order) that some channel does not know as sent: what to look up in the ledger. */
  unknown(keys: string[], channels: string[]): string[] {
    const out = new Set<string>();
    for (const key of keys) if (channels.some((c) => !this.has(key, c))) out.add(key);
    return [...out];
  }
}

export function dedupDecision(isSent: (key: string, channel: string) => boolean, key: string, channel: string): DedupDecision {
  return isSent(key, channel) ? 'skip' : 'send';
}
