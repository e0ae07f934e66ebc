import { checkSection, fingerprint, transitionKey, type AlertSeverity, type AlertTransition } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { RouteConfig } from './config.js';
import { compileInhibitRules } from './inhibit.js';
import { Dispatcher, type FlushedGroup } from './dispatcher.js';
import { alertLabels } from './matchers.js';
import { RateLimiter } from '../pipeline/ratelimit.js';
import { kindsForLevel } from '../channels/registry.js';
import { compileRoutes, defaultRoutes, type Route } from './routes.js';
import { SilenceSet } from './silences.js';
import { toNotification } from './notification.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** Small seeded PRNG (mulberry32), so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function alert(labels: Record<string, string>, severity: AlertSeverity, startsAt: number): AlertTransition {
  return { fingerprint: fingerprint(labels), status: 'firing', severity, labels, annotations: {}, startsAt: iso(startsAt), value: 1, rule: labels.alertname!, window: 60_000 };
}

/** Runs a dispatcher on a virtual clock, flushing exactly when it asks to. */
function run(d: Dispatcher, events: { at: number; apply: (d: Dispatcher, now: number) => void }[], until: number): FlushedGroup[] {
  const out: FlushedGroup[] = [];
  let i = 0;
  for (;;) {
    const next = events[i];
    const due = d.nextFlushAt();
    if (next && next.at <= until && (due === undefined || next.at <= due)) {
      next.apply(d, next.at);
      i++;
    } else if (due !== undefined && due <= until) {
      out.push(...d.flush(due));
    } else return out;
  }
}

describe('a storm', () => {
  // 50 hosts × 10 rules × 2 mounts = 1,000 alerts within 20 seconds. Per rule r_k: mount "/" is
  // critical for k<3, warning for 3..6, info after; mount "/var" is warning for k<5, info after.
  // So the criticals of r0..r2 inhibit the "/var" warnings of r0..r2 on their host (150).
  const hosts = Array.from({ length: 50 }, (_, i) => `host-${i}`);
  const alerts: AlertTransition[] = [];
  for (const host of hosts) {
    for (let k = 0; k < 10; k++) {
      alerts.push(alert({ alertname: `r${k}`, host, mount: '/' }, k < 3 ? 'critical' : k < 7 ? 'warning' : 'info', T0));
      alerts.push(alert({ alertname: `r${k}`, host, mount: '/var' }, k < 5 ? 'warning' : 'info', T0));
    }
  }
  const random = prng(7);
  const shuffled = alerts.map((a) => ({ a, r: random() })).sort((x, y) => x.r - y.r).map((x) => x.a);
  const events = shuffled.map((a, i) => ({ at: T0 + Math.floor((i * 20 * S) / shuffled.length), apply: (d: Dispatcher, now: number) => void d.receive(a, now) }));

  it('1,000 alerts across 50 hosts become 12 grouped notifications by default', () => {
    const d = new Dispatcher({ routes: compileRoutes(defaultRoutes()) });
    const started = performance.now();
    const sent = run(d, events, T0 + 2 * H);
    const elapsed = performance.now() - started;
    const first = sent.filter((g) => g.reason === 'firing');
    // Per receiver, one group per alertname with any unmuted alert.
    expect(first.map((g) => `${g.receiver} ${g.groupLabels.alertname} ${g.alerts.length}`).sort()).toEqual(
      [
        ...['r0', 'r1', 'r2'].map((r) => `default-critical ${r} 50`),
        'default-warning r3 100',
        'default-warning r4 100',
        'default-warning r5 50',
        'default-warning r6 50',
        'default-info r5 50',
        'default-info r6 50',
        'default-info r7 100',
        'default-info r8 100',
        'default-info r9 100',
      ].sort(),
    );
    expect(first.every((g) => g.flushedAt === g.alerts.map((a) => Date.parse(a.startsAt)).reduce((x, y) => Math.max(x, y)) + 30 * S || g.flushedAt <= T0 + 50 * S)).toBe(true);
    const notified = new Set(first.flatMap((g) => g.alerts.map((a) => a.fingerprint)));
    expect(notified.size).toBe(850);
    // The 150 inhibited ones are the "/var" warnings of r0..r2.
    const muted = alerts.filter((a) => !notified.has(a.fingerprint));
    expect(muted).toHaveLength(150);
    expect(muted.every((a) => a.severity === 'warning' && a.labels.mount === '/var' && ['r0', 'r1', 'r2'].includes(a.labels.alertname!))).toBe(true);
    // Unchanged for two hours: nothing more (repeat is 4h).
    expect(sent).toHaveLength(12);
    console.log(`storm: 1000 alerts → ${sent.length} notifications, dispatcher ${elapsed.toFixed(1)} ms`);
  });

  it('grouped per host for paging, SMS stays within its budget and the rest is summarised', () => {
    const tree = compileRoutes(
      checkSection(
        RouteConfig,
        {
          receiver: 'default-warning',
          groupBy: ['alertname'],
          routes: [
            { matchers: ['severity="critical"'], receiver: 'default-critical', groupBy: ['host'] },
            { matchers: ['severity="warning"'], receiver: 'default-warning' },
            { matchers: ['severity="info"'], receiver: 'default-info' },
          ],
        },
        'route',
      ),
    );
    const configured = (['email', 'sms', 'slack'] as const).map((kind) => ({ kind }));
    const byLevel = (level: AlertSeverity) => configured.filter((c) => kindsForLevel(level).includes(c.kind));
    const channels = { info: byLevel('info'), warning: byLevel('warning'), critical: byLevel('critical') };
    const limiter = new RateLimiter([{ channel: 'sms', max: 10, per: H }]);
    const d = new Dispatcher({ routes: tree });
    const sent = run(d, events, T0 + 10 * M);
    const perChannel: Record<string, number> = {};
    let held = 0;
    for (const g of sent) {
      const receiver = g.receiver.replace('default-', '') as AlertSeverity;
      for (const c of channels[receiver]) {
        const name = `${g.receiver}/${c.kind}[0]`;
        const decision = limiter.take({ name, kind: c.kind }, g.flushedAt, { firing: g.alerts.length, resolved: 0 });
        if (decision.allowed) {
          perChannel[c.kind] = (perChannel[c.kind] ?? 0) + 1;
          toNotification(g, g.flushedAt, decision.heldBack ? { heldBack: decision.heldBack } : {});
        } else held++;
      }
    }
    // 50 critical groups (one per host) + 4 warning (r3..r6; the r0..r2 ones are all inhibited) + 5 info.
    expect(sent.filter((g) => g.receiver === 'default-critical')).toHaveLength(50);
    expect(sent).toHaveLength(59);
    expect(perChannel).toEqual({ email: 50 + 4, sms: 10, slack: 50 + 4 + 5 });
    expect(held).toBe(40);
    // The summary is due when the first SMS of the storm leaves the window, an hour after it.
    const firstSms = sent.find((g) => g.receiver === 'default-critical')!.flushedAt;
    expect(limiter.nextSummaryAt()).toBe(firstSms + H);
    expect(limiter.summariesDue(firstSms + H - 1)).toEqual([]);
    const due = limiter.summariesDue(firstSms + H);
    expect(due).toEqual([{ channel: { name: 'default-critical/sms[0]', kind: 'sms' }, heldBack: { count: 40, firing: 40 * 3, resolved: 0, since: expect.any(String) as string } }]);
  });
});

