import { decodeAlert, queryRows, wellFormedDeep, transitionKey, type AlertTransition, type Storage } from '@vigil/platform';
import { GroupCommit } from './group-commit.js';

/**
 * Least time between two inbox inserts' starts: the batches of the moment go in one. Only their
 * offsets' commit waits for it (no send does), and the bus fetches ahead meanwhile.
 */
const INBOX_GAP_MS = 100;

/**
 * Stage "record the transition": every transition taken from `vigil.alerts` is written to
 * `vigil_notifier_inbox` before its Kafka offset is committed. The dispatcher holds groups in
 * memory only; after a restart (or a rebalance that hands this instance new partitions) it is
 * rebuilt from here, so a transition whose offset was committed is never lost, even when its
 * group had not been flushed yet.
 */

export interface InboxEntry {
  alert: AlertTransition;
  /** The record's Kafka timestamp (stable across replays), Unix ms. */
  publishedAt: number;
}

/** Per consumer group (`notifier.groupId`): two notifier deployments on one ClickHouse rebuild from their own transitions. */
export class Inbox {
  /** One insert for the batches of the moment (their offsets wait for it; no send does). */
  private readonly commits: GroupCommit<InboxEntry>;

  constructor(
    private readonly storage: Storage,
    private readonly groupId: string,
    gapMs = INBOX_GAP_MS,
  ) {
    this.commits = new GroupCommit((entries) => this.insert(entries), gapMs);
  }

  private get table(): string {
    return this.storage.table('vigil_notifier_inbox');
  }

  /** Idempotent: a replayed transition is the same row (ReplacingMergeTree on fingerprint and transition). */
  record(entries: InboxEntry[]): Promise<void> {
    return this.commits.add(entries);
  }

  private async insert(entries: InboxEntry[]): Promise<void> {
    const values = entries.map((e) => ({
      Fingerprint: e.alert.fingerprint,
      TransitionKey: transitionKey(e.alert),
      Status: e.alert.status,
      Severity: e.alert.severity,
      StartsAt: Date.parse(e.alert.startsAt),
      Alert: JSON.stringify(e.alert),
      PublishedAt: e.publishedAt,
      GroupId: this.groupId,
    }));
    try {
      await this.storage.client.insert({ table: this.table, values: wellFormedDeep(values), format: 'JSONEachRow' });
    } catch (err) {
      throw new Error(`cannot record ${entries.length} alert transitions in ${this.table}: ${(err as Error).message} (the batch is retried; check ClickHouse)`, { cause: err });
    }
  }

  /**
   * The latest transition of every alert that is still firing (any age within the retention),
   * and of every alert resolved since `resolvedSince`: what the dispatcher starts from.
   */
  async latest(resolvedSince: number): Promise<InboxEntry[]> {
    const rows = await queryRows<{ Alert: string; PublishedAt: number | string }>(
      this.storage,
      `SELECT Alert, toUnixTimestamp64Milli(Latest) AS PublishedAt FROM (
         SELECT Fingerprint, argMax(Alert, (PublishedAt, Status = 'resolved')) AS Alert, argMax(Status, (PublishedAt, Status = 'resolved')) AS LatestStatus,
                max(PublishedAt) AS Latest
         FROM ${this.table} WHERE GroupId = {group:String} GROUP BY Fingerprint)
       WHERE LatestStatus = 'firing' OR Latest >= fromUnixTimestamp64Milli({since:Int64})
       ORDER BY Latest`,
      { since: resolvedSince, group: this.groupId },
    );
    const out: InboxEntry[] = [];
    for (const r of rows) {
      try {
        out.push({ alert: decodeAlert(Buffer.from(r.Alert)), publishedAt: Number(r.PublishedAt) });
      } catch {
        // Rows are written from decoded transitions; one that does not decode was not written by us.
      }
    }
    return out;
  }
}
