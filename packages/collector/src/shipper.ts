import type { Counter } from '@opentelemetry/api';
import { logger, type Bus, type BusProducer } from '@vigil/platform';

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
  sent: Counter;
  failed: Counter;
}

/** Sends straight to the bus; a failed send is counted and reported to the caller. */
export function directShipper(opts: ShipperOptions): Shipper {
  let producer: Promise<BusProducer> | undefined;
  return {
    async ship(topic, key, value, count, source) {
      try {
        producer ??= opts.bus.producer();
        await (await producer).send(topic, [{ key, value }]);
        opts.sent.add(count, { source });
      } catch (err) {
        opts.failed.add(count, { source });
        log.warn({ source, count, topic, err: (err as Error).message }, 'could not hand records to the bus');
        throw err;
      }
    },
    async flush() {},
    async stop() {},
  };
}
