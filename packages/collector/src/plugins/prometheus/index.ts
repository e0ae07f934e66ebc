import type { Attributes } from '@opentelemetry/api';
import { Type } from '@sinclair/typebox';
import { Duration, VIGIL_VERSION, encodeMetricsRequest, logger } from '@vigil/platform';
import { definePlugin, type PluginContext } from '../../plugin.js';
import { parseExposition } from './exposition.js';
import { StartTimes, toMetricsRequest, type ScrapeHealth } from './otlp.js';
import { Loops } from '../loops.js';

export { parseExposition, parseValue, ExpositionError, type Family, type Sample, type FamilyType } from './exposition.js';
export { toMetricsRequest, bucketsToOtlp, StartTimes, healthMetrics, type ScrapeHealth } from './otlp.js';

const log = logger('collector.prometheus');

/** Ask for the 0.0.4 text format, which is what we parse (OpenMetrics or protobuf otherwise). */
export const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

export const PrometheusOptions = Type.Object(
  {
    targets: Type.Array(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://', description: 'The metrics endpoint, e.g. http://10.0.0.5:9100/metrics.' }),
          job: Type.Optional(Type.String({ minLength: 1, description: "Sets the resource's service.name (as Prometheus' job label does); default: the collector's service.name." })),
          labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Resource attributes added to this target’s metrics.' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, description: 'Endpoints to scrape.' },
    ),
    interval: Duration({ default: '15s', description: 'Time between two scrapes of a target.' }),
    timeout: Duration({ default: '10s', description: 'A scrape taking longer fails (vigil.scrape.up 0).' }),
  },
  { additionalProperties: false },
);

interface Target {
  url: string;
  job?: string;
  labels: Record<string, string>;
}

/** The resource of a target's metrics: the collector's attributes, then the target's identity. */
export function targetResource(collector: Attributes, t: Target): Attributes {
  const u = new URL(t.url);
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const out: Attributes = Object.assign({}, collector, {
    'service.instance.id': `${u.hostname}:${port}`,
    'server.address': u.hostname,
    'server.port': port,
    'url.scheme': u.protocol.slice(0, -1),
  });
  if (t.job) out['service.name'] = t.job;
  return Object.assign(out, t.labels);
}

/** Where a failure came from, without the URL's credentials or query. */
function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export interface ScrapeResult {
  payload: Buffer;
  health: ScrapeHealth;
  error?: string;
}

/** One scrape of one target: fetch, parse, convert; a failure is a payload with vigil.scrape.up 0. */
export async function scrapeOnce(t: Target, resource: Attributes, starts: StartTimes, timeoutMs: number, signal?: AbortSignal): Promise<ScrapeResult> {
  const scope = { name: 'vigil.collector.prometheus', version: VIGIL_VERSION };
  const scrapeMs = Date.now();
  const began = performance.now();
  let error: string | undefined;
  let families: ReturnType<typeof parseExposition> = [];
  try {
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (signal) signals.push(signal);
    const res = await fetch(t.url, { headers: { accept: ACCEPT, 'x-prometheus-scrape-timeout-seconds': String(timeoutMs / 1000) }, signal: AbortSignal.any(signals) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    families = parseExposition(text);
  } catch (err) {
    const e = err as Error;
    error = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.message + (e.cause instanceof Error ? ` (${e.cause.message})` : '');
    families = [];
  }
  let samples = 0;
  for (const f of families) samples += f.samples.length;
  const health: ScrapeHealth = { up: error === undefined, durationMs: performance.now() - began, samples };
  const body = toMetricsRequest(families, resource, scope, { scrapeMs, starts }, health);
  if (!error) starts.prune(scrapeMs);
  return { payload: encodeMetricsRequest(body), health, error };
}

/**
 * `type: prometheus`: scrapes Prometheus text endpoints every `interval` and ships each scrape
 * as one OTLP ExportMetricsServiceRequest onto the metrics topic, with the target's health
 * (vigil.scrape.up, .duration, .samples) in it.
 */
export const prometheusPlugin = definePlugin({
  type: 'prometheus',
  description: 'Scrapes Prometheus /metrics endpoints into OTLP metrics.',
  schema: PrometheusOptions,
  create(options, ctx: PluginContext) {
    const loops = new Loops((err) => log.warn({ plugin: ctx.name, err: err.message }, 'scrape loop failed'));
    const timeout = Math.min(options.timeout, options.interval);

    const loop = (t: Target) => {
      const resource = targetResource(ctx.resource, t);
      const starts = new StartTimes();
      let wasUp: boolean | undefined;
      const where = safeUrl(t.url);
      loops.every(options.interval, async () => {
        const r = await scrapeOnce(t, resource, starts, timeout, ctx.signal);
        // Logged when the target's state changes, not at every failed scrape.
        if (r.health.up !== wasUp) {
          if (r.error) log.warn({ plugin: ctx.name, target: where, err: r.error }, 'scrape failed; check the URL and that the exporter runs');
          else if (wasUp === false) log.info({ plugin: ctx.name, target: where }, 'scrape recovered');
        }
        wasUp = r.health.up;
        await ctx.otlp('metrics', r.payload).catch((err: Error) => log.warn({ plugin: ctx.name, target: where, err: err.message }, 'could not hand the scrape to the shipper'));
      });
    };

    return {
      async start() {
        for (const t of options.targets) loop(t);
      },
      async stop() {
        await loops.stop();
      },
    };
  },
});
