import { api } from '../api.js';
import { chart } from '../chart.js';
import { badge, card, h, table } from '../dom.js';
import { ago, bytes, number, percent } from '../../lib/format.js';
import { formatRoute } from '../../lib/route.js';
import { RANGES, align, labelOf, rangeQuery, rate, sumWhere, type ApiSeries, type RangeName } from '../../lib/series.js';
import type { Page } from './page.js';

interface SeriesReply {
  series: ApiSeries[];
}

/** CPU, memory, disk, network and load over 1 h to 7 d, with the host's probes, events and alerts. */
export const host: Page = {
  title: 'Host',
  async render(main, route, ctx) {
    const name = route.arg ?? '';
    const range = (route.params.range && route.params.range in RANGES ? route.params.range : '1h') as RangeName;
    const now = Date.now();
    const { from, to, step } = rangeQuery(range, now);
    const series = (metric: string, agg = 'avg') =>
      api<SeriesReply>(`/api/v1/metrics/series?${new URLSearchParams({ name: metric, host: name, from: String(from), to: String(to), step, agg })}`).then((r) => r.series);
    const picker = h(
      'div',
      { class: 'ranges', role: 'group', 'aria-label': 'range' },
      Object.keys(RANGES).map((r) => h('a', { href: formatRoute({ ...route, params: { ...route.params, range: r } }), class: r === range ? 'on' : '' }, r)),
    );
    const boxes = ['cpu', 'memory', 'disk', 'network', 'load'].map((id) => h('div', { class: 'chart', 'data-chart': id }));
    main.replaceChildren(h('h1', {}, name, ' ', picker), h('div', { class: 'charts' }, boxes));
    const [cpu, mem, disk, net, load, probes, events, alerts] = await Promise.all([
      series('system.cpu.utilization'),
      series('system.memory.utilization'),
      series('system.filesystem.utilization'),
      series('system.network.io', 'last'),
      series('system.cpu.load_average.1m'),
      series('vigil.probe.up', 'last'),
      api<{ events: { timestamp: string; severity: string; eventName: string; body: string }[] }>(`/api/v1/events?${new URLSearchParams({ host: name, since: '24h', limit: '20' })}`),
      api<{ active: { severity: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }[]; recent: { status: string; severity: string; labels: Record<string, string>; annotations: Record<string, string>; at: string }[] }>(
        '/api/v1/alerts?since=7d',
      ),
    ]);
    const busy = sumWhere(cpu, (a) => (a['cpu.mode'] ?? a.state) !== 'idle');
    chart(boxes[0]!, 'CPU busy', align([{ label: 'busy', points: busy }]), (v) => percent(v));
    chart(boxes[1]!, 'Memory used', align(mem.filter((s) => (s.attributes['system.memory.state'] ?? 'used') === 'used').map((s) => ({ label: 'used', points: s.points }))), (v) => percent(v));
    chart(boxes[2]!, 'Disk used', align(disk.map((s) => ({ label: labelOf(s.attributes, ['system.filesystem.mountpoint']), points: s.points }))), (v) => percent(v));
    chart(
      boxes[3]!,
      'Network (per second)',
      align(net.map((s) => ({ label: labelOf(s.attributes, ['network.interface.name', 'network.io.direction']), points: rate(s.points) }))),
      (v) => bytes(v),
    );
    chart(boxes[4]!, 'Load (1 min)', align(load.map((s) => ({ label: 'load', points: s.points }))), (v) => number(v));
    const mine = (labels: Record<string, string>) => labels['host.name'] === name || labels.host === name;
    main.append(
      card(
        'Probes',
        table(
          ['probe', 'kind', 'state'],
          probes.map((p) => {
            const last = p.points.at(-1)?.[1];
            return [p.attributes['vigil.probe.name'] ?? '–', p.attributes['vigil.probe.kind'] ?? '–', badge(last === 1 ? 'up' : 'down', last === 1 ? 'ok' : 'critical')];
          }),
          'No probe runs on this host.',
        ),
      ),
      card(
        'Alerts',
        table(
          ['level', 'alert', 'status', 'when'],
          [...alerts.active.filter((a) => mine(a.labels)).map((a) => [badge(a.severity, a.severity), a.annotations.summary ?? a.labels.alertname ?? '', 'firing', ago(a.startsAt, now)]),
            ...alerts.recent.filter((a) => mine(a.labels) && a.status === 'resolved').slice(0, 10).map((a) => [badge(a.severity, a.severity), a.annotations.summary ?? a.labels.alertname ?? '', 'resolved', ago(a.at, now)])],
          'No alert on this host in 7 days.',
        ),
      ),
      card(
        'Events (24 h)',
        table(['time', 'severity', 'event', 'message'], events.events.map((e) => [ago(e.timestamp, now), e.severity, e.eventName, e.body.slice(0, 200)]), 'No event in 24 hours.'),
        h('p', {}, h('a', { href: `#/events?host=${encodeURIComponent(name)}` }, 'Search this host’s events →')),
      ),
    );
    if (range === '1h') ctx.every(30_000, () => host.render(main, route, ctx));
  },
};
