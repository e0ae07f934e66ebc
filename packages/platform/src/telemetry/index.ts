import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';

/**
 * Vigil's own metrics: the OpenTelemetry SDK, read out in Prometheus text format by
 * `@opentelemetry/exporter-prometheus` on the process's `/metrics`. Not registered globally, so
 * several roles (or several tests) in one process can each have their own.
 */
/**
 * Bucket boundaries of every duration histogram, in seconds (names end in `_seconds`, values are
 * base units as Prometheus wants): from 1 ms to a minute. The SDK's default boundaries are meant
 * for milliseconds and would put every value in the first buckets.
 */
export const SECONDS_BUCKETS: number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface Telemetry {
  meter: Meter;
  /** Serves Prometheus text on a raw Node response. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

export function createTelemetry(serviceName: string, attributes: Record<string, string> = {}): Telemetry {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, ...attributes }),
    readers: [exporter],
  });
  return {
    meter: provider.getMeter('vigil'),
    handle: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: () => provider.shutdown(),
  };
}
