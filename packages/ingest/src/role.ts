import {
  deadLetter,
  decodeAlert,
  logger,
  SECONDS_BUCKETS,
  queryRows,
  readLogs,
  readMetrics,
  requireStorage,
  timeSlices,
  type Batch,
  type BatchFinish,
  type BusProducer,
  type BusRecord,
  type ConsumedRecord,
  type Role,
  type RoleContext,
  type Rejection,
  type Subscription,
  watchConsumer,
} from '@vigil/platform';
import { insertIsolating } from './isolate.js';
import { dedupToken, planRanges, type OffsetRange } from './ledger.js';
import { METRIC_TABLES, TableRows, alertRow, binaryLayouts, insertRows, logRow, metricRow, type Row, type TableName } from './rows.js';
import type { RowBinaryLayout } from './rowbinary.js';

const log = logger('ingest');

/**
 * Deduplicated inserts; a batch whose rows span many days (a sender's clock far off) is written
 * rather than refused for touching more than 100 daily partitions. The rollup views a metric insert
 * feeds (latest, sources, per minute, per hour, hosts) run side by side instead of one after the
 * other: `.scratch`-style inserts of 5,000 points went from 41-52k to 56-70k points/s on 2 cores.
 */
const INSERT_SETTINGS = { insert_deduplicate: 1, max_partitions_per_insert_block: 0, parallel_view_processing: 1 } as const;

function rejectionText(rejected: Rejection[]): string {
  const left = rejected.reduce((n, r) => n + r.records, 0);
  const shown = rejected.slice(0, 3).map((r) => `${r.path}: ${r.reason}`).join('; ');
  return `left out ${left}: ${shown}${rejected.length > 3 ? `; and ${rejected.length - 3} more` : ''}`;
}

/**
 * Ingest: consumes the OTLP topics and `vigil.alerts` as one consumer group and writes batches
 * to ClickHouse. A batch's offsets are committed only after its rows are written (the bus
 * commits when the handler resolves); replays are no-ops thanks to dedup tokens (ledger.ts).
 * A record that cannot be decoded goes to the dead-letter topic and the batch goes on.
 */
