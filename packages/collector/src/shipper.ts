import type { Counter, Meter, ObservableCallback, ObservableGauge } from '@opentelemetry/api';
import { backoffDelay, logger, sleep, type Bus, type BusProducer, type BusRecord, type HealthRegistry } from '@vigil/platform';
import { DiskSpool, type DropCount } from './spool/spool.js';
import type { SpoolRecord } from './spool/segment.js';

const log = logger('collector.ship');

/**
 * Where every record a plugin makes goes: one OTLP export request at a time, onto its topic,
 * keyed by its source so one source stays ordered in one partition.
 */
export interface Shipper {
  /**
   * Resolves once the request is durable (accepted by the bus, or kept on the spool).
   * `count` is the number of records or points in it; `source` the plugin instance, for metrics.
   */
  ship(topic: string, key: string | null, value: Buffer, count: number, source: string): Promise<void>;
  /** Waits until everything handed over so far has been sent or spooled. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface ShipperOptions {
  bus: Bus;
  /** The process's meter (what /metrics shows). */
  meter: Meter;
  /** Registers the `spool` dependency when given. */
  health?: HealthRegistry;
  /** Export requests held in memory on their way to the bus (`collector.queue.maxRecords`). */
  maxQueue: number;
  spool: { dir: string; maxBytes: number; segmentBytes?: number };
  /** How long a plugin waits for the bus before its records go to the spool instead. Default 5 s. */
  sendTimeoutMs?: number;
  /** Requests per send. Default 256. */
  batchSize?: number;
  /**
   * Most bytes (values and keys) in one send, live or replayed from the spool (`collector.queue.maxBatchBytes`).
   * kafkajs makes one record batch of a send, and the broker refuses a batch over its
   * `message.max.bytes` (1 MiB by default); a single larger request still goes alone. Default 768 KiB.
   */
  batchBytes?: number;
  /** Backoff between failed replays from the spool. Default 200 ms doubling to 5 s. */
  retry?: { baseMs: number; maxMs: number };
  /** Called once delivery resumes after the spool dropped records (the role emits `collector.records_dropped`). */
  onDropsReported?: (lost: DropCount) => void;
}

/** What the shipper is doing, for /health and tests. */
export interface ShipperState {
  mode: 'direct' | 'spooling';
  queued: number;
  spool: { entries: number; records: number; bytes: number };
}

export interface QueuedShipper extends Shipper {
  state(): ShipperState;
  /** A reason to hold senders back: the spool is nearly full (at 90 % of collector.spool.maxBytes it would soon drop the oldest). */
  pressure(): { retryAfterSeconds: number; reason: string } | undefined;
}

interface Item extends SpoolRecord {
  resolve(): void;
  reject(err: Error): void;
}

export const DEFAULT_BATCH_BYTES = 768 * 1024;

/**
 * One `send` per run of consecutive records for the same topic, so the order of the batch is the
 * order on the bus; a run is cut where it would pass `maxBytes` of values and keys (a record
 * larger than that goes alone), so no send makes a record batch the broker refuses.
 */
export function topicRuns<T extends { topic: string; value?: Buffer; key?: string | null }>(
  records: readonly T[],
  maxBytes = Number.POSITIVE_INFINITY,
): { topic: string; from: number; to: number }[] {
  const runs: { topic: string; from: number; to: number }[] = [];
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
    const last = runs[runs.length - 1];
    if (last && last.topic === r.topic && bytes + size <= maxBytes) {
      last.to = i + 1;
      bytes += size;
    } else {
      runs.push({ topic: r.topic, from: i, to: i + 1 });
      bytes = size;
    }
  }
  return runs;
}

class SendError extends Error {
  constructor(
    message: string,
    /** How many of the records were taken by the bus before the failure. */
    readonly sent: number,
    /** How many after those went in a send that timed out and may still be taken (ambiguous). */
    readonly maybeSent = 0,
  ) {
    super(message);
  }
}