describe('random alert sequences (properties)', () => {
  const tree: Route = compileRoutes(
    checkSection(
      RouteConfig,
      {
        receiver: 'catchall',
        groupBy: ['alertname'],
        groupWait: '30s',
        groupInterval: '2m',
        repeatInterval: '1h',
        routes: [
          { matchers: ['severity="critical"'], receiver: 'pager', groupBy: ['host'], groupWait: '10s', continue: true },
          { matchers: ['host=~"db-.*"'], receiver: 'dba', routes: [{ matchers: ['alertname="disk"'], receiver: 'storage', groupInterval: '5m' }] },
          { matchers: ['severity=~"warning|critical"'], receiver: 'team' },
        ],
      },
      'route',
    ),
  );
  const hosts = ['db-1', 'db-2', 'web-1', 'web-2', 'cache-1'];
  const rules = ['cpu', 'disk', 'mem', 'latency'];

  interface Step {
    at: number;
    alert?: AlertTransition;
    silence?: { host: string; until: number };
  }

  function sequence(seed: number, withMutes: boolean): Step[] {
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const current = new Map<string, AlertTransition>();
    const steps: Step[] = [];
    let now = T0;
    for (let i = 0; i < 400; i++) {
      now += Math.floor(random() * 3 * M);
      if (withMutes && random() < 0.05) {
        steps.push({ at: now, silence: { host: pick(hosts), until: now + Math.floor(random() * H) } });
        continue;
      }
      const labels = { alertname: pick(rules), host: pick(hosts) };
      const fp = fingerprint(labels);
      const prev = current.get(fp);
      let next: AlertTransition;
      if (!prev || prev.status === 'resolved') next = alert(labels, random() < 0.3 ? 'critical' : random() < 0.6 ? 'warning' : 'info', now);
      else if (prev.severity !== 'critical' && random() < 0.3) next = { ...prev, severity: prev.severity === 'info' ? 'warning' : 'critical' };
      else next = { ...prev, status: 'resolved', endsAt: iso(now) };
      current.set(fp, next);
      steps.push({ at: now, alert: next });
      // Replays of older transitions now and then: they must change nothing.
      if (random() < 0.1 && prev) steps.push({ at: now, alert: prev });
    }
    return steps;
  }

  function play(steps: Step[], withMutes: boolean, until: number, from?: { d: Dispatcher }) {
    const silences = new SilenceSet();
    const d = from?.d ?? new Dispatcher({ routes: tree, silences, inhibitRules: withMutes ? compileInhibitRules(undefined) : [] });
    const events = steps.map((s) => ({
      at: s.at,
      apply: (dd: Dispatcher, now: number) => {
        if (s.alert) dd.receive(s.alert, now);
        if (s.silence) dd.silences.add({ matchers: [`host="${s.silence.host}"`], startsAt: iso(now), endsAt: iso(s.silence.until) }, now);
      },
    }));
    return { d, sent: run(d, events, until) };
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: no resolve without a prior firing notification, no empty or duplicate entries`, () => {
      const steps = sequence(seed, true);
      const { sent } = play(steps, true, steps[steps.length - 1]!.at + 6 * H);
      expect(sent.length).toBeGreaterThan(10);
      const open = new Map<string, Set<string>>();
      for (const g of sent) {
        expect(g.alerts.length).toBeGreaterThan(0);
        expect(new Set(g.alerts.map((a) => a.fingerprint)).size).toBe(g.alerts.length);
        let set = open.get(g.groupKey);
        if (!set) open.set(g.groupKey, (set = new Set()));
        for (const a of g.alerts) {
          if (a.status === 'resolved') {
            expect(set.has(a.fingerprint), `${g.groupKey}: resolve of ${a.fingerprint} never notified firing`).toBe(true);
            set.delete(a.fingerprint);
          } else set.add(a.fingerprint);
        }
        // Every firing alert in a group is one its route takes (a resolve can close an alert on
        // a route it left when its severity changed).
        for (const a of g.alerts) if (a.status === 'firing') expect(tree.match(alertLabels(a)).map((r) => r.id)).toContain(g.routeId);
      }
    });

    it(`seed ${seed}: every firing transition that holds for groupWait+groupInterval is notified within it`, () => {
      const steps = sequence(seed, false);
      const { sent } = play(steps, false, steps[steps.length - 1]!.at + 6 * H);
      const byGroup = new Map<string, FlushedGroup[]>();
      for (const g of sent) {
        let list = byGroup.get(g.groupKey);
        if (!list) byGroup.set(g.groupKey, (list = []));
        list.push(g);
      }
      const alertSteps = steps.filter((s) => s.alert);
      let checked = 0;
      alertSteps.forEach((s, i) => {
        const a = s.alert!;
        if (a.status !== 'firing') return;
        // Skip replays (an older transition of the same fingerprint already seen).
        if (alertSteps.slice(0, i).some((p) => transitionKey(p.alert!) === transitionKey(a))) return;
        const labels = alertLabels(a);
        for (const route of tree.match(labels)) {
          const limit = s.at + route.groupWait + route.groupInterval;
          const superseded = alertSteps.slice(i + 1).some((n) => n.alert!.fingerprint === a.fingerprint && transitionKey(n.alert!) !== transitionKey(a) && n.at <= limit);
          if (superseded) continue;
          const groupLabels = route.groupLabels(labels);
          const key = `${route.id}:{${Object.keys(groupLabels).sort().map((k) => `${k}=${JSON.stringify(groupLabels[k])}`).join(',')}}`;
          const found = (byGroup.get(key) ?? []).some((g) => g.flushedAt >= s.at && g.flushedAt <= limit && g.alerts.some((x) => transitionKey(x) === transitionKey(a)));
          expect(found, `${transitionKey(a)} at ${iso(s.at)} not notified on ${key} by ${iso(limit)}`).toBe(true);
          checked++;
        }
      });
      expect(checked).toBeGreaterThan(50);
    });
  }

  it('a dispatcher restored from its JSON state at any point sends exactly what the original sends', () => {
    for (const seed of [11, 12, 13]) {
      const steps = sequence(seed, false);
      const until = steps[steps.length - 1]!.at + 6 * H;
      const whole = play(steps, false, until).sent;
      const cut = steps[Math.floor(steps.length / 2)]!.at;
      const first = play(steps.filter((s) => s.at < cut), false, cut - 1);
      const second = new Dispatcher({ routes: tree, inhibitRules: [] });
      second.restore(JSON.parse(JSON.stringify(first.d.state())), cut);
      const after = play(steps.filter((s) => s.at >= cut), false, until, { d: second }).sent;
      const brief = (gs: FlushedGroup[]) => gs.map((g) => `${g.flushedAt} ${g.groupKey} ${g.reason} ${g.alerts.map(transitionKey).join(' ')}`);
      expect(brief(first.sent.concat(after))).toEqual(brief(whole));
    }
  });
});