export function createIngestRole(ctx: RoleContext): Role {
  const { config, bus, telemetry } = ctx;
  const storage = requireStorage(ctx, 'ingest');
  const topics = config.kafka.topics;
  const m = telemetry.meter;
  const recordsIn = m.createCounter('vigil_ingest_records', { description: 'Kafka records consumed, by topic.' });
  const rowsOut = m.createCounter('vigil_ingest_rows', { description: 'Rows written, by table.' });
  const dlqOut = m.createCounter('vigil_ingest_dead_letters', { description: 'Records sent to the dead-letter topic, by source topic.' });
  const batchRows = m.createHistogram('vigil_ingest_batch_rows', { description: 'Rows per written batch.' });
  const insertSeconds = m.createHistogram('vigil_ingest_batch_duration_seconds', { unit: 's', description: 'Time to handle one batch: decode, write, dead letters.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const expiredRows = m.createCounter('vigil_ingest_expired_rows', {
    description: 'Rows older than clickhouse.retention when written: the engine drops them at once (TTL), by table. A sender whose clock is far behind shows here.',
  });
  expiredRows.add(0);
  const refusedRows = m.createCounter('vigil_ingest_refused_rows', { description: 'Rows the engine refused on their own (their records went to the dead-letter topic), by table.' });

  let subscription: Subscription | undefined;
  let unwatch: (() => void) | undefined;
  let producer: Promise<BusProducer> | undefined;
  /** Last offset written per topic-partition in this process; a batch right after it needs no ledger lookup. */
  const handled = new Map<string, bigint>();

  async function intentsWithin(topic: string, partition: number, batch: OffsetRange, records: ConsumedRecord[]): Promise<OffsetRange[]> {
    const rows = await queryRows<{ FirstOffset: string | number; LastOffset: string | number; FirstTimestamp: string | number }>(
      storage,
      `SELECT FirstOffset, max(LastOffset) AS LastOffset, FirstTimestamp FROM ${storage.table('vigil_ingest_ledger')}
       WHERE Topic = {topic:String} AND Partition = {partition:UInt32} AND FirstOffset BETWEEN {first:UInt64} AND {last:UInt64}
       GROUP BY FirstOffset, FirstTimestamp`,
      { topic, partition, first: batch.first.toString(), last: batch.last.toString() },
    );
    // An intent of an earlier incarnation of the topic (same offsets, other records) is not ours.
    const timestampAt = new Map(records.map((r) => [r.offset, r.timestamp]));
    return rows
      .filter((r) => Number(r.FirstTimestamp) === 0 || timestampAt.get(String(r.FirstOffset)) === Number(r.FirstTimestamp))
      .map((r) => ({ first: BigInt(r.FirstOffset), last: BigInt(r.LastOffset) }));
  }

  /**
   * Rows of the records, each with its record; what cannot be decoded at all, or in part, goes to
   * `dead`. Tables in `layouts` keep their rows encoded as they come (see TableRows).
   */
  async function rowsOf(records: ConsumedRecord[], layouts: Map<TableName, RowBinaryLayout | undefined>, dead: Map<string, BusRecord>, errors: string[]): Promise<TableRows<ConsumedRecord>> {
    // A batch of the all-in-one's log is up to 8 MiB: decoded in one go it held the event loop (and the intake's requests) for 200-300 ms.
    const slice = timeSlices();
    const out = new TableRows<ConsumedRecord>(layouts);
    const oldest = `${Date.now() - config.clickhouse.retention}000000`.padStart(19, '0');
    const expired = new Map<string, number>();
    const checkAge = (table: string, nanos: string) => {
      if (nanos < oldest) expired.set(table, (expired.get(table) ?? 0) + 1);
    };
    const refuse = (r: ConsumedRecord, reason: string) => {
      if (!dead.has(r.offset)) dead.set(r.offset, deadLetter(r, reason));
      errors.push(reason);
    };
    /** Adds a record's row; false (the first reason kept) when it cannot be written, so the record's other rows still are. */
    let unwritable: { count: number; reason: string } | undefined;
    const add = (table: TableName, row: Row, r: ConsumedRecord): boolean => {
      try {
        out.add(table, row, r);
        return true;
      } catch (err) {
        unwritable = { count: (unwritable?.count ?? 0) + 1, reason: unwritable?.reason ?? (err as Error).message };
        return false;
      }
    };
    const partly = (r: ConsumedRecord, what: string, read: { records: unknown[]; rejected: Rejection[] }) => {
      if (read.rejected.length === 0 && !unwritable) return;
      const why = [...(read.rejected.length > 0 ? [rejectionText(read.rejected)] : []), ...(unwritable ? [`left out ${unwritable.count} that cannot be written: ${unwritable.reason}`] : [])];
      refuse(r, `stored ${read.records.length - (unwritable?.count ?? 0)} ${what}; ${why.join('; ')}`);
    };
    for (const r of records) {
      const pause = slice();
      if (pause) await pause;
      unwritable = undefined;
      try {
        if (r.topic === topics.metrics) {
          const read = readMetrics(r.value, { arrivalMs: r.timestamp });
          for (const p of read.records) if (add(METRIC_TABLES[p.kind], metricRow(p), r)) checkAge(METRIC_TABLES[p.kind], p.timeUnixNano);
          partly(r, 'data points', read);
        } else if (r.topic === topics.logs) {
          const read = readLogs(r.value, { arrivalMs: r.timestamp });
          for (const e of read.records) if (add('otel_logs', logRow(e), r)) checkAge('otel_logs', e.timeUnixNano);
          partly(r, 'log records', read);
        } else if (r.topic === topics.alerts) {
          if (!add('vigil_alerts', alertRow(decodeAlert(r.value), r.timestamp), r)) refuse(r, unwritable!.reason);
        }
      } catch (err) {
        refuse(r, err instanceof Error ? err.message : String(err));
      }
    }
    for (const [table, n] of expired) expiredRows.add(n, { table });
    return out;
  }

  async function engineUp(): Promise<boolean> {
    return storage.ping();
  }

  /**
   * Plans and decodes a batch; the inserts and dead letters are its finish, which the bus runs
   * behind (with `ingest.pipeline` above 1, while the next batch is fetched and decoded) and
   * retries alone: the same rows under the same deduplication tokens.
   */
  async function handle(batch: Batch): Promise<BatchFinish> {
    const { topic, partition, records } = batch;
    const first = BigInt(records[0]!.offset);
    const last = BigInt(records[records.length - 1]!.offset);
    const tp = `${topic}:${partition}`;
    const started = performance.now();
    recordsIn.add(records.length, { topic });

    // Right after our own last batch (planned in this process) nothing can have been recorded inside this one.
    const intents = handled.get(tp) === first - 1n ? [] : await intentsWithin(topic, partition, { first, last }, records);
    handled.set(tp, last);
    const dead = new Map<string, BusRecord>();
    const errors: string[] = [];
    const layouts = await binaryLayouts(storage, topic === topics.metrics ? Object.values(METRIC_TABLES) : topic === topics.logs ? ['otel_logs'] : ['vigil_alerts']);
    const planned: { slice: ConsumedRecord[]; token: OffsetRange; rows: TableRows<ConsumedRecord> }[] = [];
    for (const { range, token } of planRanges({ first, last }, intents)) {
      const slice = records.filter((r) => {
        const o = BigInt(r.offset);
        return o >= range.first && o <= range.last;
      });
      planned.push({ slice, token, rows: await rowsOf(slice, layouts, dead, errors) });
    }
    const decodedMs = performance.now() - started;
    return async () => {
      const began = performance.now();
      await write(topic, partition, planned, dead, errors);
      insertSeconds.record((decodedMs + performance.now() - began) / 1000);
    };
  }

  /** The rows of a planned batch, each range under its token, then its dead letters. */
  async function write(topic: string, partition: number, planned: { slice: ConsumedRecord[]; token: OffsetRange; rows: TableRows<ConsumedRecord> }[], dead: Map<string, BusRecord>, errors: string[]): Promise<void> {
    for (const { slice, token, rows } of planned) {
      if (rows.size === 0) continue;
      // The token's first record is in this slice: a plan starts every range at an intent's first offset or a new one.
      const firstTimestamp = slice[0]!.timestamp;
      await storage.client.insert({
        table: storage.table('vigil_ingest_ledger'),
        values: [{ Topic: topic, Partition: partition, FirstOffset: token.first.toString(), LastOffset: token.last.toString(), FirstTimestamp: firstTimestamp, Time: Date.now() }],
        format: 'JSONEachRow',
      });
      const tokenText = dedupToken(topic, partition, token, firstTimestamp);
      for (const [table, values] of rows.byTable) {
        const refused = await insertIsolating(
          values,
          (part, suffix) => insertRows(storage, table, part, { ...INSERT_SETTINGS, insert_deduplication_token: suffix ? `${tokenText}/${table}/${suffix}` : tokenText }),
          { engineUp },
        );
        const origins = rows.origins.get(table)!;
        for (const { index, error } of refused) {
          const origin = origins[index]!;
          const reason = `the engine refused a row of ${table}: ${error}`;
          if (!dead.has(origin.offset)) dead.set(origin.offset, deadLetter(origin, reason));
          errors.push(reason);
        }
        rowsOut.add(values.length - refused.length, { table });
        if (refused.length > 0) refusedRows.add(refused.length, { table });
      }
      batchRows.record(rows.size);
    }
    if (dead.size > 0) {
      producer ??= bus.producer();
      const p = await producer;
      await p.send(topics.dlq, [...dead.values()]);
      dlqOut.add(dead.size, { topic });
      // The first error's head only: engine errors quote the refused data.
      log.warn({ topic, partition, count: dead.size, firstError: errors[0]?.slice(0, 160) }, 'sent records that could not be stored (whole or in part) to the dead-letter topic');
    }
  }

  return {
    name: 'ingest',
    async start() {
      await bus.ensureTopics([{ name: topics.metrics }, { name: topics.logs }, { name: topics.alerts }, { name: topics.dlq }]);
      subscription = await bus.subscribe({
        groupId: config.ingest.groupId,
        topics: [topics.metrics, topics.logs, topics.alerts],
        fromBeginning: true,
        handler: handle,
        pipeline: config.ingest.pipeline,
      });
      unwatch = watchConsumer({ name: 'ingest', group: config.ingest.groupId, subscription, health: ctx.health, meter: m });
      log.info({ topics: [topics.metrics, topics.logs, topics.alerts], group: config.ingest.groupId }, 'ingest started');
    },
    async stop() {
      unwatch?.();
      await subscription?.stop();
      subscription = undefined;
    },
  };
}
