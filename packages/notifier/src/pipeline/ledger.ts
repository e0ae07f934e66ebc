import { queryRows, type Storage } from '@vigil/platform';
import type { Notification } from '../channels/channel.js';
import { SentDeliveries } from './dedup.js';
import type { DeliveryOutcome } from './retry.js';

/**
 * Stage "record", and the memory of stage "dedup": every delivery that was sent or given up
 * is a row in `vigil_deliveries`, keyed by (DeliveryKey, Channel). A transition that has a
 * `sent` row for a channel is never sent to it again, also after a restart or a replay.
 */

/** A row of `vigil_deliveries` (see platform's migrations). */
export interface DeliveryRow {
  DeliveryKey: string;
  Channel: string;
  Fingerprint: string;
  Transition: string;
  Severity: string;
  Rule: string;
  Status: 'sent' | 'failed';
  Attempts: number;
  Error: string;
  /** Epoch milliseconds. */
  Time: number;
}

export function deliveryRow(n: Notification, channel: string, outcome: DeliveryOutcome, time: number): DeliveryRow {
  return {
    DeliveryKey: n.key,
    Channel: channel,
    Fingerprint: n.alert.fingerprint,
    Transition: n.alert.status,
    Severity: n.alert.severity,
    Rule: n.alert.rule,
    Status: outcome.status,
    Attempts: outcome.attempts,
    Error: outcome.error,
    Time: time,
  };
}

export class DeliveryLedger {
  /** Rows whose insert failed; written before anything else on the next `load`, so a retried batch records them. */
  private pending: DeliveryRow[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly channels: string[],
    private readonly sent = new SentDeliveries(),
  ) {}

  /** Makes `isSent` answer for these keys: writes rows left over from a failed insert, then looks up the keys not known in memory. */
  async load(keys: string[]): Promise<void> {
    if (this.pending.length > 0) {
      const rows = this.pending;
      this.pending = [];
      try {
        await this.insert(rows);
      } catch (err) {
        this.pending = rows.concat(this.pending);
        throw err;
      }
    }
    const unknown = this.sent.unknown(keys, this.channels);
    if (unknown.length === 0) return;
    let rows: { DeliveryKey: string; Channel: string }[];
    try {
      rows = await queryRows(
        this.storage,
        `SELECT DeliveryKey, Channel FROM ${this.storage.table('vigil_deliveries')}
         WHERE DeliveryKey IN {keys:Array(String)} AND Channel IN {channels:Array(String)} AND Status = {status:String}`,
        { keys: unknown, channels: this.channels, status: 'sent' },
      );
    } catch (err) {
      throw new Error(`cannot read the delivery ledger ${this.storage.table('vigil_deliveries')}: ${(err as Error).message} (the batch is retried; check ClickHouse)`, { cause: err });
    }
    for (const r of rows) this.sent.add(r.DeliveryKey, r.Channel);
  }

  isSent(key: string, channel: string): boolean {
    return this.sent.has(key, channel);
  }

  /**
   * Records a delivery. A `sent` one counts as sent in memory at once, so a retried batch does
   * not send it again even when this insert fails (the row is kept and written on the next `load`).
   */
  async record(row: DeliveryRow): Promise<void> {
    if (row.Status === 'sent') this.sent.add(row.DeliveryKey, row.Channel);
    try {
      await this.insert([row]);
    } catch (err) {
      this.pending.push(row);
      throw err;
    }
  }

  private async insert(rows: DeliveryRow[]): Promise<void> {
    try {
      await this.storage.client.insert({ table: this.storage.table('vigil_deliveries'), values: rows, format: 'JSONEachRow' });
    } catch (err) {
      throw new Error(`cannot record ${rows.length} deliveries in ${this.storage.table('vigil_deliveries')}: ${(err as Error).message} (the batch is retried; check ClickHouse)`, { cause: err });
    }
  }
}
