/**
 * Series routes: what the engine works out at a series' first point (matchers, group) is kept per
 * series, so it must follow the series and not the decoded objects (new in every request), and a
 * cached group must never outlive its group.
 */
import { describe, expect, it } from 'vitest';
import type { AlertTransition, MetricPoint } from '@vigil/platform';
import { RuleEngine, type EngineOptions } from '../src/engine.js';
import { SeriesRoutes } from '../src/series.js';
import { counter, gauge, rules } from './helpers.js';

const OPTS: Partial<EngineOptions> = { stepMs: 10_000, maxLatenessMs: 30_000, silentAfterMs: 120_000, forgetAfterMs: 86_400_000 };

/** A point as one decoded request gives it: its resource a new object with the same attributes. */
function decoded(p: MetricPoint): MetricPoint {
  return { ...p, resource: { ...p.resource, attributes: { ...p.resource.attributes } } };
}

describe('SeriesRoutes', () => {
  const res = (host: string) => ({ attributes: { 'host.id': host, 'host.name': host }, schemaUrl: '', serviceName: '' });

  it('one route per series: same attributes in new objects are the same series, other attributes or metrics another', () => {
    const routes = new SeriesRoutes<string>(60_000);
    const a = routes.route(routes.resource(res('a'), 0), 'm', { mode: 'user' }, 2, 0);
    a.slots[0] = 'cached';
    const again = routes.route(routes.resource(res('a'), 1), 'm', { mode: 'user' }, 2, 1);
    expect(again).toBe(a);
    expect(again.slots).toEqual(['cached', undefined]);
    const otherAttrs = routes.route(routes.resource(res('a'), 1), 'm', { mode: 'idle' }, 2, 1);
    const otherMetric = routes.route(routes.resource(res('a'), 1), 'n', { mode: 'user' }, 1, 1);
    const otherHost = routes.route(routes.resource(res('b'), 1), 'm', { mode: 'user' }, 2, 1);
    expect(new Set([a.id, otherAttrs.id, otherHost.id]).size).toBe(3);
    // The id tells series apart within a group (one metric per input): the metric is not in it.
    expect(otherMetric.id).toBe(a.id);
    expect(otherMetric).not.toBe(a);
    expect(routes.size).toBe(4);
  });

  it('a route unseen for retainMs goes and comes back empty with the same id while its resource stays', () => {
    const routes = new SeriesRoutes<string>(1_000);
    const a = routes.route(routes.resource(res('a'), 0), 'm', { k: '1' }, 1, 0);
    a.slots[0] = 'cached';
    routes.sweep(0);
    routes.route(routes.resource(res('a'), 1_500), 'm', { k: '2' }, 1, 1_500);
    routes.sweep(1_500);
    const back = routes.route(routes.resource(res('a'), 1_600), 'm', { k: '1' }, 1, 1_600);
    expect(back).not.toBe(a);
    expect(back.slots).toEqual([undefined]);
    expect(back.id).toBe(a.id);
    // A resource gone that long is forgotten, its object too (a later request reuses none of it).
    const r = res('b');
    const b = routes.route(routes.resource(r, 1_600), 'm', {}, 1, 1_600);
    routes.sweep(5_000);
    expect(routes.size).toBe(0);
    expect(routes.route(routes.resource(r, 5_000), 'm', {}, 1, 5_000)).not.toBe(b);
  });

  it('a route guessed from its position in the request is only taken when metric and attributes match', () => {
    const routes = new SeriesRoutes<string>(1_000);
    const req = (t: number, order: [string, Record<string, string>][]) => {
      const rs = routes.resource(res('a'), t);
      return order.map(([name, attrs], i) => routes.route(rs, name, { ...attrs }, 1, t, i));
    };
    const first = req(0, [['m', { k: '1' }], ['m', { k: '2' }], ['n', { k: '1' }]]);
    // Same order: the same routes.
    expect(req(1, [['m', { k: '1' }], ['m', { k: '2' }], ['n', { k: '1' }]])).toEqual(first);
    // Another order, a missing point, other values, an extra attribute, another metric: each its own series.
    const shuffled = req(2, [['n', { k: '1' }], ['m', { k: '1' }], ['m', { k: '2', x: 'y' }], ['m', { k: '3' }]]);
    expect(shuffled[0]).toBe(first[2]);
    expect(shuffled[1]).toBe(first[0]);
    expect(shuffled[2]).not.toBe(first[1]);
    expect(shuffled[3]).not.toBe(first[1]);
    expect(new Set(shuffled).size).toBe(4);
    expect(req(3, [['m', { k: '2', x: 'y' }], ['m', { k: '2' }]])).toEqual([shuffled[2], first[1]]);
    // A sweep drops what went unseen: it does not come back through the last request's order.
    routes.sweep(3);
    req(1_500, [['n', { k: '1' }]]);
    routes.sweep(1_500);
    expect(req(1_600, [['n', { k: '1' }], ['m', { k: '1' }]])[1]).not.toBe(first[0]);
  });

  it('a reload keeps resource numbers, so the series of kept groups keep their ids', () => {
    const before = new SeriesRoutes<string>(60_000);
    const id = before.route(before.resource(res('a'), 0), 'm', { k: '1' }, 1, 0).id;
    const after = new SeriesRoutes<string>(60_000);
    after.adoptNumbers(before);
    expect(after.route(after.resource(res('a'), 1), 'm', { k: '1' }, 1, 1).id).toBe(id);
  });
});

