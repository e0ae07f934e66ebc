import { checkSection, ConfigError } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { RouteConfig, RoutingConfig } from './config.js';
import { compileRouting } from './compile.js';
import { compileRoutes, defaultRoutes, type Route } from './routes.js';

const route = (raw: unknown, timeIntervals?: string[]) => compileRoutes(checkSection(RouteConfig, raw, 'route'), { timeIntervals });
const receivers = (r: Route, labels: Record<string, string>) => r.match(labels).map((m) => m.receiver);

describe('route tree', () => {
  const tree = route({
    receiver: 'root',
    groupBy: ['alertname'],
    groupWait: '10s',
    routes: [
      {
        matchers: ['severity="critical"'],
        receiver: 'pager',
        groupWait: '5s',
        continue: true,
        routes: [
          { matchers: ['host=~"db-.*"'], receiver: 'dba', groupBy: ['host'] },
          { matchers: ['host=~"web-.*"'], receiver: 'web' },
        ],
      },
      { matchers: ['severity=~"critical|warning"'], receiver: 'team', repeatInterval: '1h' },
      { matchers: ['severity="critical"'], receiver: 'never' },
      { matchers: ['rule="disk"'], groupBy: ['...'] },
    ],
  });

  it('takes the first matching child, depth first', () => {
    expect(receivers(tree, { severity: 'warning', host: 'db-1' })).toEqual(['team']);
    expect(receivers(tree, { severity: 'info', rule: 'cpu' })).toEqual(['root']);
  });

  it('continue tries the following siblings too', () => {
    expect(receivers(tree, { severity: 'critical', host: 'db-1' })).toEqual(['dba', 'team']);
    // A matching parent whose children do not match is itself the match.
    expect(receivers(tree, { severity: 'critical', host: 'cache-1' })).toEqual(['pager', 'team']);
  });

  it('children inherit receiver, groupBy and timers, and override what they set', () => {
    const [dba, team] = tree.match({ severity: 'critical', host: 'db-1' });
    expect(dba).toMatchObject({ receiver: 'dba', groupBy: ['host'], groupWait: 5000, groupInterval: 300_000, repeatInterval: 14_400_000 });
    expect(team).toMatchObject({ receiver: 'team', groupBy: ['alertname'], groupWait: 10_000, repeatInterval: 3_600_000 });
    const [web] = tree.match({ severity: 'critical', host: 'web-2' });
    expect(web).toMatchObject({ receiver: 'web', groupBy: ['alertname'], groupWait: 5000 });
    const [disk] = tree.match({ severity: 'info', rule: 'disk' });
    expect(disk).toMatchObject({ receiver: 'root', groupBy: 'all' });
  });

  it('group labels: the groupBy values present, or all labels for "..."', () => {
    const [dba] = tree.match({ severity: 'critical', host: 'db-1', alertname: 'x' });
    expect(dba!.groupLabels({ severity: 'critical', host: 'db-1', alertname: 'x' })).toEqual({ host: 'db-1' });
    const [disk] = tree.match({ severity: 'info', rule: 'disk' });
    expect(disk!.groupLabels({ severity: 'info', rule: 'disk' })).toEqual({ rule: 'disk', severity: 'info' });
    expect(tree.groupLabels({ severity: 'info' })).toEqual({});
  });

  it('route ids are stable and distinct', () => {
    const ids = new Set<string>();
    const walk = (r: Route) => {
      ids.add(r.id);
      r.routes.forEach(walk);
    };
    walk(tree);
    expect(ids.size).toBe(7);
    expect(tree.routes[0]!.routes[0]!.id).toBe('{}/0{severity="critical"}/0{host=~"db-.*"}');
  });

  it('names the key of every problem', () => {
    const problems = (raw: unknown, intervals?: string[]) => {
      try {
        route(raw, intervals);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems;
      }
      throw new Error('no error');
    };
    expect(
      problems(
        {
          receiver: 'r',
          matchers: ['a="b"'],
          routes: [{ matchers: ['host=~"("'], muteTimeIntervals: ['nights'], routes: [{ activeTimeIntervals: ['weekdays', 'office'], groupBy: ['...', 'x'] }] }],
        },
        ['weekdays'],
      ),
    ).toEqual([
      'route.matchers: the root route takes every alert; put matchers on its child routes',
      expect.stringMatching(/^route\.routes\[0\]\.matchers\[0\]: .*not a valid regex/),
      'route.routes[0].muteTimeIntervals[0]: no time interval is named "nights" (define it under timeIntervals; defined: weekdays)',
      'route.routes[0].routes[0].activeTimeIntervals[1]: no time interval is named "office" (define it under timeIntervals; defined: weekdays)',
      'route.routes[0].routes[0].groupBy: "..." groups by all labels and cannot be combined with other labels',
    ]);
    expect(() => checkSection(RouteConfig, { routes: [] }, 'f.yaml: notifier.routing.route')).toThrow(/notifier\.routing\.route\.receiver: is required/);
    expect(() => checkSection(RouteConfig, { receiver: 'x', routes: [{ routes: [{ groupWait: 'soon' }] }] }, 'r')).toThrow(
      'r.routes[0].routes[0].groupWait: "soon" is not a duration (use 30s, 5m, 1h)',
    );
  });
});

