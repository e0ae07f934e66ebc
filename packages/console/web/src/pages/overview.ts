import { api } from '../api.js';
import { badge, card, h, table } from '../dom.js';
import { ago, bytes, levelOf, percent } from '../../lib/format.js';
import type { Page } from './page.js';

interface Dashboard {
  generatedAt: string;
  health: {
    status: string;
    database: { status: string; responseMs: number };
    dependencies: Record<string, { status: string; detail?: string }>;
    findings: { level: string; message: string }[];
    resources: { host: string; disks: { mountpoint: string; freeBytes: number | null }[] }[];
  };
  hosts: { name: string; os: string; osDescription: string; lastSeen: string; status: string; cpu: number | null; memory: number | null; disk: number | null }[];
  metrics: { hostsUp: number; hostsTotal: number; events5m: number; errors1h: number };
  alerts: { counts: Record<string, number>; active: { fingerprint: string; severity: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; value: number }[] };
  errors: { id: string; timestamp: string; host: string; service: string; body: string; severity: string }[];
  deliveries: { failed24h: number; recentFailed: { channel: string; rule: string; attempts: number; lastError: string; time: string }[] };
}

interface Clients {
  clients: { id: string; name: string; service: string; version: string; os: string; lastActivity: string; events5m: number; errors: number }[];
}

const STATUS_LEVEL: Record<string, string> = { healthy: 'ok', degraded: 'warning', unhealthy: 'critical', up: 'ok', stale: 'warning', down: 'critical', starting: 'warning' };

/** Overall health, hosts and clients, alerts by level, the last errors and failed deliveries; refreshed every 5 s. */
export const overview: Page = {
  title: 'Overview',
  async render(main, _route, ctx) {
    const [d, c] = await Promise.all([api<Dashboard>('/api/v1/dashboard'), api<Clients>('/api/v1/clients')]);
    const now = Date.parse(d.generatedAt);
    const free = new Map(d.health.resources.map((r) => [r.host, r.disks.reduce<number | null>((m, x) => (x.freeBytes === null ? m : Math.min(m ?? Infinity, x.freeBytes)), null)]));
    main.replaceChildren(
      h(
        'div',
        { class: 'kpis', id: 'overview' },
        h('div', { class: `kpi ${STATUS_LEVEL[d.health.status] ?? ''}`, 'data-testid': 'health' }, h('b', {}, d.health.status), h('span', {}, 'health')),
        h('div', { class: 'kpi' }, h('b', {}, `${d.metrics.hostsUp}/${d.metrics.hostsTotal}`), h('span', {}, 'hosts up')),
        h('div', { class: `kpi ${d.alerts.counts.critical ? 'critical' : ''}` }, h('b', {}, d.alerts.counts.critical ?? 0), h('span', {}, 'critical')),
        h('div', { class: `kpi ${d.alerts.counts.warning ? 'warning' : ''}` }, h('b', {}, d.alerts.counts.warning ?? 0), h('span', {}, 'warning')),
        h('div', { class: 'kpi' }, h('b', {}, d.alerts.counts.info ?? 0), h('span', {}, 'info')),
        h('div', { class: 'kpi' }, h('b', {}, d.metrics.events5m), h('span', {}, 'events 5 min')),
        h('div', { class: `kpi ${d.metrics.errors1h ? 'warning' : ''}` }, h('b', {}, d.metrics.errors1h), h('span', {}, 'errors 1 h')),
      ),
      card(
        'Health',
        h(
          'p',
          {},
          badge(`database ${d.health.database.status} · ${d.health.database.responseMs} ms`, STATUS_LEVEL[d.health.database.status] ?? ''),
          ' ',
          Object.entries(d.health.dependencies).map(([name, dep]) => [badge(`${name} ${dep.status}`, STATUS_LEVEL[dep.status] ?? ''), ' ']),
        ),
        d.health.findings.length ? h('ul', { class: 'findings' }, d.health.findings.map((f) => h('li', { class: f.level }, f.message))) : h('p', { class: 'muted' }, 'No threshold crossed.'),
      ),
      card(
        'Hosts',
        table(
          ['host', 'status', 'CPU', 'memory', 'disk', 'free', 'OS', 'last seen'],
          d.hosts.map((x) => [
            h('a', { href: `#/host/${encodeURIComponent(x.name)}` }, x.name),
            badge(x.status, STATUS_LEVEL[x.status] ?? ''),
            h('span', { class: levelOf(x.cpu, 0.7, 0.9) }, percent(x.cpu)),
            h('span', { class: levelOf(x.memory, 0.7, 0.9) }, percent(x.memory)),
            h('span', { class: levelOf(x.disk, 0.8, 0.9) }, percent(x.disk)),
            bytes(free.get(x.name)),
            x.osDescription || x.os || '–',
            ago(x.lastSeen, now),
          ]),
          'No host has reported in the last 24 hours.',
        ),
      ),
      card(
        'Clients (active in the last hour)',
        table(
          ['client', 'computer', 'service', 'version', 'OS', 'last activity', 'events 5 min', 'errors 24 h'],
          c.clients.map((x) => [x.id, x.name, x.service, x.version || '–', x.os || '–', ago(x.lastActivity, now), x.events5m, h('span', { class: x.errors ? 'critical' : '' }, x.errors)]),
          'No client was active in the last hour.',
        ),
      ),
      card(
        'Active alerts',
        table(
          ['level', 'alert', 'value', 'since'],
          d.alerts.active.map((a) => [badge(a.severity, a.severity), a.annotations.summary ?? a.labels.alertname ?? a.fingerprint, String(a.value), ago(a.startsAt, now)]),
          'No alert is firing.',
        ),
        h('p', {}, h('a', { href: '#/alerts' }, 'All alerts and history →')),
      ),
      card(
        'Last errors',
        table(
          ['time', 'host', 'service', 'message'],
          d.errors.map((e) => [ago(e.timestamp, now), e.host, e.service, h('a', { href: `#/events?severity=error&q=${encodeURIComponent(e.body.slice(0, 60))}` }, e.body.slice(0, 160))]),
          'No error in the last 24 hours.',
        ),
      ),
      card(
        `Failed deliveries (${d.deliveries.failed24h} in 24 h)`,
        table(['time', 'channel', 'rule', 'attempts', 'last error'], d.deliveries.recentFailed.map((x) => [ago(x.time, now), x.channel, x.rule, x.attempts, x.lastError]), 'Every notification went out.'),
      ),
    );
    ctx.every(5_000, () => overview.render(main, _route, ctx));
  },
};
