import { describe, expect, it } from 'vitest';
import { decodeAlert, encodeAlert, fingerprint, type AlertTransition, type LogEntry, type MetricPoint } from '@vigil/platform';
import { defaultPack } from '../src/config.js';
import { RuleEngine, SOURCE_SILENT_RULE, type EngineOptions } from '../src/engine.js';
import { compileRules, type CompiledRule } from '../src/rules.js';
import { counter, event, gauge, rules } from './helpers.js';

const OPTS: Partial<EngineOptions> = { stepMs: 10_000, maxLatenessMs: 30_000, silentAfterMs: 120_000, forgetAfterMs: 86_400_000 };

/** Drives an engine on a virtual clock: records arrive at their event time (plus `lag`), the timer ticks every second. */
function drive(compiled: CompiledRule[], opts: Partial<EngineOptions> = OPTS) {
  const engine = new RuleEngine(compiled, opts);
  const out: { at: number; t: AlertTransition }[] = [];
  let clock = 0;
  const push = (at: number, ts: AlertTransition[]) => ts.forEach((t) => out.push({ at, t }));
  return {
    engine,
    out,
    metrics(points: MetricPoint[], now: number) {
      clock = Math.max(clock, now);
      engine.ingestMetrics(points, { now });
      push(now, engine.advance(now));
    },
    logs(entries: LogEntry[], now: number) {
      clock = Math.max(clock, now);
      engine.ingestLogs(entries, { now });
      push(now, engine.advance(now));
    },
    /** Runs the timer until `until`, a tick a second. */
    until(until: number) {
      for (let t = Math.ceil(clock / 1000) * 1000; t <= until; t += 1000) push(t, engine.tick(t));
      clock = until;
    },
    brief: () => out.map(({ at, t }) => [at, t.rule, t.status, t.severity, t.labels['host.name'] ?? '']),
  };
}

const cpu = (busy: number, at: number, host = 'web-1') => [
  gauge('system.cpu.utilization', busy * 0.75, at, { 'cpu.mode': 'user' }, host),
  gauge('system.cpu.utilization', busy * 0.25, at, { 'cpu.mode': 'system' }, host),
  gauge('system.cpu.utilization', 1 - busy, at, { 'cpu.mode': 'idle' }, host),
];

const cpuRule = () => compileRules(defaultPack().rules.filter((r) => r.name === 'cpu_high'));