describe('default tree (MISSION B)', () => {
  it('routes each severity to its own receiver', () => {
    const tree = compileRoutes(defaultRoutes());
    expect(receivers(tree, { severity: 'info' })).toEqual(['default-info']);
    expect(receivers(tree, { severity: 'warning' })).toEqual(['default-warning']);
    expect(receivers(tree, { severity: 'critical' })).toEqual(['default-critical']);
    expect(tree.routes[0]).toMatchObject({ groupWait: 30_000, groupInterval: 300_000, repeatInterval: 14_400_000, groupBy: ['alertname'] });
    const named = compileRoutes(defaultRoutes({ critical: 'oncall' }));
    expect(receivers(named, { severity: 'critical' })).toEqual(['oncall']);
  });
});

describe('the whole routing section', () => {
  it('compiles with defaults when empty', () => {
    const r = compileRouting(checkSection(RoutingConfig, {}, 'notifier.routing'), 'notifier.routing', 0);
    expect(receivers(r.routes, { severity: 'critical' })).toEqual(['default-critical']);
    expect(r.inhibitRules).toHaveLength(1);
    expect(compileRouting(checkSection(RoutingConfig, { inhibitRules: [] }, 'x'), 'x', 0).inhibitRules).toHaveLength(0);
  });

  it('gathers every problem with its key', () => {
    const raw = {
      route: { receiver: 'r', routes: [{ matchers: ['x'], muteTimeIntervals: ['nope'] }] },
      inhibitRules: [{ sourceMatchers: ['a=~"["'] }],
      timeIntervals: [{ name: 'w', timeIntervals: [{ weekdays: ['friday:monday'], location: 'Mars/Olympus' }] }],
      silences: [{ matchers: ['a="b"'], startsAt: '2025-01-02T00:00:00Z', endsAt: '2025-01-01T00:00:00Z' }],
    };
    expect(() => compileRouting(checkSection(RoutingConfig, raw, 'f.yaml: notifier.routing'), 'f.yaml: notifier.routing', 0)).toThrow(
      new ConfigError([
        'f.yaml: notifier.routing.timeIntervals[0].timeIntervals[0].location: "Mars/Olympus" is not an IANA time zone (use e.g. UTC, Europe/Berlin, America/New_York, Local)',
        'f.yaml: notifier.routing.timeIntervals[0].timeIntervals[0].weekdays[0]: "friday:monday" starts after it ends (write the earlier one first)',
        'f.yaml: notifier.routing.route.routes[0].matchers[0]: "x" is not a matcher (use name="value", name!="value", name=~"regex" or name!~"regex")',
        'f.yaml: notifier.routing.route.routes[0].muteTimeIntervals[0]: no time interval is named "nope" (define it under timeIntervals; defined: w)',
        'f.yaml: notifier.routing.inhibitRules[0].sourceMatchers[0]: "a=~\"[\"": "[" is not a valid regex (Invalid regular expression: /^(?:[)$/s: Unterminated character class)',
        'f.yaml: notifier.routing.silences[0].endsAt: 2025-01-01T00:00:00Z is not after startsAt 2025-01-02T00:00:00Z',
      ]),
    );
  });
});
