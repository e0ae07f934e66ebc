import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { HealthRegistry, KafkaBus, accessPolicy, createHttpServer, createTelemetry, encodeMetrics, parseConfig } from '@vigil/platform';
import { createRulesRole, registerRulesApi } from '@vigil/rules';
import { watchAlerts } from './harness/alerts.js';
import { eventually, freePort, kafkaBrokers, unique } from './harness/index.js';

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A host reporting one gauge, `temp`, through the OpenTelemetry SDK, as OTLP on Kafka. */
function sensor(host: string) {
  let value = 0;
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'host.name': host, 'host.id': host }), readers: [reader] });
  provider.getMeter('test').createObservableGauge('temp').addCallback((r) => r.observe(value));
  return {
    set: (v: number) => (value = v),
    async payload() {
      const { resourceMetrics } = await reader.collect();
      return encodeMetrics(resourceMetrics, 'otlp_proto');
    },
    shutdown: () => provider.shutdown(),
  };
}

describe('rules reload (file change, POST /api/v1/rules/reload) over Kafka', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('a bad rule file is refused whole and the old rules keep firing; a good one applies; GET /api/v1/rules shows it all', async () => {
    const prefix = unique('rules-reload');
    const dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-reload-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const ruleFile = join(dir, 'hot.yaml');
    writeFileSync(ruleFile, 'rules:\n  - { name: hot, metric: temp, critical: 50, window: 1s, groupBy: [host.name] }\n');
    const config = parseConfig(
      `kafka:\n  partitions: 2\n  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }\nrules:\n  groupId: ${prefix}-rules\n  evaluationInterval: 500ms\n  maxLateness: 2s\n  defaults: false\n  files: [${dir}]\n`,
      { env: { KAFKA_BROKERS: kafkaBrokers().join(',') } },
    );
    const bus = new KafkaBus({ brokers: config.kafka.brokers, clientId: 'rules-reload', partitions: 2 });
    cleanup.push(() => bus.close());
    const telemetry = createTelemetry('rules-reload');
    const role = createRulesRole({ config, bus, telemetry, health: new HealthRegistry() });
    const app = createHttpServer(new HealthRegistry(), telemetry, { access: accessPolicy({ token: 'secret-token' }) });
    registerRulesApi(app, role);
    cleanup.push(() => app.close());
    cleanup.push(() => role.stop());

    // What the worker publishes, as any consumer of vigil.alerts reads it.
    const watch = await watchAlerts(config.kafka.brokers, config.kafka.topics.alerts);
    cleanup.push(() => watch.stop());
    const alerts = () => watch.seen.map((s) => `${s.alert.rule}:${s.alert.status}`);

    await role.start();
    const host = sensor(unique('host'));
    cleanup.push(() => host.shutdown());
    const producer = await bus.producer();
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        await producer.send(config.kafka.topics.metrics, [{ key: 'h', value: await host.payload() }]);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    cleanup.push(async () => {
      feeding = false;
      await feed;
    });

    host.set(90);
    await eventually('firing', alerts, (s) => s.includes('hot:firing'));

    // A broken file: refused, logged, shown; the running rules stay.
    writeFileSync(ruleFile, 'rules:\n  - { name: hot, metric: temp, critical: 50, window: 5x }\n  - { name: other, kind: frequncy }\n');
    await eventually('the refused reload', () => role.lastReload()?.ok, (ok) => ok === false, 10_000);
    const refused = await app.inject({ method: 'POST', url: '/api/v1/rules/reload', headers: { authorization: 'Bearer secret-token' } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().problems).toEqual([
      `${ruleFile}: rules[0] "hot": window: "5x" is not a duration (use 30s, 5m, 1h)`,
      `${ruleFile}: rules[1] "other": kind: "frequncy" is not a rule kind (use one of threshold, frequency, ratio, rate, absence, state, sql)`,
    ]);
    expect((await app.inject({ method: 'POST', url: '/api/v1/rules/reload' })).statusCode).toBe(401);
    const status = (await app.inject({ url: '/api/v1/rules', headers: { authorization: 'Bearer secret-token' } })).json();
    expect(status.lastReload).toMatchObject({ ok: false });
    expect(status.rules).toHaveLength(1);
    expect(status.rules[0]).toMatchObject({ name: 'hot', kind: 'threshold', origin: `${ruleFile}: rules[0]`, health: 'ok' });
    expect(status.rules[0].groups).toEqual([expect.objectContaining({ state: 'firing', severity: 'critical', labels: expect.objectContaining({ alertname: 'hot' }) })]);
    expect(status.sources).toEqual([expect.objectContaining({ state: 'live' })]);
    // The old rules still evaluate: cooling down resolves.
    host.set(10);
    await eventually('resolved by the old rules', alerts, (s) => s.includes('hot:resolved'));

    // A good file: applied by the API reload (the watcher may beat it to it: either way it applies).
    writeFileSync(ruleFile, 'rules:\n  - { name: hot, metric: temp, critical: 5, window: 1s, groupBy: [host.name] }\n');
    const applied = await app.inject({ method: 'POST', url: '/api/v1/rules/reload', headers: { authorization: 'Bearer secret-token' } });
    expect(applied.statusCode).toBe(200);
    expect(applied.json()).toMatchObject({ ok: true, rules: 1 });
    await eventually('firing again under the new threshold', alerts, (s) => s.filter((x) => x === 'hot:firing').length >= 2);
  }, 120_000);
});

describe('vigil rules process', () => {
  it('SIGHUP reloads the rules: the config file and its rule files, a bad set refused and the process running on', async () => {
    const prefix = unique('rules-hup');
    const dir = mkdtempSync(join(os.tmpdir(), 'vigil-rules-hup-'));
    const config = join(dir, 'vigil.yaml');
    const write = (threshold: string) =>
      writeFileSync(config, `kafka:\n  topics: { logs: ${prefix}-logs, metrics: ${prefix}-metrics, alerts: ${prefix}-alerts, dlq: ${prefix}-dlq }\nrules:\n  groupId: ${prefix}\n  defaults: false\n  rules:\n    - { name: hot, metric: temp, critical: ${threshold} }\n`);
    write('50');
    const port = await freePort();
    let out = '';
    const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', 'rules', '--config', config], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: join(dir, 'data'), KAFKA_BROKERS: kafkaBrokers().join(','), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually('rules worker started', () => out, (o) => o.includes('rules worker started'), 90_000);
      write('"nope"');
      child.kill('SIGHUP');
      await eventually('refused', () => out, (o) => o.includes('rules reload refused'), 20_000);
      expect(out).toContain('"why":"SIGHUP"');
      expect(out).toContain('rules.rules[0] \\"hot\\": critical: \\"nope\\"');
      write('60');
      child.kill('SIGHUP');
      await eventually('reloaded', () => out, (o) => o.includes('"msg":"rules reloaded"'), 20_000);
      const rules = await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json() as { lastReload: { ok: boolean } };
      expect(rules.lastReload.ok).toBe(true);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
