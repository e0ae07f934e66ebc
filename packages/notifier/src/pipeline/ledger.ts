import { queryRows, wellFormedDeep, transitionKey, type Storage } from '@vigil/platform';
import type { AlertNotification } from '../model.js';
import { SentDeliveries } from './dedup.js';
import { GroupCommit } from './group-commit.js';

/**
 * No wait before a ledger insert (rows coalesce while one runs): until a delivery's row is written,
 * a crash can leave its group not knowing it notified, so the row goes out as soon as it can.
 */
const LEDGER_GAP_MS = 0;

/**
 * Stage "record", and the memory of stage "dedup": every notification sent to a channel, or
 * given up on, is a row in `vigil_deliveries`, keyed by (DeliveryKey = the notification key,
 * Channel). A notification with a `sent` row for a channel is never sent to it again, also
 * after a restart, a rebalance or a replay of `vigil.alerts`.
 */

export type DeliveryStatus = 'sent' | 'failed';

/** A row of `vigil_deliveries` (migrations 2 and 3). */
export interface DeliveryRow {
  DeliveryKey: string;
  Channel: string;
  Kind: string;
  Receiver: string;
  GroupKey: string;
  /** Transition keys of the alerts in the notification. */
  Alerts: string[];
  /** The first alert's fingerprint, for lookups by alert. */
  Fingerprint: string;
  /** firing or resolved: the notification's status. */
  Transition: string;
  Severity: string;
  Rule: string;
  Status: DeliveryStatus;
  Attempts: number;
  Error: string;
  ProviderId: string;
  /** Epoch milliseconds. */
  Time: number;
}

export interface DeliveryOutcomeLike {
  status: DeliveryStatus;
  attempts: number;
  error: string;
  providerId?: string;
}

export function deliveryRow(n: AlertNotification, channel: { name: string; kind: string }, outcome: DeliveryOutcomeLike, time: number): DeliveryRow {
  const first = n.alerts[0];
  return {
    DeliveryKey: n.key,
    Channel: channel.name,
    Kind: channel.kind,
    Receiver: n.receiver,
    GroupKey: n.groupKey,
    Alerts: n.alerts.map(transitionKey),
    Fingerprint: first?.fingerprint ?? '',
    Transition: n.status,
    Severity: n.severity,
    Rule: n.alerts.every((a) => a.rule === first?.rule) ? (first?.rule ?? '') : (n.commonLabels.alertname ?? ''),
    Status: outcome.status,
    Attempts: outcome.attempts,
    Error: outcome.error,
    ProviderId: outcome.providerId ?? '',
    Time: time,
  };
}

/** A delivery as the API lists it. */
export interface DeliveryRecord {
  key: string;
  channel: string;
  kind: string;
  receiver: string;
  groupKey: string;
  status: string;
  severity: string;
  rule: string;
  alerts: number;
  attempts: number;
  lastError: string;
  providerId: string;
  /** RFC 3339. */
  time: string;
}

export interface DeliveryFilter {
  status?: string;
  channel?: string;
  receiver?: string;
  /** Unix ms. */
  since: number;
  limit: number;
}

/** What a receiver was sent: the base of the dispatcher's memory after a restart. */
export interface SentNotification {
  receiver: string;
  groupKey: string;
  alerts: string[];
  time: number;
}

export class DeliveryLedger {
  /** Rows whose insert failed; written before anything else on the next `load`. */
  private pending: DeliveryRow[] = [];
  /**
   * Group commit: rows recorded while an insert is in flight (or within `gapMs` of the last one's
   * start) go in the next insert together. A storm's responses arrive together; one insert each
   * would queue them behind one another in ClickHouse and keep the crash window (sent, not yet
   * recorded) open longer. A failed insert's rows are kept for the next write.
   */
  private readonly commits: GroupCommit<DeliveryRow>;

  constructor(
    private readonly storage: Storage,
    private readonly sent = new SentDeliveries(),
    gapMs = LEDGER_GAP_MS,
  ) {
    this.commits = new GroupCommit(async (rows) => {
      try {
        await this.insert(rows);
      } catch (err) {
        this.pending.push(...rows);
        throw err;
      }
    }, gapMs);
  }

  private get table(): string {
    return this.storage.table('vigil_deliveries');
  }

  /** Makes `isSent` answer for these keys on these channels: writes rows left from a failed insert, then looks up what memory does not know. */
  async load(keys: string[], channels: string[]): Promise<void> {
    await this.flushPending();
    const unknown = this.sent.unknown(keys, channels);
    if (unknown.length === 0) return;
    let rows: { DeliveryKey: string; Channel: string }[];
    try {
      rows = await queryRows(
        this.storage,
        `SELECT DeliveryKey, Channel FROM ${this.table}
         WHERE DeliveryKey IN {keys:Array(String)} AND Channel IN {channels:Array(String)} AND Status = 'sent'`,
        { keys: unknown, channels },
      );
    } catch (err) {
      throw new Error(`cannot read the delivery ledger ${this.table}: ${(err as Error).message} (retried; check ClickHouse)`, { cause: err });
    }
    for (const r of rows) this.sent.add(r.DeliveryKey, r.Channel);
  }