describe('threshold over watermarks (default cpu_high)', () => {
  it('evaluates each window once the source passed its end, waits "for", fires with value, unit and threshold, and resolves', () => {
    const d = drive(cpuRule());
    for (let at = 10_000; at <= 70_000; at += 10_000) d.metrics(cpu(0.95, at), at + 100);
    expect(d.out).toEqual([]);
    d.metrics(cpu(0.95, 80_000), 80_100);
    expect(d.brief()).toEqual([[80_100, 'cpu_high', 'firing', 'critical', 'web-1']]);
    const t = d.out[0]!.t as AlertTransition & { unit: string; threshold: number; expr: string };
    expect(t).toMatchObject({
      fingerprint: fingerprint({ alertname: 'cpu_high', 'host.name': 'web-1' }),
      labels: { alertname: 'cpu_high', 'host.name': 'web-1' },
      startsAt: new Date(80_000).toISOString(),
      unit: '1',
      threshold: 0.9,
      window: 60_000,
      annotations: { summary: 'CPU busy 95 % on web-1', description: 'CPU utilization on web-1 averaged 95 % over the last minute (critical at 90 %).', 'vigil.source': 'id-web-1' },
    });
    expect(t.value).toBeCloseTo(0.95, 9);
    expect(t.expr).toBe('avg(sum of system.cpu.utilization{cpu.mode!="idle"})');
    expect(decodeAlert(encodeAlert(t))).toMatchObject({ fingerprint: t.fingerprint, value: t.value });
    // Falls below the recover thresholds (hysteresis at 0.85 and 0.65) as idle samples replace busy ones.
    for (let at = 90_000; at <= 200_000; at += 10_000) d.metrics(cpu(0.1, at), at + 100);
    expect(d.brief().slice(1).map((b) => b.slice(2, 4))).toEqual([['firing', 'warning'], ['resolved', 'warning']]);
  });

  it('waits for a window to complete: nothing is evaluated before the source sends past its end', () => {
    const d = drive(rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s' }));
    d.metrics([gauge('temp', 90, 5_000)], 5_100);
    d.until(9_000);
    expect(d.out).toEqual([]);
    d.metrics([gauge('temp', 20, 10_000)], 10_100);
    expect(d.brief()).toEqual([[10_100, 'hot', 'firing', 'critical', 'web-1']]);
  });

  it('keeps hosts apart, one alert each', () => {
    const d = drive(rules({ name: 'hot', metric: 'temp', warning: 40, critical: 50, window: '10s' }));
    for (const at of [1_000, 11_000]) d.metrics([gauge('temp', 90, at, {}, 'a'), gauge('temp', 45, at, {}, 'b'), gauge('temp', 10, at, {}, 'c')], at);
    expect(d.brief().map((b) => b.slice(3)).sort()).toEqual([['critical', 'a'], ['warning', 'b']]);
  });

  it('severity is a label of every transition; the fingerprint stays when the level changes', () => {
    const d = drive(rules({ name: 'hot', metric: 'temp', warning: 40, critical: 50, window: '10s' }));
    for (const [at, v] of [[1_000, 45], [11_000, 90], [21_000, 90], [31_000, 10], [41_000, 10]] as const) d.metrics([gauge('temp', v, at)], at);
    const seen = d.out.map(({ t }) => [t.status, t.severity, t.labels.severity, t.fingerprint]);
    const fp = fingerprint({ alertname: 'hot', 'host.name': 'web-1' });
    expect(seen).toEqual([
      ['firing', 'warning', 'warning', fp],
      ['firing', 'critical', 'critical', fp],
      ['resolved', 'critical', 'critical', fp],
    ]);
  });
});

describe('at-least-once input', () => {
  it('a request delivered again (a redelivery after a rebalance) counts once, fresh samples after it as usual', () => {
    // The count of samples in a window: duplicates would raise it to the threshold.
    const d = drive(rules({ name: 'dup', metric: 'temp', aggregate: 'count', critical: 5, window: '10s' }));
    const req = (at: number) => [gauge('temp', 1, at, { sensor: 'x' }), gauge('temp', 1, at, { sensor: 'y' })];
    d.metrics(req(1_000), 1_100);
    d.metrics(req(2_000), 2_100);
    d.metrics(req(1_000), 2_200); // the first again, behind the second
    d.metrics(req(2_000), 2_300); // the second again, at the window's newest instant
    d.metrics(req(10_000), 10_100);
    // Four samples in [0, 10 s), no alert; a duplicate kept would make five or more.
    expect(d.out).toEqual([]);
    d.metrics([...req(11_000), ...req(12_000), ...req(13_000)], 13_100);
    d.metrics(req(20_000), 20_100);
    expect(d.brief()).toEqual([[20_100, 'dup', 'firing', 'critical', 'web-1']]);
  });
});

describe('late versus absent', () => {
  const hot = () => rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s' });

  it('a stopped source gives one source_silent alert and no burst of resolves; its alerts go nodata and come back', () => {
    const d = drive(hot());
    for (let at = 0; at <= 60_000; at += 10_000) d.metrics([gauge('temp', 90, at, { sensor: 'x' }, 'a'), gauge('temp', 95, at, { sensor: 'x' }, 'b')], at + 50);
    expect(d.brief().map((b) => b.slice(1, 5))).toEqual([['hot', 'firing', 'critical', 'a'], ['hot', 'firing', 'critical', 'b']]);
    d.out.length = 0;
    // b stops; a goes on. Past maxLateness b's windows close but are incomplete: no resolve.
    for (let at = 70_000; at <= 300_000; at += 10_000) {
      d.metrics([gauge('temp', 90, at, { sensor: 'x' }, 'a')], at + 50);
      d.until(at + 9_000);
    }
    expect(d.brief().map((b) => b.slice(1, 5))).toEqual([[SOURCE_SILENT_RULE, 'firing', 'warning', 'b']]);
    const silent = d.out[0]!;
    expect(silent.at).toBe(181_000); // the first tick 120 s after b last sent (60 050)
    expect(silent.t.labels).toEqual({ alertname: SOURCE_SILENT_RULE, severity: 'warning', 'vigil.source': 'id-b', 'host.name': 'b', 'service.name': 'vigil-collector' });
    expect(silent.t.fingerprint).toBe(fingerprint({ alertname: SOURCE_SILENT_RULE, 'vigil.source': 'id-b', 'host.name': 'b', 'service.name': 'vigil-collector' }));
    expect(silent.t.annotations.description).toMatch(/its 1 firing alert\(s\) are held in nodata/);
    expect(d.engine.stateOf(fingerprint({ alertname: 'hot', 'host.name': 'b' }))).toMatchObject({ phase: 'firing', display: 'nodata' });
    // b comes back, cooled down: source_silent resolves, then its alert resolves on complete data.
    d.out.length = 0;
    d.metrics([gauge('temp', 10, 310_000, { sensor: 'x' }, 'b')], 310_050);
    d.until(311_000);
    d.metrics([gauge('temp', 10, 320_000, { sensor: 'x' }, 'b')], 320_050);
    expect(d.brief().map((b) => b.slice(1, 5))).toEqual([[SOURCE_SILENT_RULE, 'resolved', 'warning', 'b'], ['hot', 'resolved', 'critical', 'b']]);
  });

  it('nodata: alerting fires a silent group, resolve resolves it', () => {
    for (const [nodata, expected] of [['alerting', [['hot', 'firing', 'warning']]], ['resolve', [['hot', 'resolved', 'critical']]]] as const) {
      const d = drive(rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s', nodata }));
      const value = nodata === 'alerting' ? 10 : 90;
      for (let at = 0; at <= 40_000; at += 10_000) d.metrics([gauge('temp', value, at)], at + 50);
      d.out.length = 0;
      d.until(400_000);
      const got = d.out.filter((o) => o.t.rule === 'hot');
      expect(got.map((o) => [o.t.rule, o.t.status, o.t.severity])).toEqual(expected);
      expect(got[0]!.t.annotations.nodata).toMatch(/source id-web-1 is silent/);
    }
  });

  it('data older than what was evaluated is late: counted, and never changes a sent transition', () => {
    const d = drive(hot());
    for (let at = 0; at <= 30_000; at += 10_000) d.metrics([gauge('temp', 10, at)], at + 50);
    const r = d.engine.ingestMetrics([gauge('temp', 99, 15_000)], { now: 40_000 });
    expect(r).toEqual({ accepted: 0, dropped: 0, late: 1 });
    d.metrics([gauge('temp', 10, 40_000)], 40_050);
    expect(d.out).toEqual([]);
  });

  it('a stalled source still has its windows closed after maxLateness (a rise fires, nothing resolves)', () => {
    const d = drive(hot());
    d.metrics([gauge('temp', 99, 1_000)], 1_050);
    expect(d.out).toEqual([]);
    d.until(41_000);
    // The source sent at 1 050 (processing time); after 30 s of waiting its clock moves on, and
    // the window ending at 10 000 closes 9 s later.
    expect(d.brief()).toEqual([[41_000, 'hot', 'firing', 'critical', 'web-1']]);
    d.until(100_000);
    expect(d.out).toHaveLength(1);
  });
});

describe('metrics and logs of one source', () => {
  it('logs behind the metrics (another topic) are not late: each signal has its own watermark; a quiet log stream of a live source resolves', () => {
    const d = drive(rules({ name: 'errs', kind: 'frequency', events: { severity: 'error' }, window: '1m', warning: 1 }));
    const err = (at: number) => event(at, { severityNumber: 17, body: `db down ${at}` });
    for (let at = 0; at <= 40_000; at += 10_000) d.metrics([gauge('temp', 1, at)], at + 50);
    // An error logged at 25 s reaches the worker after the metrics of 40 s.
    d.logs([err(25_000)], 45_000);
    d.metrics([gauge('temp', 1, 50_000)], 50_050);
    d.logs([event(51_000)], 51_050);
    expect(d.out.map((o) => [o.t.rule, o.t.status, o.t.value])).toEqual([['errs', 'firing', 1]]);
    // No more log records, the metrics flow on: the log windows close after maxLateness and the alert resolves.
    for (let at = 60_000; at <= 140_000; at += 10_000) {
      d.metrics([gauge('temp', 1, at)], at + 50);
      d.until(at + 9_000);
    }
    expect(d.out.map((o) => [o.t.rule, o.t.status])).toEqual([['errs', 'firing'], ['errs', 'resolved']]);
  });
});

describe('event rules', () => {
  it('frequency counts matching records per group and window', () => {
    const d = drive(rules({ name: 'errs', kind: 'frequency', events: { severity: 'error' }, groupBy: ['host.name', 'service.name'], window: '1m', warning: 2, critical: 5 }));
    const err = (at: number, host = 'pos-1') => event(at, { host, service: 'pos', severityNumber: 17, severityText: 'ERROR', body: `failed ${at}` });
    d.logs([err(1_000), err(2_000), event(3_000, { host: 'pos-1', service: 'pos' })], 3_050);
    d.logs([err(11_000, 'pos-2')], 11_050);
    d.logs([event(12_000, { host: 'pos-1', service: 'pos' })], 12_050);
    expect(d.brief()).toEqual([[12_050, 'errs', 'firing', 'warning', 'pos-1']]);
    expect(d.out[0]!.t.value).toBe(2);
  });

  it('absence fires for a group seen before that stops, and resolves when it returns', () => {
    const d = drive(rules({ name: 'silent', kind: 'absence', events: {}, groupBy: ['host.name'], after: '1m', annotations: { summary: '{{labels.host.name}} silent for {{human}}' } }));
    for (let at = 0; at <= 60_000; at += 10_000) d.logs([event(at, { host: 'pos-17' }), event(at, { host: 'pos-18' })], at + 50);
    for (let at = 70_000; at <= 200_000; at += 10_000) {
      d.logs([event(at, { host: 'pos-18' })], at + 50);
      d.until(at + 9_000);
    }
    const fired = d.out.filter((o) => o.t.rule === 'silent');
    expect(fired.map((o) => [o.t.status, o.t.labels['host.name']])).toEqual([['firing', 'pos-17']]);
    expect(fired[0]!.t.annotations.summary).toBe('pos-17 silent for 1m');
    d.out.length = 0;
    d.logs([event(205_000, { host: 'pos-17' })], 205_050);
    d.logs([event(210_000, { host: 'pos-17' }), event(210_000, { host: 'pos-18' })], 210_050);
    expect(d.out.filter((o) => o.t.rule === 'silent').map((o) => [o.t.status, o.t.labels['host.name']])).toEqual([['resolved', 'pos-17']]);
  });

  it('state fires at once on the record that changes it', () => {
    const d = drive(rules({ name: 'db', kind: 'state', metric: 'vigil.probe.up', groupBy: ['host.name', 'vigil.probe.name'], critical: 0 }));
    const up = (v: number, at: number) => [gauge('vigil.probe.up', v, at, { 'vigil.probe.name': 'orders' })];
    d.metrics(up(1, 1_000), 1_050);
    d.metrics(up(0, 2_000), 2_050);
    expect(d.brief()).toEqual([[2_050, 'db', 'firing', 'critical', 'web-1']]);
    d.metrics(up(1, 3_000), 3_050);
    expect(d.brief()[1]).toEqual([3_050, 'db', 'resolved', 'critical', 'web-1']);
  });
});

describe('counters', () => {
  it('rate/increase handles resets as Prometheus does, and ratio treats a zero denominator as no value', () => {
    const d = drive(
      rules(
        { name: 'restarts', kind: 'rate', function: 'increase', metric: 'restarts_total', window: '1m', op: '>', warning: 3 },
        { name: 'err_ratio', kind: 'ratio', numerator: { metric: 'errors' }, denominator: { metric: 'conns' }, groupBy: ['host.name'], window: '1m', warning: 0.1 },
      ),
    );
    // 0, 2, reset to 1, 3: increase 2 + 1 + 2 = 5 over the minute.
    const values = [0, 2, 1, 3];
    values.forEach((v, i) => d.metrics([counter('restarts_total', v, i * 10_000 + 1_000), counter('conns', 0, i * 10_000 + 1_000), counter('errors', i, i * 10_000 + 1_000)], i * 10_000 + 1_050));
    d.metrics([counter('restarts_total', 3, 41_000), counter('conns', 0, 41_000), counter('errors', 9, 41_000)], 41_050);
    expect(d.out.map((o) => [o.t.rule, o.t.status, o.t.value])).toEqual([['restarts', 'firing', 5]]);
  });
});

describe('restart', () => {
  it('a restored alert continues when its group comes back (no second page) and resolves when it clears', () => {
    const compiled = rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s' });
    const labels = { alertname: 'hot', 'host.name': 'web-1' };
    const d = drive(compiled);
    d.engine.restore([{ fingerprint: fingerprint(labels), rule: 'hot', severity: 'critical', labels, startsAt: new Date(500).toISOString(), value: 80, annotations: { 'vigil.source': 'id-web-1' } }], 100_000);
    d.metrics([gauge('temp', 90, 100_000)], 100_050);
    d.metrics([gauge('temp', 90, 110_000)], 110_050);
    expect(d.out).toEqual([]);
    d.metrics([gauge('temp', 10, 120_000)], 120_050);
    d.metrics([gauge('temp', 10, 130_000)], 130_050);
    expect(d.out.map((o) => [o.t.status, o.t.startsAt])).toEqual([['resolved', new Date(500).toISOString()]]);
  });

  it('a restored alert whose source sends without it resolves after a window; one whose source never shows stays', () => {
    const compiled = rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s' });
    const a = { alertname: 'hot', 'host.name': 'gone' };
    const b = { alertname: 'hot', 'host.name': 'elsewhere' };
    const d = drive(compiled);
    d.engine.restore([
      { fingerprint: fingerprint(a), rule: 'hot', severity: 'critical', labels: a, startsAt: new Date(500).toISOString(), value: 80, annotations: { 'vigil.source': 'id-web-1' } },
      { fingerprint: fingerprint(b), rule: 'hot', severity: 'critical', labels: b, startsAt: new Date(500).toISOString(), value: 80, annotations: { 'vigil.source': 'id-other' } },
    ], 100_000);
    for (let at = 100_000; at <= 160_000; at += 10_000) {
      d.metrics([gauge('other', 1, at)], at + 50);
      d.until(at + 9_000);
    }
    expect(d.out.map((o) => [o.t.status, o.t.labels['host.name']])).toEqual([['resolved', 'gone']]);
  });
});

describe('properties', () => {
  it('data older than what was evaluated never makes or changes a transition', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 40 }),
        (steps) => {
          const compiled = () => rules({ name: 'hot', metric: 'temp', warning: 50, critical: 80, window: '20s', for: '10s' });
          const plain = drive(compiled());
          const noisy = drive(compiled());
          let at = 0;
          for (const [value, lateValue, back] of steps) {
            at += 5_000;
            plain.metrics([gauge('temp', value, at)], at + 10);
            noisy.metrics([gauge('temp', value, at)], at + 10);
            // A record from the past of the same source, after its windows were evaluated.
            const lateAt = at - back * 1_000;
            const last = noisy.engine.status()[0]!.groups[0]?.lastEvaluation;
            // (time 0 means "no timestamp" in OTLP: the record would be dated by its arrival.)
            if (last !== undefined && lateAt > 0 && lateAt < Date.parse(last)) noisy.metrics([gauge('temp', lateValue, lateAt)], at + 20);
          }
          expect(noisy.out.map((o) => o.t)).toEqual(plain.out.map((o) => o.t));
        },
      ),
      { numRuns: 200 },
    );
  });
});
