import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { metricPoints, type MetricPoint } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from '../../../test/harness/index.js';
import { checkSection } from '@vigil/platform';
import { ACCEPT, prometheusPlugin } from '../src/plugins/prometheus/index.js';
import type { PluginContext } from '../src/plugin.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

let exporter: ChildProcess | undefined;
let exporterPort = 0;
let app: Server | undefined;
let appPort = 0;
let requests = 0;
let lastAccept = '';

beforeAll(async () => {
  if (!existsSync(NODE_EXPORTER)) throw new Error(`${NODE_EXPORTER} is missing: install the Debian package prometheus-node-exporter`);
  exporterPort = await freePort();
  exporter = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${exporterPort}`, '--collector.disable-defaults', '--collector.cpu', '--collector.meminfo', '--collector.loadavg'], { stdio: 'ignore' });
  await eventually('node_exporter answering', () => fetch(`http://127.0.0.1:${exporterPort}/metrics`).then((r) => r.status), (s) => s === 200, 15_000, 100);

  // An application exposing a histogram and a counter, as a service instrumented with prom-client would.
  app = createServer((req, res) => {
    requests++;
    lastAccept = String(req.headers.accept);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      [
        '# HELP app_request_duration_seconds Request duration.',
        '# TYPE app_request_duration_seconds histogram',
        `app_request_duration_seconds_bucket{route="/orders",le="0.1"} ${requests}`,
        `app_request_duration_seconds_bucket{route="/orders",le="0.5"} ${requests * 2}`,
        `app_request_duration_seconds_bucket{route="/orders",le="+Inf"} ${requests * 3}`,
        `app_request_duration_seconds_sum{route="/orders"} ${requests * 0.7}`,
        `app_request_duration_seconds_count{route="/orders"} ${requests * 3}`,
        '# TYPE app_orders_waiting gauge',
        'app_orders_waiting 12',
        '',
      ].join('\n'),
    );
  });
  appPort = await freePort();
  await new Promise<void>((r) => app!.listen(appPort, '127.0.0.1', r));
});

afterAll(async () => {
  exporter?.kill('SIGTERM');
  await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
});

function context(payloads: MetricPoint[][]): { ctx: PluginContext; abort: AbortController } {
  const abort = new AbortController();
  const ctx = {
    name: 'prometheus',
    resource: { 'host.id': 'h-1', 'host.name': 'collector-host', 'service.name': 'vigil-collector' },
    signal: abort.signal,
    otlp: async (signal: string, payload: Buffer) => {
      expect(signal).toBe('metrics');
      payloads.push(metricPoints(payload));
    },
  } as unknown as PluginContext;
  return { ctx, abort };
}

describe('prometheus plugin against a real node_exporter and a real HTTP exporter', () => {
  it('ships node_cpu_seconds_total as a monotonic cumulative sum with cpu/mode attributes, the app histogram, and target health', async () => {
    const payloads: MetricPoint[][] = [];
    const { ctx, abort } = context(payloads);
    const unreachable = await freePort();
    const options = checkSection(
      prometheusPlugin.schema,
      {
        interval: '200ms',
        timeout: '2s',
        targets: [
          { url: `http://127.0.0.1:${exporterPort}/metrics`, job: 'node' },
          { url: `http://127.0.0.1:${appPort}/metrics`, labels: { env: 'test' } },
          { url: `http://127.0.0.1:${unreachable}/metrics` },
        ],
      },
      'collector.plugins[0]',
    );
    const instance = prometheusPlugin.create(options, ctx);
    await instance.start();
    const all = () => payloads.flat();
    await eventually('two scrapes of each target', () => payloads.length, (n) => n >= 6, 20_000, 50);
    await instance.stop();
    abort.abort();
    const countAfterStop = payloads.length;

    const node = all().filter((p) => p.resource.attributes['service.instance.id'] === `127.0.0.1:${exporterPort}`);
    const cpu = node.filter((p) => p.name === 'node_cpu_seconds_total');
    expect(cpu.length).toBeGreaterThan(0);
    for (const p of cpu) {
      expect(p.kind).toBe('sum');
      if (p.kind !== 'sum') continue;
      expect(p.monotonic).toBe(true);
      expect(p.temporality).toBe(2);
      expect(Object.keys(p.attributes).sort()).toEqual(['cpu', 'mode']);
      expect(BigInt(p.startTimeUnixNano) <= BigInt(p.timeUnixNano)).toBe(true);
    }
    expect(new Set(cpu.map((p) => p.attributes.mode))).toContain('idle');
    expect(cpu[0]!.resource.attributes).toMatchObject({ 'service.name': 'node', 'host.name': 'collector-host', 'server.address': '127.0.0.1', 'server.port': String(exporterPort) });
    const gc = node.find((p) => p.name === 'go_gc_duration_seconds');
    expect(gc?.kind).toBe('summary');
    expect(gc?.kind === 'summary' && gc.quantiles.map((q) => q.quantile)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(node.find((p) => p.name === 'node_memory_MemTotal_bytes')).toMatchObject({ kind: 'gauge' });
    expect(node.filter((p) => p.name === 'vigil.scrape.up').every((p) => p.kind === 'gauge' && p.value === 1)).toBe(true);
    expect(node.find((p) => p.name === 'vigil.scrape.samples')!).toMatchObject({ kind: 'gauge' });
    expect((node.find((p) => p.name === 'vigil.scrape.samples') as { value: number }).value).toBeGreaterThan(50);

    const appPoints = all().filter((p) => p.resource.attributes['service.instance.id'] === `127.0.0.1:${appPort}`);
    const hist = appPoints.filter((p) => p.name === 'app_request_duration_seconds');
    expect(hist.length).toBeGreaterThanOrEqual(2);
    const h = hist[hist.length - 1]!;
    expect(h.kind).toBe('histogram');
    if (h.kind === 'histogram') {
      expect(h.explicitBounds).toEqual([0.1, 0.5]);
      expect(h.bucketCounts).toEqual([h.count / 3, h.count / 3, h.count / 3]);
      expect(h.attributes).toEqual({ route: '/orders' });
      expect(h.startTimeUnixNano).toBe(hist[0]!.startTimeUnixNano);
    }
    expect(h.resource.attributes.env).toBe('test');
    expect(lastAccept).toBe(ACCEPT);

    const down = all().filter((p) => p.resource.attributes['service.instance.id'] === `127.0.0.1:${unreachable}`);
    expect(down.map((p) => p.name).sort()).toContain('vigil.scrape.up');
    expect(down.filter((p) => p.name === 'vigil.scrape.up').every((p) => p.kind === 'gauge' && p.value === 0)).toBe(true);
    expect(down.filter((p) => !p.name.startsWith('vigil.scrape.'))).toEqual([]);

    await new Promise((r) => setTimeout(r, 400));
    expect(payloads.length).toBe(countAfterStop);
  });
});
