import { api } from '../api.js';
import { card, h, table } from '../dom.js';
import { ago, bytes, duration, number } from '../../lib/format.js';
import type { Page } from './page.js';

interface Entity {
  kind: string;
  id: string;
  host: string;
  counters: Record<string, number>;
  lastSeen: string;
  lastActivity?: string;
  uptimeSeconds: number;
}

const BYTE_COUNTERS = new Set(['received', 'sent', 'io', 'bytes_in', 'bytes_out']);

/** Every entity the parse rules count (tunnels, printers, containers) with its counters. */
export const entities: Page = {
  title: 'Entities',
  async render(main, _route, ctx) {
    const { entities: list } = await api<{ entities: Entity[] }>('/api/v1/entities');
    const now = Date.now();
    const kinds = [...new Set(list.map((e) => e.kind))];
    main.replaceChildren(
      h('h1', {}, 'Entities'),
      kinds.length === 0 ? h('p', { class: 'muted' }, 'No entity counted in 24 hours. Log parse rules that emit vigil.<kind>.<counter> metrics with a <kind>.id attribute fill this page.') : '',
      ...kinds.map((kind) => {
        const of = list.filter((e) => e.kind === kind);
        const counters = [...new Set(of.flatMap((e) => Object.keys(e.counters)))].filter((c) => c !== 'last_activity' && c !== 'uptime').sort();
        return card(
          kind,
          table(
            ['id', 'host', ...counters, 'last activity', 'uptime'],
            of.map((e) => [e.id, e.host, ...counters.map((c) => (BYTE_COUNTERS.has(c) ? bytes(e.counters[c]) : number(e.counters[c]))), ago(e.lastActivity ?? e.lastSeen, now), duration(e.uptimeSeconds)]),
          ),
        );
      }),
    );
    ctx.every(15_000, () => entities.render(main, _route, ctx));
  },
};
