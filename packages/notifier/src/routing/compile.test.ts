import { checkSection, fingerprint, type AlertTransition } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { compileRouting } from './compile.js';
import { RoutingConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';

const T0 = Date.parse('2025-06-02T10:00:00Z'); // Monday 12:00 in Berlin

function alert(host: string, severity: AlertTransition['severity']): AlertTransition {
  const labels = { alertname: 'cpu', host };
  return { fingerprint: fingerprint(labels), status: 'firing', severity, labels, annotations: {}, startsAt: new Date(T0).toISOString(), value: 95, rule: 'cpu', window: 60_000 };
}

describe('a routing section from a config file, end to end', () => {
  const raw = {
    route: {
      receiver: 'team',
      groupBy: ['alertname'],
      groupWait: '10s',
      routes: [
        { matchers: ['severity="critical"'], receiver: 'oncall', groupBy: ['host'], activeTimeIntervals: ['office'] },
        { matchers: ['host=~"lab-.*"'], receiver: 'lab', muteTimeIntervals: ['always'] },
      ],
    },
    timeIntervals: [
      { name: 'office', timeIntervals: [{ weekdays: ['monday:friday'], times: [{ startTime: '09:00', endTime: '18:00' }], location: 'Europe/Berlin' }] },
      { name: 'always', timeIntervals: [{}] },
    ],
    silences: [{ matchers: ['host="web-9"'], startsAt: '2025-06-02T00:00:00Z', endsAt: '2025-06-03T00:00:00Z', comment: 'maintenance', createdBy: 'ops' }],
  };

  it('decodes, compiles and drives a dispatcher', () => {
    const config = checkSection(RoutingConfig, raw, 'vigil.yaml: notifier.routing');
    const routing = compileRouting(config, 'vigil.yaml: notifier.routing', T0);
    expect(routing.silences.list(T0).map((s) => [s.comment, s.state])).toEqual([['maintenance', 'active']]);
    const d = new Dispatcher(routing);
    for (const a of [alert('web-1', 'critical'), alert('web-2', 'critical'), alert('web-9', 'critical'), alert('lab-1', 'warning'), alert('db-1', 'warning')]) d.receive(a, T0);
    const sent = d.flush(T0 + 10_000);
    expect(sent.map((g) => `${g.receiver} ${g.alerts.map((a) => a.labels.host).join(',')}`).sort()).toEqual(['oncall web-1', 'oncall web-2', 'team db-1']);
    // At 20:00 in Berlin the critical route is outside its active interval: new criticals wait.
    d.receive(alert('web-3', 'critical'), T0 + 8 * 3_600_000);
    expect(d.flush(T0 + 8 * 3_600_000 + 10_000).filter((g) => g.receiver === 'oncall')).toEqual([]);
  });

  it('rejects a zero group interval, naming the key', () => {
    expect(() =>
      compileRouting(checkSection(RoutingConfig, { route: { receiver: 'r', routes: [{ groupInterval: '0s' }] } }, 'f: notifier.routing'), 'f: notifier.routing'),
    ).toThrow('f: notifier.routing.route.routes[0].groupInterval: must be a positive duration');
  });
});