/**
 * Opens the spool and starts the shipper: a bounded in-memory queue in front of the bus and a
 * bounded on-disk spool behind it.
 *
 * While the bus takes records, requests wait in memory and `ship` resolves when Kafka acked
 * them. When a send fails or times out, or the queue is full, the shipper switches to
 * spooling: what is in memory (the failed batch first) and everything after it is appended to
 * the spool, and `ship` resolves once it is on disk. The spool is replayed in order, with
 * backoff while the bus is down; only when it is empty do new records go through memory again,
 * so one source's records reach the bus in the order they were made. A send that timed out may
 * still be taken (a broker failing over answers after its election): nothing is replayed until it
 * settles, and if the bus took it, its requests at the spool's head are committed without being
 * sent again (compared by content, so a spool that dropped its oldest meanwhile sends them). A
 * crash before that replay sends them twice: at least once. Nothing here throws at a
 * plugin except a failed disk write, which the caller must see (a file tailer keeps its place).
 */
export async function openShipper(opts: ShipperOptions): Promise<QueuedShipper> {
  const meter = opts.meter;
  const dropped = meter.createCounter('vigil_collector_spool_dropped_records', { description: 'Records dropped because the spool was full (oldest first).' });
  const spool = await DiskSpool.open({ ...opts.spool, onDrop: (lost) => dropped.add(lost.records) });
  const kafkaErrors = meter.createCounter('vigil_collector_kafka_errors', { description: 'Sends to the bus that failed or timed out.' });
  // Shown at 0 from the start, so dashboards and alerts see the series before the first loss.
  dropped.add(0);
  kafkaErrors.add(0);
  return new Pump(opts, spool, {
    received: meter.createCounter('vigil_collector_records_received', { description: 'Data points and log records handed to the shipper, per source.' }),
    sent: meter.createCounter('vigil_collector_records_sent', { description: 'Data points and log records accepted by the bus, per source.' }),
    failed: meter.createCounter('vigil_collector_records_failed', {
      description: 'Data points and log records the bus did not take at the first attempt (they went to the spool), or that could not be spooled, per source.',
    }),
    kafkaErrors,
    queueLength: meter.createObservableGauge('vigil_collector_queue_length', { description: 'Export requests in the in-memory queue.' }),
    spoolBytes: meter.createObservableGauge('vigil_collector_spool_bytes', { description: 'Bytes waiting in the on-disk spool.', unit: 'By' }),
    spoolRecords: meter.createObservableGauge('vigil_collector_spool_records', { description: 'Data points and log records waiting in the on-disk spool.' }),
  });
}

interface Instruments {
  received: Counter;
  sent: Counter;
  failed: Counter;
  kafkaErrors: Counter;
  queueLength: ObservableGauge;
  spoolBytes: ObservableGauge;
  spoolRecords: ObservableGauge;
}

class Pump implements QueuedShipper {
  private readonly queue: Item[] = [];
  /** Arrivals while the queue is being moved to the spool; they go right after it. */
  private held: Item[] = [];
  private spooling: boolean;
  private draining: Promise<void> | undefined;
  /** The send of a batch from memory, settled once its items are resolved or put back. */
  private inFlight: Promise<void> | undefined;
  /** A send that timed out and may still complete (true: it did): nothing else is sent before it settles. */
  private outstanding: Promise<boolean> | undefined;
  /** The requests of that send, which went to the spool first: at its head once spooled. */
  private maybeSent: SpoolRecord[] | undefined;
  /** Requests at the spool's head that the bus took after all: committed on replay, not sent again. */
  private delivered: SpoolRecord[] | undefined;
  private wakeUp: (() => void) | undefined;
  private producer: Promise<BusProducer> | undefined;
  private attempt = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private readonly observers: [ObservableGauge, ObservableCallback][];
  private readonly sendTimeoutMs: number;
  private readonly batchSize: number;
  private readonly batchBytes: number;
  private readonly retry: { baseMs: number; maxMs: number };