describe('the engine with series routes', () => {
  it('a counter is one series across requests (each with its own resource object): increase over a window', () => {
    const engine = new RuleEngine(rules({ name: 'restarts', kind: 'rate', function: 'increase', metric: 'restarts_total', window: '1m', op: '>', warning: 3 }), OPTS);
    const out: AlertTransition[] = [];
    for (const [i, v] of [0, 2, 4, 6, 8].entries()) {
      engine.ingestMetrics([decoded(counter('restarts_total', v, i * 10_000 + 1_000))], { now: i * 10_000 + 1_050 });
      out.push(...engine.advance(i * 10_000 + 1_050));
    }
    engine.ingestMetrics([decoded(counter('restarts_total', 8, 61_000))], { now: 61_050 });
    out.push(...engine.advance(61_050));
    // The first window that completes holds 0, 2, 4 (one series: an object per request would make three of one point each, no increase).
    expect(out.map((t) => [t.rule, t.status, t.value])).toEqual([['restarts', 'firing', 4]]);
  });

  it('matchers are worked out per series: a series refused stays refused, another of the same metric is taken', () => {
    const engine = new RuleEngine(rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s', where: { zone: 'a' } }), OPTS);
    let accepted = 0;
    for (let at = 1_000; at <= 3_000; at += 1_000) {
      accepted += engine.ingestMetrics([decoded(gauge('temp', 90, at, { zone: 'b' })), decoded(gauge('temp', 90, at, { zone: 'a' }))], { now: at }).accepted;
    }
    expect(accepted).toBe(3);
    expect(engine.groupCount()).toBe(1);
  });

  it('a group dropped while its series still has it cached is not fed: the series finds the group of its key again', () => {
    const engine = new RuleEngine(rules({ name: 'hot', metric: 'temp', critical: 50, window: '10s' }), OPTS);
    const out: AlertTransition[] = [];
    const feed = (v: number, at: number) => {
      engine.ingestMetrics([decoded(gauge('temp', v, at))], { now: at + 50 });
      out.push(...engine.advance(at + 50));
    };
    feed(90, 1_000);
    feed(90, 11_000);
    expect(out.map((t) => t.status)).toEqual(['firing']);
    // Its partition goes to another worker, then comes back: the alert is not this engine's any more.
    const [source] = engine.sourceStatus(12_000);
    engine.forgetPartition(source!.partition);
    expect(engine.groupCount()).toBe(0);
    feed(90, 21_000);
    feed(90, 31_000);
    expect(engine.groupCount()).toBe(1);
    // A new group, fed: it fires as new (the old one, dropped, would have stayed silent).
    expect(out.map((t) => t.status)).toEqual(['firing', 'firing']);
  });
});
