import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Counter } from '@opentelemetry/api';
import { encodeLogs, encodeMetrics, logger, type BusProducer, type OtlpEncoding } from '@vigil/platform';

const log = logger('collector.export');

export interface ExportTarget {
  producer: () => Promise<BusProducer>;
  topic: string;
  encoding: OtlpEncoding;
  /** Kafka key: the resource's identity, so one source stays ordered in one partition. */
  key: string;
  sent: Counter;
  failed: Counter;
}

/**
 * Hands the SDK's collected metrics to the bus as one OTLP ExportMetricsServiceRequest per
 * collection. A failed send is counted and reported to the SDK; the on-disk spool that keeps
 * such data comes with the collector issue.
 */
export class BusMetricExporter implements PushMetricExporter {
  constructor(private readonly target: ExportTarget) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const points = metrics.scopeMetrics.reduce((n, s) => n + s.metrics.reduce((m, x) => m + x.dataPoints.length, 0), 0);
    if (points === 0) return done({ code: ExportResultCode.SUCCESS });
    void send(this.target, encodeMetrics(metrics, this.target.encoding), points, 'metrics').then(done);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export class BusLogExporter implements LogRecordExporter {
  constructor(private readonly target: ExportTarget) {}

  export(logs: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    if (logs.length === 0) return done({ code: ExportResultCode.SUCCESS });
    void send(this.target, encodeLogs(logs, this.target.encoding), logs.length, 'logs').then(done);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function send(target: ExportTarget, value: Buffer, count: number, signal: string): Promise<ExportResult> {
  try {
    const producer = await target.producer();
    await producer.send(target.topic, [{ key: target.key, value }]);
    target.sent.add(count, { signal });
    return { code: ExportResultCode.SUCCESS };
  } catch (err) {
    target.failed.add(count, { signal });
    log.warn({ signal, count, topic: target.topic, err: (err as Error).message }, 'could not hand records to the bus');
    return { code: ExportResultCode.FAILED, error: err as Error };
  }
}