  constructor(
    private readonly opts: ShipperOptions,
    private readonly spool: DiskSpool,
    private readonly m: Instruments,
  ) {
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 5_000;
    this.batchSize = opts.batchSize ?? 256;
    this.batchBytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.retry = opts.retry ?? { baseMs: 200, maxMs: 5_000 };
    this.spooling = spool.entries > 0;
    this.observers = [
      [m.queueLength, (r) => r.observe(this.queue.length + this.held.length)],
      [m.spoolBytes, (r) => r.observe(this.spool.bytes)],
      [m.spoolRecords, (r) => r.observe(this.spool.records)],
    ];
    for (const [gauge, cb] of this.observers) gauge.addCallback(cb);
    opts.health?.register('spool', () => {
      const s = this.state();
      if (s.mode === 'direct') return { status: 'up', detail: 'empty: records go straight to the bus' };
      // Spooling is how the collector copes with an outage, not a failure of its own: it stays ready.
      return { status: 'degraded', detail: `${s.spool.records} records (${s.spool.bytes} bytes) wait on disk for the bus` };
    });
    this.done = this.run();
  }

  pressure(): { retryAfterSeconds: number; reason: string } | undefined {
    if (!this.spooling || this.spool.bytes < 0.9 * this.opts.spool.maxBytes) return undefined;
    return {
      retryAfterSeconds: 10,
      reason: `the collector's spool holds ${this.spool.bytes} of ${this.opts.spool.maxBytes} bytes (collector.spool.maxBytes) while the bus does not take records`,
    };
  }

  state(): ShipperState {
    return {
      mode: this.spooling ? 'spooling' : 'direct',
      queued: this.queue.length + this.held.length,
      spool: { entries: this.spool.entries, records: this.spool.records, bytes: this.spool.bytes },
    };
  }

  ship(topic: string, key: string | null, value: Buffer, count: number, source: string): Promise<void> {
    this.m.received.add(count, { source });
    if (this.stopped) return Promise.reject(new Error('the collector is stopping: its shipper takes no more records'));
    return new Promise<void>((resolve, reject) => {
      const item: Item = { topic, key, value, count, source, resolve, reject };
      if (!this.spooling && this.queue.length < this.opts.maxQueue) {
        this.queue.push(item);
        this.wake();
        return;
      }
      if (!this.spooling) this.startSpooling(`the in-memory queue is full (${this.opts.maxQueue} requests; collector.queue.maxRecords)`);
      if (this.draining) this.held.push(item);
      else this.toSpool([item]);
    });
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.held.length > 0 || this.inFlight || this.draining || this.spool.appending > 0) {
      await sleep(5);
    }
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    this.abort.abort();
    this.wake();
    // A replay stuck on a dead broker ends with the process; what it held stays on the spool.
    await Promise.race([this.done, sleep(this.sendTimeoutMs)]);
    await this.spool.close();
    for (const [gauge, cb] of this.observers) gauge.removeCallback(cb);
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private startSpooling(why: string): void {
    this.spooling = true;
    log.warn({ why }, 'spooling records to disk until the bus takes them again');
    this.draining = (async () => {
      await this.inFlight;
      const items = this.queue.splice(0);
      for (const h of this.held) items.push(h);
      this.held = [];
      this.draining = undefined;
      this.toSpool(items);
      this.wake();
    })();
  }

