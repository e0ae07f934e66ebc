import { describe, expect, it } from 'vitest';
import { decodeAlert, encodeAlert, fingerprint, type AlertTransition, type MetricPoint } from '@vigil/platform';
import { RuleEngine, alertLabels } from '../src/engine.js';
import { DEFAULT_RULES, type Rule } from '../src/rules.js';

/** A gauge point as metricPoints() gives it; `host` goes in the resource, like the collector's host.name. */
function gauge(name: string, value: number, atMs: number, attributes: Record<string, string> = {}, host = 'web-1'): MetricPoint {
  return {
    resource: { attributes: { 'host.name': host, 'service.name': 'vigil-collector' }, schemaUrl: '', serviceName: 'vigil-collector' },
    scope: { name: 'vigil.collector.host', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' },
    name,
    description: '',
    unit: '1',
    attributes,
    startTimeUnixNano: '0',
    timeUnixNano: atMs === 0 ? '0' : `${atMs}000000`,
    flags: 0,
    exemplars: [],
    kind: 'gauge',
    value,
  };
}

/** One collection of CPU utilization per mode with the given busy fraction (split over user and system). */
function cpu(busy: number, atMs: number, host = 'web-1'): MetricPoint[] {
  return [
    gauge('system.cpu.utilization', busy * 0.75, atMs, { 'cpu.mode': 'user' }, host),
    gauge('system.cpu.utilization', busy * 0.25, atMs, { 'cpu.mode': 'system' }, host),
    gauge('system.cpu.utilization', 0, atMs, { 'cpu.mode': 'nice' }, host),
    gauge('system.cpu.utilization', 1 - busy, atMs, { 'cpu.mode': 'idle' }, host),
  ];
}

const rule = (over: Partial<Rule> = {}): Rule => ({
  name: 'load_high',
  kind: 'threshold',
  metric: 'load',
  where: {},
  groupBy: ['host.name'],
  aggregate: 'avg',
  window: 10_000,
  op: '>=',
  warning: 1,
  critical: 2,
  for: 0,
  labels: {},
  annotations: {},
  ...over,
});

const brief = (ts: AlertTransition[]) => ts.map((t) => [t.status, t.severity, t.labels['host.name'], +t.value.toFixed(6)]);
const cpuFp = (host: string) => fingerprint({ alertname: 'cpu_high', 'host.name': host });

describe('RuleEngine with the default cpu_high rule', () => {
  it('sums the non-idle modes, waits "for" 1m, fires, de-escalates, and resolves', () => {
    const engine = new RuleEngine(DEFAULT_RULES);
    const out: { at: number; t: AlertTransition }[] = [];
    const tick = (at: number, busy: number) => {
      engine.ingest(cpu(busy, at), at);
      for (const t of engine.evaluate(at)) out.push({ at, t });
    };
    for (let at = 10_000; at <= 60_000; at += 10_000) tick(at, 0.95);
    expect(out).toEqual([]);
    expect(engine.stateOf(cpuFp('web-1'))).toEqual({ phase: 'pending', severity: 'critical' });
    tick(70_000, 0.95);
    expect(out.map((o) => o.at)).toEqual([70_000]);
    expect(out[0]!.t).toEqual({
      fingerprint: cpuFp('web-1'),
      status: 'firing',
      severity: 'critical',
      labels: { alertname: 'cpu_high', 'host.name': 'web-1' },
      annotations: {
        summary: 'CPU busy 95% on web-1',
        description: 'CPU utilization on web-1 averaged 95% over the last minute (critical: warning at 70 %, critical at 90 %).',
      },
      startsAt: new Date(70_000).toISOString(),
      value: expect.closeTo(0.95, 9),
      rule: 'cpu_high',
      window: 60_000,
    });
    // The 1m average falls as less busy samples replace busy ones: 0.875 (warning), 0.733 (still warning), 0.592 (resolved).
    tick(80_000, 0.5);
    expect(brief(out.slice(1).map((o) => o.t))).toEqual([['firing', 'warning', 'web-1', +((5 * 0.95 + 0.5) / 6).toFixed(6)]]);
    tick(90_000, 0.1);
    expect(out).toHaveLength(2);
    tick(100_000, 0.1);
    const resolved = out[2]!.t;
    expect(brief([resolved])).toEqual([['resolved', 'warning', 'web-1', +((3 * 0.95 + 0.5 + 2 * 0.1) / 6).toFixed(6)]]);
    expect(resolved.startsAt).toBe(new Date(70_000).toISOString());
    expect(resolved.endsAt).toBe(new Date(100_000).toISOString());
  });

  it('keeps hosts apart: one alert per host.name, with its own fingerprint', () => {
    const engine = new RuleEngine(DEFAULT_RULES.map((r) => ({ ...r, for: 0 })));
    engine.ingest([...cpu(0.95, 1_000, 'web-1'), ...cpu(0.2, 1_000, 'web-2'), ...cpu(0.8, 1_000, 'web-3')], 1_000);
    const ts = engine.evaluate(1_000);
    expect(brief(ts).sort()).toEqual([
      ['firing', 'critical', 'web-1', 0.95],
      ['firing', 'warning', 'web-3', 0.8],
    ]);
    expect(ts.map((t) => t.fingerprint).sort()).toEqual([cpuFp('web-1'), cpuFp('web-3')].sort());
    expect(engine.firingCount()).toBe(2);
  });

  it('a redelivered batch (at least once) does not inflate the combined value', () => {
    const engine = new RuleEngine(DEFAULT_RULES.map((r) => ({ ...r, for: 0 })));
    const batch = cpu(0.5, 1_000);
    engine.ingest(batch, 1_000);
    engine.ingest(batch, 1_000);
    expect(engine.evaluate(1_000)).toEqual([]);
  });

  it('ignores other metrics, histograms and points flagged "no recorded value"', () => {
    const engine = new RuleEngine([rule()]);
    const hist = { ...gauge('load', 5, 1_000), kind: 'histogram', count: 1, sum: 5, bucketCounts: [1], explicitBounds: [], min: 5, max: 5, temporality: 2 } as MetricPoint;
    const flagged = { ...gauge('load', 5, 1_000), flags: 1 };
    expect(engine.ingest([gauge('other', 5, 1_000), hist, flagged], 1_000)).toEqual({ accepted: 0, dropped: 2 });
    expect(engine.evaluate(1_000)).toEqual([]);
    expect(engine.groupCount()).toBe(0);
  });

  it('takes sum points as well as gauges', () => {
    const engine = new RuleEngine([rule()]);
    const sum = { ...gauge('load', 1.5, 1_000), kind: 'sum', temporality: 2, monotonic: false } as MetricPoint;
    expect(engine.ingest([sum], 1_000)).toEqual({ accepted: 1, dropped: 0 });
    expect(brief(engine.evaluate(1_000))).toEqual([['firing', 'warning', 'web-1', 1.5]]);
  });
});

describe('RuleEngine grouping and labels', () => {
  it('groups by point and resource attributes (disk_high by host and mountpoint), labels without severity', () => {
    const engine = new RuleEngine([{ ...DEFAULT_RULES.find((r) => r.name === 'disk_high')!, for: 0 }]);
    const fs = (mount: string, v: number) => gauge('system.filesystem.utilization', v, 1_000, { 'system.filesystem.mountpoint': mount, 'system.device': `/dev/${mount.length}` });
    engine.ingest([fs('/', 0.95), fs('/var', 0.85), fs('/home', 0.3)], 1_000);
    const ts = engine.evaluate(1_000);
    expect(ts.map((t) => [t.labels, t.severity, t.annotations.summary]).sort()).toEqual([
      [{ alertname: 'disk_high', 'host.name': 'web-1', 'system.filesystem.mountpoint': '/' }, 'critical', 'Disk / 95% full on web-1'],
      [{ alertname: 'disk_high', 'host.name': 'web-1', 'system.filesystem.mountpoint': '/var' }, 'warning', 'Disk /var 85% full on web-1'],
    ].sort());
    for (const t of ts) expect(t.fingerprint).toBe(fingerprint(t.labels));
  });

  it('adds the rule\'s labels, leaves out empty group values, and renders its annotations', () => {
    const engine = new RuleEngine([rule({ groupBy: ['host.name', 'queue'], labels: { team: 'ops' }, annotations: { summary: '{{rule}} {{value}} on {{labels.host.name}} ({{labels.team}})' } })]);
    engine.ingest([gauge('load', 3, 1_000)], 1_000);
    const [t] = engine.evaluate(1_000);
    expect(t!.labels).toEqual({ alertname: 'load_high', 'host.name': 'web-1', team: 'ops' });
    expect(t!.labels).toEqual(alertLabels(rule({ labels: { team: 'ops' } }), { 'host.name': 'web-1', queue: '' }));
    expect(t!.annotations).toEqual({ summary: 'load_high 3 on web-1 (ops)' });
  });

  it('where filters with the point attribute before the resource attribute', () => {
    const engine = new RuleEngine([rule({ where: { 'host.name': '~db-.*' } })]);
    engine.ingest([gauge('load', 3, 1_000, {}, 'web-1'), gauge('load', 3, 1_000, {}, 'db-1'), gauge('load', 3, 1_000, { 'host.name': 'db-9' }, 'web-2')], 1_000);
    expect(engine.evaluate(1_000).map((t) => t.labels['host.name']).sort()).toEqual(['db-1', 'db-9']);
  });

  it('transitions survive the alerts topic encoding unchanged', () => {
    const engine = new RuleEngine([rule()]);
    engine.ingest([gauge('load', 2.5, 1_000)], 1_000);
    const [t] = engine.evaluate(1_000);
    expect(decodeAlert(encodeAlert(t!))).toEqual(t);
  });
});

describe('RuleEngine windows over time', () => {
  it('refuses points older than the window, dates points without a timestamp by the fallback', () => {
    const engine = new RuleEngine([rule()]);
    expect(engine.ingest([gauge('load', 9, 1_000)], 20_000)).toEqual({ accepted: 0, dropped: 1 });
    expect(engine.ingest([gauge('load', 3, 0)], 20_000, 19_000)).toEqual({ accepted: 1, dropped: 0 });
    expect(brief(engine.evaluate(20_000))).toEqual([['firing', 'critical', 'web-1', 3]]);
    // The point dated 19 000 leaves the 10 s window at 29 000.
    expect(engine.evaluate(28_999)).toEqual([]);
    expect(brief(engine.evaluate(29_000))).toEqual([['resolved', 'critical', 'web-1', 3]]);
  });

  it('a group with no data for a whole window resolves, and not before', () => {
    const engine = new RuleEngine([rule()]);
    engine.ingest([gauge('load', 1.2, 1_000)], 1_000);
    engine.ingest([gauge('load', 1.4, 5_000)], 5_000);
    expect(brief(engine.evaluate(5_000))).toEqual([['firing', 'warning', 'web-1', 1.3]]);
    expect(engine.evaluate(14_999)).toEqual([]);
    const [resolved] = engine.evaluate(15_000);
    expect(resolved).toMatchObject({ status: 'resolved', severity: 'warning', value: 1.4, endsAt: new Date(15_000).toISOString() });
    expect(engine.firingCount()).toBe(0);
    expect(engine.groupCount()).toBe(0);
  });

  it('a pending alert whose data stops is dropped without a transition', () => {
    const engine = new RuleEngine([rule({ for: 60_000 })]);
    engine.ingest([gauge('load', 5, 1_000)], 1_000);
    expect(engine.evaluate(1_000)).toEqual([]);
    expect(engine.stateOf(fingerprint({ alertname: 'load_high', 'host.name': 'web-1' }))?.phase).toBe('pending');
    expect(engine.evaluate(11_000)).toEqual([]);
    expect(engine.stateOf(fingerprint({ alertname: 'load_high', 'host.name': 'web-1' }))).toBeUndefined();
  });
});

describe('RuleEngine restored from storage', () => {
  const labels = { alertname: 'load_high', 'host.name': 'web-1' };
  const restored = { fingerprint: fingerprint(labels), rule: 'load_high', severity: 'critical' as const, labels, startsAt: new Date(500).toISOString(), value: 2.5 };

  it('does not fire again what was firing, and resolves it with the original startsAt', () => {
    const engine = new RuleEngine([rule()]);
    engine.restore([restored], 100_000);
    engine.ingest([gauge('load', 2.2, 100_000)], 100_000);
    expect(engine.evaluate(100_000)).toEqual([]);
    engine.ingest([gauge('load', 0.1, 111_000)], 111_000);
    const [t] = engine.evaluate(111_000);
    expect(t).toMatchObject({ fingerprint: restored.fingerprint, status: 'resolved', severity: 'critical', startsAt: restored.startsAt, value: 0.1 });
  });

  it('announces a change of severity of a restored alert', () => {
    const engine = new RuleEngine([rule()]);
    engine.restore([restored], 100_000);
    engine.ingest([gauge('load', 1.5, 100_000)], 100_000);
    expect(brief(engine.evaluate(100_000))).toEqual([['firing', 'warning', 'web-1', 1.5]]);
  });

  it('gives a restored alert a whole window for its data to come back before resolving it', () => {
    const engine = new RuleEngine([rule()]);
    engine.restore([restored], 100_000);
    expect(engine.evaluate(100_000)).toEqual([]);
    expect(engine.evaluate(109_999)).toEqual([]);
    expect(engine.firingCount()).toBe(1);
    const [t] = engine.evaluate(110_000);
    expect(t).toMatchObject({ status: 'resolved', severity: 'critical', value: 2.5, startsAt: restored.startsAt, endsAt: new Date(110_000).toISOString() });
  });

  it('resolves at once an alert whose rule is no longer configured, with the texts it fired with', () => {
    const engine = new RuleEngine([rule({ name: 'other' })]);
    engine.restore([{ ...restored, annotations: { summary: 'load high' } }], 100_000);
    const [t] = engine.evaluate(100_000);
    expect(t).toMatchObject({ status: 'resolved', rule: 'load_high', labels, annotations: { summary: 'load high' }, window: 0 });
  });

  it('skips restored entries it cannot use', () => {
    const engine = new RuleEngine([rule()]);
    engine.restore([{ ...restored, startsAt: 'not a time' }, { ...restored, severity: 'info' }], 100_000);
    expect(engine.firingCount()).toBe(0);
  });
});
