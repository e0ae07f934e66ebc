import { queryRows, wellFormedDeep, type Storage } from '@vigil/platform';
import type { AlertNotification } from '../model.js';
import type { DispatcherState } from '../routing/dispatcher.js';
import type { RateLimiterState } from './ratelimit.js';
import type { Silence } from '../routing/silences.js';

/**
 * The notifier's memory in ClickHouse, beside the inbox (inbox.ts) and the ledger (ledger.ts):
 * - `vigil_notifier_state`: a snapshot of the dispatcher, the rate limiter and the outbox
 *   (notifications flushed, not yet delivered), written behind the sends (pipeline.ts), so after a
 *   restart every group knows which alerts it notified (their resolves are owed) and when; what
 *   was notified after the snapshot and what was actually delivered is the ledger's to say.
 * - `vigil_silences`: silences created through the API, so they survive restarts.
 */

export interface NotifierSnapshot {
  dispatcher: DispatcherState;
  rateLimiter: RateLimiterState;
  /** Notifications flushed and not yet delivered when the snapshot was taken; resent at start. */
  outbox?: AlertNotification[];
  /** When the state was taken, Unix ms; absent in snapshots taken before their flush (older versions). */
  savedAt?: number;
  /** The alert partition of each alert whose partition was known (fingerprint → partition). */
  partitions?: Record<string, number>;
}

export class SnapshotStore {
  constructor(
    private readonly storage: Storage,
    private readonly groupId: string,
  ) {}

  private get table(): string {
    return this.storage.table('vigil_notifier_state');
  }

  async save(snapshot: NotifierSnapshot, now: number): Promise<void> {
    try {
      await this.storage.client.insert({ table: this.table, values: [{ GroupId: this.groupId, State: JSON.stringify(wellFormedDeep(snapshot)), Time: now }], format: 'JSONEachRow' });
    } catch (err) {
      throw new Error(`cannot save the notifier's state in ${this.table}: ${(err as Error).message} (retried; the notifications go out meanwhile; check ClickHouse)`, { cause: err });
    }
  }

  async load(): Promise<NotifierSnapshot | undefined> {
    const rows = await queryRows<{ State: string }>(
      this.storage,
      `SELECT argMax(State, Time) AS State FROM ${this.table} WHERE GroupId = {g:String} GROUP BY GroupId`,
      { g: this.groupId },
    );
    const text = rows[0]?.State;
    if (!text) return undefined;
    return JSON.parse(text) as NotifierSnapshot;
  }
}

export class SilenceStore {
  constructor(private readonly storage: Storage) {}

  private get table(): string {
    return this.storage.table('vigil_silences');
  }

  async save(s: Silence, deleted = false): Promise<void> {
    await this.storage.client.insert({
      table: this.table,
      values: [{ Id: s.id, Silence: JSON.stringify(wellFormedDeep(s)), StartsAt: Date.parse(s.startsAt), EndsAt: Date.parse(s.endsAt), Deleted: deleted ? 1 : 0, UpdatedAt: Date.parse(s.updatedAt) }],
      format: 'JSONEachRow',
    });
  }

  /** Every stored silence, its latest version; expired ones too (the API lists them). */
  async all(): Promise<Silence[]> {
    const rows = await queryRows<{ Silence: string }>(
      this.storage,
      `SELECT argMax(Silence, UpdatedAt) AS Silence FROM ${this.table} GROUP BY Id`,
    );
    return rows.map((r) => JSON.parse(r.Silence) as Silence);
  }
}
