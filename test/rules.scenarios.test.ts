import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { LoggerProvider, SimpleLogRecordProcessor, InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SeverityNumber } from '@opentelemetry/api';
import { KafkaBus, encodeLogs, encodeMetrics, parseConfig, type BusProducer } from '@vigil/platform';
import { runVigil, type RunningVigil } from '@vigil/cli';
import { startFakeGithub, type FakeGithub } from '../packages/notifier/test/fake-github.js';
import { watchAlerts, type SeenAlert } from './harness/alerts.js';
import { eventually, kafkaBrokers, unique } from './harness/index.js';
import { startPostgres, type TestPostgres } from './harness/postgres.js';

/**
 * The brief's scenarios end to end: collector, rules, notifier and ingest in one process on the
 * real Kafka and the embedded ClickHouse (the "between the two" deployment), a real PostgreSQL
 * probed, and a GitHub-speaking loopback server.
 */

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const TOKEN = 'ghp_scenarios';

describe('brief scenarios over Kafka and the embedded ClickHouse', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'vigil-scenarios-'));
  const p = unique('scn');
  let pg: TestPostgres;
  let gh: FakeGithub;
  let vigil: RunningVigil;
  let producer: BusProducer;
  let bus: KafkaBus;
  let watch: Awaited<ReturnType<typeof watchAlerts>> | undefined;
  const seen = (): SeenAlert[] => watch?.seen ?? [];
  const topics = { logs: `${p}-logs`, metrics: `${p}-metrics`, alerts: `${p}-alerts`, dlq: `${p}-dlq` };

  beforeAll(async () => {
    pg = await startPostgres();
    gh = await startFakeGithub({ token: TOKEN, repo: 'acme/ops', now: Date.now });
    process.env.GITHUB_TOKEN = TOKEN;
    mkdirSync(join(dir, 'containers'));
    writeFileSync(join(dir, 'containers', 'api.log'), '');
    const config = parseConfig(
      `
dataDir: ${dir}/data
http: { port: 0 }
kafka:
  partitions: 2
  topics: { logs: ${topics.logs}, metrics: ${topics.metrics}, alerts: ${topics.alerts}, dlq: ${topics.dlq} }
ingest: { groupId: ${p}-ingest }
collector:
  interval: 1s
  plugins:
    - { type: file, name: containers, include: ["${dir}/containers/*.log"], startAt: beginning, parser: default, pollInterval: 100ms, attributes: { container.name: api } }
    - { type: probe, targets: [{ name: orders, url: "${pg.url()}", interval: 300ms, timeout: 1s }] }
rules:
  groupId: ${p}-rules
  evaluationInterval: 1s
  maxLateness: 2s
  sources: { silentAfter: 6s }
  rules:
    # The default pack's rules, with windows short enough for a test.
    - name: error_critical
      kind: frequency
      events: { where: { vigil.severity: critical } }
      groupBy: [vigil.error.fingerprint]
      window: 2s
      critical: 1
      annotations: { summary: "{{event.vigil.category}}: {{event.body}}", host.name: "{{event.host.name}}", vigil.category: "{{event.vigil.category}}" }
    - { name: client_silent, kind: absence, events: { name: app.heartbeat }, groupBy: [host.name, service.name], after: 3s }
    - { name: hot, metric: temp, critical: 50, window: 2s, groupBy: [host.name, sensor] }
notifier:
  groupId: ${p}-notifier
  route:
    receiver: sink
    groupWait: 0s
    groupInterval: 1s
    repeatInterval: 1h
    routes: [{ receiver: issues, matchers: ['alertname=~"error_.*"'] }]
  receivers:
    - { name: issues, github: [{ repo: acme/ops, apiUrl: "${gh.url}", commentInterval: 0s, closeOnResolve: false }] }
    - { name: sink, file: [{ path: ${dir}/notifications.jsonl }] }
`,
      { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
    );
    // What the rules worker publishes, as any consumer of vigil.alerts sees it.
    const admin = new Kafka({ clientId: 'scenarios-topics', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 2 })) });
    await admin.disconnect();
    watch = await watchAlerts(config.kafka.brokers, topics.alerts);
    vigil = await runVigil(config, { mode: 'distributed', roles: ['ingest', 'notifier', 'rules', 'collector'] });
    await vigil.started;
    bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'scenarios-feed', partitions: 2 });
    producer = await bus.producer();
  }, 180_000);

  afterAll(async () => {
    await vigil?.stop().catch(() => undefined);
    await watch?.stop().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    await gh?.close();
    pg?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const of = (rule: string, label?: [string, string]) => seen().filter((s) => s.alert.rule === rule && (!label || s.alert.labels[label[0]] === label[1]));

  /** An application's log records as its OpenTelemetry SDK encodes them, on the logs topic. */
  async function appEvents(host: string, events: { name?: string; body?: string; severity?: SeverityNumber }[]) {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'host.name': host, 'host.id': `${p}-${host}`, 'service.name': 'pos' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
    const logger = provider.getLogger('pos');
    for (const e of events) logger.emit({ eventName: e.name ?? 'app.heartbeat', body: e.body ?? 'alive', severityNumber: e.severity ?? SeverityNumber.INFO, timestamp: Date.now() });
    await provider.forceFlush();
    await producer.send(topics.logs, [{ key: host, value: encodeLogs(exporter.getFinishedLogRecords(), 'otlp_proto') }]);
    await provider.shutdown();
  }

  it('D: a tailed container log with a database connection error raises one alert and one GitHub issue; a second occurrence is a comment on it', async () => {
    const log = join(dir, 'containers', 'api.log');
    // The line's own time is when it happened: now (a line from the past would be late for the rules).
    const stamp = () => new Date().toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
    appendFileSync(log, `${stamp()} ERROR [worker-1] orders: psycopg2.OperationalError: could not connect to server: Connection refused\n`);
    await eventually('one GitHub issue', () => gh.issues.size, (n) => n === 1, 60_000);
    const errors = of('error_critical');
    expect(errors.map((s) => [s.alert.status, s.alert.severity])).toEqual([['firing', 'critical']]);
    expect(errors[0]!.alert.labels['vigil.error.fingerprint']).toMatch(/^[0-9a-f]{16}$/);
    const issue = gh.issues.get(1)!;
    expect(issue.title).toMatch(/^\[CRITICAL\] database_connection: /);
    expect(issue.labels).toContain(`vigil:${errors[0]!.alert.labels['vigil.error.fingerprint']}`);
    // The window passes, the alert resolves (the issue stays open: closeOnResolve false), the error comes back.
    await eventually('resolved', () => of('error_critical').map((s) => s.alert.status), (s) => s.includes('resolved'), 30_000);
    appendFileSync(log, `${stamp()} ERROR [worker-2] orders: psycopg2.OperationalError: could not connect to server: Connection refused\n`);
    await eventually('a "fired again" comment', () => gh.issues.get(1)!.comments.map((c) => c.body), (c) => c.some((b) => b.includes('**Fired again**')), 60_000);
    expect(gh.issues.size).toBe(1);
    expect(gh.issues.get(1)!.comments.find((c) => c.body.includes('**Fired again**'))!.body).toContain('1 occurrence of this error in the last 2s');
  }, 120_000);

  it('A: a client that stops sending raises "silent", and it resolves when the client returns', async () => {
    const beat = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await appEvents('pos-17', [{}]);
        await new Promise((r) => setTimeout(r, 400));
      }
    };
    await beat(5);
    expect(of('client_silent', ['host.name', 'pos-17'])).toEqual([]);
    const stoppedAt = Date.now();
    await eventually('silent', () => of('client_silent', ['host.name', 'pos-17']).length, (n) => n >= 1, 30_000);
    const [silent] = of('client_silent', ['host.name', 'pos-17']);
    expect(silent!.alert).toMatchObject({ status: 'firing', severity: 'warning', labels: { alertname: 'client_silent', 'host.name': 'pos-17', 'service.name': 'pos' } });
    // after 3 s, plus at most maxLateness (2 s) and the evaluation step (1 s), plus the hops.
    expect(silent!.at - stoppedAt).toBeLessThan(12_000);
    await beat(4);
    await eventually('resolved', () => of('client_silent', ['host.name', 'pos-17']).map((s) => s.alert.status), (s) => s.includes('resolved'), 30_000);
  }, 90_000);

  it('a stopped collector gives one "source silent" alert and no burst of resolves', async () => {
    const reader = new ManualReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': 'edge-9', 'host.id': `${p}-edge-9`, 'service.name': 'vigil-collector' }), readers: [reader] });
    provider
      .getMeter('collector')
      .createObservableGauge('temp')
      .addCallback((r) => {
        for (const sensor of ['a', 'b', 'c']) r.observe(90, { sensor });
      });
    const send = async () => {
      const { resourceMetrics } = await reader.collect();
      await producer.send(topics.metrics, [{ key: 'edge-9', value: encodeMetrics(resourceMetrics, 'otlp_proto') }]);
    };
    for (let i = 0; i < 8; i++) {
      await send();
      await new Promise((r) => setTimeout(r, 300));
    }
    await eventually('three firing', () => of('hot', ['host.name', 'edge-9']).length, (n) => n === 3, 30_000);
    // The collector stops.
    await eventually('source silent', () => of('source_silent', ['host.name', 'edge-9']).length, (n) => n >= 1, 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(of('source_silent', ['host.name', 'edge-9']).map((s) => [s.alert.status, s.alert.labels['vigil.source']])).toEqual([['firing', `${p}-edge-9`]]);
    expect(of('hot', ['host.name', 'edge-9']).map((s) => s.alert.status)).toEqual(['firing', 'firing', 'firing']);
    const status = (await vigil.app.inject({ url: '/api/v1/rules' })).json() as { rules: { name: string; groups: { state: string; labels: Record<string, string> }[] }[] };
    expect(status.rules.find((r) => r.name === 'hot')!.groups.filter((g) => g.labels['host.name'] === 'edge-9').map((g) => g.state)).toEqual(['nodata', 'nodata', 'nodata']);
    await provider.shutdown();
  }, 90_000);

  it('B: a probe to a stopped PostgreSQL fires critical at once', async () => {
    const groups = async () => ((await vigil.app.inject({ url: '/api/v1/rules' })).json() as { rules: { name: string; groups: { state: string }[] }[] }).rules.find((r) => r.name === 'db_unreachable')!.groups;
    await eventually('the probe reports the database up', groups, (g) => g.length === 1 && g[0]!.state === 'inactive', 30_000);
    expect(of('db_unreachable')).toEqual([]);
    const stoppedAt = Date.now();
    pg.stop();
    await eventually('db_unreachable', () => of('db_unreachable').length, (n) => n >= 1, 30_000);
    const [down] = of('db_unreachable');
    expect(down!.alert).toMatchObject({ status: 'firing', severity: 'critical', labels: { alertname: 'db_unreachable', 'vigil.probe.name': 'orders' } });
    // No window, no `for`: the next collection after the failed check (collector.interval 1 s), and the hops.
    expect(down!.at - stoppedAt).toBeLessThan(5_000);
    pg.start();
    await eventually('resolved', () => of('db_unreachable').map((s) => s.alert.status), (s) => s.includes('resolved'), 30_000);
  }, 90_000);
});
