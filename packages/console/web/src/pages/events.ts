import { api } from '../api.js';
import { h } from '../dom.js';
import { timestamp } from '../../lib/format.js';
import { EVENT_FILTERS, eventsQuery, mergeNewer, tailFrom } from '../../lib/tail.js';
import type { Page } from './page.js';

interface EventItem {
  id: string;
  timestamp: string;
  severity: string;
  severityNumber: number;
  eventName: string;
  body: string;
  host: string;
  service: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
}

const sevClass = (n: number, text: string) => (n >= 17 || /err|fatal|crit/i.test(text) ? 'critical' : n >= 13 || /warn/i.test(text) ? 'warning' : '');

function detail(e: EventItem): HTMLElement {
  const stack = e.attributes['exception.stacktrace'];
  const rows = (m: Record<string, string>) => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)).filter(([k]) => k !== 'exception.stacktrace').map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)));
  return h(
    'div',
    { class: 'detail' },
    h('p', {}, h('b', {}, e.body)),
    stack ? h('pre', { class: 'stack', 'data-testid': 'stack' }, stack) : null,
    h('h3', {}, 'Attributes'),
    h('table', { class: 'kv' }, rows(e.attributes)),
    h('h3', {}, 'Resource'),
    h('table', { class: 'kv' }, rows(e.resource)),
  );
}

/** Search by text and filters, page with the cursor, open a record, or follow new ones live. */
export const events: Page = {
  title: 'Events',
  async render(main, route, ctx) {
    const filters: Record<string, string> = { since: '1h', ...route.params };
    let shown: EventItem[] = [];
    let next: string | undefined;
    const list = h('div', { class: 'events', id: 'event-list' });
    const more = h('button', { type: 'button', id: 'more', hidden: true }, 'More');
    const live = h('input', { type: 'checkbox', id: 'live' }) as HTMLInputElement;
    const form = h(
      'form',
      { class: 'filters', id: 'event-filters' },
      EVENT_FILTERS.map((k) =>
        k === 'severity'
          ? h('label', {}, k, h('select', { name: k }, ['', 'debug', 'info', 'warn', 'error', 'fatal'].map((s) => h('option', { value: s, selected: filters[k] === s }, s || 'any'))))
          : h('label', {}, k === 'q' ? 'text' : k, h('input', { name: k, value: filters[k] ?? '', size: k === 'q' ? 24 : 10 })),
      ),
      h('button', { type: 'submit' }, 'Search'),
      h('label', { class: 'live' }, live, ' live tail'),
    );
    const draw = () => {
      list.replaceChildren(
        ...shown.map((e) => {
          const row = h(
            'details',
            { class: `event ${sevClass(e.severityNumber, e.severity)}`, 'data-id': e.id },
            h('summary', {}, h('time', {}, timestamp(e.timestamp)), ' ', h('span', { class: 'sev' }, e.severity || '–'), ' ', h('span', { class: 'who' }, `${e.host} ${e.service}`), ' ', e.eventName ? h('code', {}, e.eventName) : null, ' ', e.body.slice(0, 300)),
          );
          row.addEventListener('toggle', () => {
            if (row.open && row.childElementCount === 1) row.append(detail(e));
          });
          return row;
        }),
      );
      if (shown.length === 0) list.append(h('p', { class: 'muted' }, 'No record matches.'));
      more.hidden = !next;
    };
    const load = async (cursor?: string) => {
      const r = await api<{ events: EventItem[]; next?: string }>(`/api/v1/events?${eventsQuery(filters, { limit: '100', ...(cursor ? { cursor } : {}) })}`);
      shown = cursor ? [...shown, ...r.events] : r.events;
      next = r.next;
      draw();
    };
    const tail = async () => {
      if (!live.checked) return;
      const from = tailFrom(shown, Date.now() - 60_000);
      const { since: _s, ...rest } = filters;
      const r = await api<{ events: EventItem[] }>(`/api/v1/events?${eventsQuery(rest, { from: String(from), limit: '200' })}`);
      shown = mergeNewer(shown, r.events);
      draw();
      ctx.every(2_000, tail);
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      const params: Record<string, string> = {};
      for (const k of EVENT_FILTERS) {
        const v = String(data.get(k) ?? '').trim();
        if (v) params[k] = v;
      }
      ctx.navigate(`#/events?${new URLSearchParams(params)}`);
    });
    more.addEventListener('click', () => void load(next));
    live.addEventListener('change', () => void tail());
    main.replaceChildren(h('h1', {}, 'Events'), form, list, more);
    await load();
  },
};