  private toSpool(items: Item[]): void {
    if (items.length === 0) return;
    this.spool.append(items).then(
      () => {
        for (const i of items) i.resolve();
      },
      (err: Error) => {
        log.error({ err: err.message, requests: items.length }, 'could not spool records; the plugins that sent them are told');
        for (const i of items) {
          this.m.failed.add(i.count, { source: i.source });
          i.reject(err);
        }
      },
    );
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.outstanding) {
          const tookIt = await this.outstanding;
          this.outstanding = undefined;
          if (tookIt && this.maybeSent) this.delivered = this.maybeSent;
          this.maybeSent = undefined;
        }
        if (this.spooling) await this.replay();
        else if (this.queue.length > 0) await this.sendFromMemory();
        else await this.idle(1_000);
      } catch (err) {
        // Never let the pump die: log, back off, go on.
        log.error({ err: (err as Error).message }, 'shipper loop failed; retrying');
        await sleep(1_000, this.abort.signal);
      }
    }
  }

  private async sendFromMemory(): Promise<void> {
    const batch = this.queue.splice(0, this.batchSize);
    let settle!: () => void;
    this.inFlight = new Promise((r) => (settle = r));
    try {
      await this.send(batch, this.sendTimeoutMs, (from, to) => {
        for (let i = from; i < to; i++) {
          const it = batch[i]!;
          this.m.sent.add(it.count, { source: it.source });
          it.resolve();
        }
      });
      this.attempt = 0;
    } catch (err) {
      const sent = err instanceof SendError ? err.sent : 0;
      const unsent = batch.slice(sent);
      // The run that timed out goes to the spool first (the spool is empty in direct mode): if the
      // bus takes it after all, the replay knows those requests and does not send them again.
      const maybe = err instanceof SendError ? err.maybeSent : 0;
      this.maybeSent = maybe > 0 ? unsent.slice(0, maybe) : undefined;
      for (const it of unsent) this.m.failed.add(it.count, { source: it.source });
      this.queue.unshift(...unsent);
      if (!this.spooling) this.startSpooling(`the bus did not take records: ${(err as Error).message}`);
    } finally {
      this.inFlight = undefined;
      settle();
    }
  }

  private async replay(): Promise<void> {
    if (!this.draining && this.held.length === 0 && this.spool.appending === 0 && this.spool.entries === 0) {
      this.spooling = false;
      log.info('the bus takes records again and the spool is empty');
      const lost = this.spool.takeDropped();
      if (lost.entries > 0) this.opts.onDropsReported?.(lost);
      return;
    }
    const batch = await this.spool.read(this.delivered ? Math.min(this.batchSize, this.delivered.length) : this.batchSize);
    if (!batch) {
      await this.idle(20);
      return;
    }
    if (this.delivered) {
      const known = this.delivered;
      // The same requests, in order (the spool may have dropped its oldest meanwhile: then they differ, and are sent).
      if (batch.records.every((r, i) => sameRequest(r, known[i]))) {
        await this.spool.commit(batch);
        for (const r of batch.records) this.m.sent.add(r.count, { source: r.source });
        this.delivered = known.length > batch.records.length ? known.slice(batch.records.length) : undefined;
        log.info({ requests: batch.records.length }, 'a send that timed out was taken by the bus after all: its spooled copy is not sent again');
        return;
      }
      this.delivered = undefined;
    }
    try {
      // No timeout: nobody waits on these, and a send that completes late would be sent again.
      await this.send(batch.records, undefined, () => undefined);
      await this.spool.commit(batch);
      for (const r of batch.records) this.m.sent.add(r.count, { source: r.source });
      this.attempt = 0;
    } catch {
      await sleep(backoffDelay(this.attempt++, this.retry.baseMs, this.retry.maxMs), this.abort.signal);
    }
  }

  /** Sends in topic runs; `onSent(from, to)` after each run; throws SendError with the number sent. */
  private async send(records: readonly SpoolRecord[], timeoutMs: number | undefined, onSent: (from: number, to: number) => void): Promise<void> {
    let sent = 0;
    let attempted = 0;
    try {
      this.producer ??= this.opts.bus.producer();
      const producer = await this.producer;
      for (const run of topicRuns(records, this.batchBytes)) {
        const out: BusRecord[] = [];
        for (let i = run.from; i < run.to; i++) out.push({ key: records[i]!.key, value: records[i]!.value });
        const sending = producer.send(run.topic, out);
        attempted = run.to;
        if (timeoutMs === undefined) await sending;
        else await this.within(sending, timeoutMs, run.topic);
        onSent(run.from, run.to);
        sent = run.to;
      }
    } catch (err) {
      this.producer = undefined;
      this.m.kafkaErrors.add(1);
      throw new SendError((err as Error).message, sent, err instanceof SendTimeout ? attempted - sent : 0);
    }
  }

  private async within(sending: Promise<void>, ms: number, topic: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
    try {
      const first = await Promise.race([sending.then(() => 'ok' as const), late]);
      if (first === 'late') {
        this.outstanding = sending.then(
          () => true,
          () => false,
        );
        throw new SendTimeout(`no answer from the bus within ${ms} ms (producing to ${topic})`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A send with no answer within the timeout: it may still be taken. */
class SendTimeout extends Error {}

function sameRequest(a: SpoolRecord, b: SpoolRecord | undefined): boolean {
  return b !== undefined && a.topic === b.topic && (a.key ?? null) === (b.key ?? null) && a.value.equals(b.value);
}

export type { DropCount };
