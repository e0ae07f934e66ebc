import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { encodeMetrics, type OtlpEncoding } from '@vigil/platform';
import type { Shipper } from './shipper.js';

export interface ExportTarget {
  shipper: Shipper;
  topic: string;
  encoding: OtlpEncoding;
  /** Kafka key: the resource's identity, so one source stays ordered in one partition. */
  key: string;
  /** Who made these records, for the per-source counters. */
  source: string;
}

/** Hands the SDK's collected metrics to the shipper as one OTLP ExportMetricsServiceRequest per collection. */
export class BusMetricExporter implements PushMetricExporter {
  constructor(private readonly target: ExportTarget) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const points = metrics.scopeMetrics.reduce((n, s) => n + s.metrics.reduce((m, x) => m + x.dataPoints.length, 0), 0);
    if (points === 0) return done({ code: ExportResultCode.SUCCESS });
    void send(this.target, encodeMetrics(metrics, this.target.encoding), points).then(done);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function send(target: ExportTarget, value: Buffer, count: number): Promise<ExportResult> {
  try {
    await target.shipper.ship(target.topic, target.key, value, count, target.source);
    return { code: ExportResultCode.SUCCESS };
  } catch (err) {
    return { code: ExportResultCode.FAILED, error: err as Error };
  }
}
