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