  /**
   * Loads what was sent since `since` into memory, so the delivery path checks memory only. A
   * notification a restart regenerates comes from the last flushes before it (the dispatcher
   * snapshot is saved before each flush), so a recent window is enough.
   */
  async preload(since: number): Promise<number> {
    const rows = await queryRows<{ DeliveryKey: string; Channel: string }>(
      this.storage,
      `SELECT DeliveryKey, Channel FROM ${this.table} WHERE Status = 'sent' AND Time >= fromUnixTimestamp64Milli({since:Int64}) ORDER BY Time DESC LIMIT {cap:UInt32}`,
      { since, cap: this.sent.capacity },
    );
    // The newest last, so they are the last the bounded memory forgets.
    for (const r of rows.reverse()) this.sent.add(r.DeliveryKey, r.Channel);
    return rows.length;
  }

  isSent(key: string, channel: string): boolean {
    return this.sent.has(key, channel);
  }

  /** A `sent` delivery counts as sent in memory at once, so nothing sends it again even when this insert fails (the row is kept and retried). */
  async record(row: DeliveryRow): Promise<void> {
    if (row.Status === 'sent') this.sent.add(row.DeliveryKey, row.Channel);
    await this.commits.add([row]);
  }

  async flushPending(): Promise<void> {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    try {
      await this.insert(rows);
    } catch (err) {
      this.pending = rows.concat(this.pending);
      throw err;
    }
  }

  /** Notifications sent since `since` (Unix ms), per receiver and group, oldest first. */
  async sentSince(since: number): Promise<SentNotification[]> {
    const rows = await queryRows<{ Receiver: string; GroupKey: string; Alerts: string[]; Time: number | string }>(
      this.storage,
      `SELECT Receiver, GroupKey, any(Alerts) AS Alerts, toUnixTimestamp64Milli(max(Time)) AS Time FROM ${this.table}
       WHERE Status = 'sent' AND Time >= fromUnixTimestamp64Milli({since:Int64}) AND Receiver != ''
       GROUP BY Receiver, GroupKey, DeliveryKey ORDER BY Time`,
      { since },
    );
    return rows.map((r) => ({ receiver: r.Receiver, groupKey: r.GroupKey, alerts: r.Alerts, time: Number(r.Time) }));
  }

  /**
   * Every notification handed to a channel since `since` (Unix ms), sent or given up, oldest
   * first: the group, the transitions it carried (over all its channels) and when it was first
   * recorded. A restart tells the dispatcher about these (Dispatcher.acknowledge), since the
   * state snapshot is written behind the sends and may be older.
   */
  async notifiedSince(since: number): Promise<{ groupKey: string; alerts: string[]; time: number }[]> {
    const rows = await queryRows<{ GroupKey: string; Transitions: string[]; At: number | string }>(
      this.storage,
      `SELECT GroupKey, groupUniqArrayArray(Alerts) AS Transitions, toUnixTimestamp64Milli(min(Time)) AS At FROM ${this.table}
       WHERE Time >= fromUnixTimestamp64Milli({since:Int64}) AND GroupKey != ''
       GROUP BY GroupKey, DeliveryKey ORDER BY At`,
      { since },
    );
    return rows.map((r) => ({ groupKey: r.GroupKey, alerts: r.Transitions, time: Number(r.At) }));
  }

  /** For `GET /api/v1/deliveries`: the latest state of each delivery, newest first. */
  async list(f: DeliveryFilter): Promise<DeliveryRecord[]> {
    const where = ['Time >= fromUnixTimestamp64Milli({since:Int64})'];
    const params: Record<string, unknown> = { since: f.since, limit: f.limit };
    for (const [name, column] of [['status', 'Status'], ['channel', 'Channel'], ['receiver', 'Receiver']] as const) {
      if (f[name] === undefined) continue;
      where.push(`${column} = {${name}:String}`);
      params[name] = f[name];
    }
    const rows = await queryRows<Record<string, string | number>>(
      this.storage,
      `SELECT DeliveryKey, Channel, Kind, Receiver, GroupKey, Status, Severity, Rule, length(Alerts) AS AlertCount, Attempts, Error, ProviderId,
              toUnixTimestamp64Milli(Time) AS Ms
       FROM ${this.table} FINAL WHERE ${where.join(' AND ')} ORDER BY Time DESC LIMIT {limit:UInt32}`,
      params,
    );
    return rows.map((r) => ({
      key: String(r.DeliveryKey),
      channel: String(r.Channel),
      kind: String(r.Kind),
      receiver: String(r.Receiver),
      groupKey: String(r.GroupKey),
      status: String(r.Status),
      severity: String(r.Severity),
      rule: String(r.Rule),
      alerts: Number(r.AlertCount),
      attempts: Number(r.Attempts),
      lastError: String(r.Error),
      providerId: String(r.ProviderId),
      time: new Date(Number(r.Ms)).toISOString(),
    }));
  }

  private async insert(rows: DeliveryRow[]): Promise<void> {
    try {
      await this.storage.client.insert({ table: this.table, values: wellFormedDeep(rows), format: 'JSONEachRow' });
    } catch (err) {
      throw new Error(`cannot record ${rows.length} deliveries in ${this.table}: ${(err as Error).message} (retried; check ClickHouse)`, { cause: err });
    }
  }
}
