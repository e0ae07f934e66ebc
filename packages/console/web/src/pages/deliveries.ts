import { api } from '../api.js';
import { badge, h, table } from '../dom.js';
import { timestamp } from '../../lib/format.js';
import type { Page } from './page.js';

interface Delivery {
  channel: string;
  receiver: string;
  status: string;
  severity: string;
  rule: string;
  alerts: number;
  attempts: number;
  lastError: string;
  time: string;
}

/** Every notification: channel, status, attempts and the last error. */
export const deliveries: Page = {
  title: 'Deliveries',
  async render(main, route, ctx) {
    const status = route.params.status === 'failed' || route.params.status === 'sent' ? route.params.status : '';
    const { deliveries: list } = await api<{ deliveries: Delivery[] }>(`/api/v1/deliveries?since=7d&limit=500${status ? `&status=${status}` : ''}`);
    main.replaceChildren(
      h('h1', {}, 'Deliveries ', h('span', { class: 'ranges' }, ['', 'sent', 'failed'].map((s) => h('a', { href: `#/deliveries${s ? `?status=${s}` : ''}`, class: s === status ? 'on' : '' }, s || 'all')))),
      table(
        ['time', 'status', 'channel', 'receiver', 'rule', 'level', 'alerts', 'attempts', 'last error'],
        list.map((d) => [timestamp(d.time), badge(d.status, d.status === 'sent' ? 'ok' : 'critical'), d.channel, d.receiver, d.rule, d.severity, d.alerts, d.attempts, d.lastError]),
        'No notification in 7 days.',
      ),
    );
    ctx.every(15_000, () => deliveries.render(main, route, ctx));
  },
};
