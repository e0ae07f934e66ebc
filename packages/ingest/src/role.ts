import {
  deadLetter,
  decodeAlert,
  logEntries,
  logger,
  metricPoints,
  queryRows,
  requireStorage,
  type Batch,
  type BusProducer,
  type BusRecord,
  type ConsumedRecord,
  type Role,
  type RoleContext,
  type Subscription,
} from '@vigil/platform';
import { dedupToken, planRanges, type OffsetRange } from './ledger.js';
import { METRIC_TABLES, TableRows, alertRow, insertRows, logRow, metricRow } from './rows.js';

const log = logger('ingest');

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
  const insertMs = m.createHistogram('vigil_ingest_insert_duration', { unit: 'ms', description: 'Time to write one batch.' });

  let subscription: Subscription | undefined;
  let producer: Promise<BusProducer> | undefined;
  /** Last offset written per topic-partition in this process; a batch right after it needs no ledger lookup. */
  const handled = new Map<string, bigint>();

  async function intentsWithin(topic: string, partition: number, batch: OffsetRange): Promise<OffsetRange[]> {
    const rows = await queryRows<{ FirstOffset: string | number; LastOffset: string | number }>(
      storage,
      `SELECT FirstOffset, max(LastOffset) AS LastOffset FROM ${storage.table('vigil_ingest_ledger')}
       WHERE Topic = {topic:String} AND Partition = {partition:UInt32} AND FirstOffset BETWEEN {first:UInt64} AND {last:UInt64}
       GROUP BY FirstOffset`,
      { topic, partition, first: batch.first.toString(), last: batch.last.toString() },
    );
    return rows.map((r) => ({ first: BigInt(r.FirstOffset), last: BigInt(r.LastOffset) }));
  }

  function rowsOf(records: ConsumedRecord[], dead: BusRecord[], errors: string[]): TableRows {
    const out = new TableRows();
    for (const r of records) {
      try {
        if (r.topic === topics.metrics) for (const p of metricPoints(r.value)) out.add(METRIC_TABLES[p.kind], metricRow(p));
        else if (r.topic === topics.logs) for (const e of logEntries(r.value)) out.add('otel_logs', logRow(e));
        else if (r.topic === topics.alerts) out.add('vigil_alerts', alertRow(decodeAlert(r.value), r.timestamp));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        dead.push(deadLetter(r, reason));
        errors.push(reason);
      }
    }
    return out;
  }

  async function handle(batch: Batch): Promise<void> {
    const { topic, partition, records } = batch;
    const first = BigInt(records[0]!.offset);
    const last = BigInt(records[records.length - 1]!.offset);
    const tp = `${topic}:${partition}`;
    const started = performance.now();
    recordsIn.add(records.length, { topic });

    // Right after our own last batch nothing can have been recorded inside this one.
    const intents = handled.get(tp) === first - 1n ? [] : await intentsWithin(topic, partition, { first, last });
    const dead: BusRecord[] = [];
    const errors: string[] = [];
    for (const { range, token } of planRanges({ first, last }, intents)) {
      const slice = records.filter((r) => {
        const o = BigInt(r.offset);
        return o >= range.first && o <= range.last;
      });
      const rows = rowsOf(slice, dead, errors);
      if (rows.size === 0) continue;
      await storage.client.insert({
        table: storage.table('vigil_ingest_ledger'),
        values: [{ Topic: topic, Partition: partition, FirstOffset: token.first.toString(), LastOffset: token.last.toString(), Time: Date.now() }],
        format: 'JSONEachRow',
      });
      const settings = { insert_deduplicate: 1, insert_deduplication_token: dedupToken(topic, partition, token) };
      for (const [table, values] of rows.byTable) {
        await insertRows(storage, table, values, settings);
        rowsOut.add(values.length, { table });
      }
      batchRows.record(rows.size);
    }
    if (dead.length > 0) {
      producer ??= bus.producer();
      const p = await producer;
      await p.send(topics.dlq, dead);
      dlqOut.add(dead.length, { topic });
      log.warn({ topic, partition, count: dead.length, firstError: errors[0] }, 'sent undecodable records to the dead-letter topic');
    }
    handled.set(tp, last);
    insertMs.record(performance.now() - started);
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
      });
      log.info({ topics: [topics.metrics, topics.logs, topics.alerts], group: config.ingest.groupId }, 'ingest started');
    },
    async stop() {
      await subscription?.stop();
      subscription = undefined;
    },
  };
}
