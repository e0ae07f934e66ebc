import { ApiError, api, token } from '../api.js';
import { badge, card, h, table } from '../dom.js';
import { ago, timestamp } from '../../lib/format.js';
import { SILENCE_DURATIONS, silenceBody } from '../../lib/silence.js';
import type { Page } from './page.js';

interface Alert {
  fingerprint: string;
  status: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  value: number;
  at: string;
}

interface Silence {
  id: string;
  matchers: string[];
  endsAt: string;
  comment: string;
  state: string;
}

/** Active alerts with level, value and since-when; the history; silencing (needs a token with write). */
export const alerts: Page = {
  title: 'Alerts',
  async render(main, _route, ctx) {
    const [a, s] = await Promise.all([api<{ active: Alert[]; recent: Alert[] }>('/api/v1/alerts?since=7d&limit=200'), api<{ silences: Silence[] }>('/api/v1/silences?state=active').catch(() => ({ silences: [] as Silence[] }))]);
    const now = Date.now();
    const status = h('p', { id: 'silence-status', role: 'status' });
    const silenceForm = (alert: Alert) => {
      const duration = h('select', { name: 'duration' }, SILENCE_DURATIONS.map((d) => h('option', { value: d }, d))) as HTMLSelectElement;
      const comment = h('input', { name: 'comment', placeholder: 'why', size: 14 }) as HTMLInputElement;
      const button = h('button', { type: 'submit', class: 'silence' }, 'Silence');
      const form = h('form', { class: 'inline', 'data-fingerprint': alert.fingerprint }, duration, comment, button);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        button.setAttribute('disabled', '');
        try {
          const r = await api<{ silence: Silence }>('/api/v1/silences', { method: 'POST', body: JSON.stringify(silenceBody(alert.labels, duration.value, comment.value)) });
          status.className = 'ok';
          status.textContent = `Silenced until ${timestamp(r.silence.endsAt)} UTC (${r.silence.id}).`;
          ctx.every(500, () => alerts.render(main, _route, ctx));
        } catch (err) {
          status.className = 'critical';
          const e = err as ApiError;
          status.textContent = e.status === 403 || e.status === 401 ? `Silencing needs a token with the write scope: ${e.message}` : `Could not silence: ${e.message}`;
          button.removeAttribute('disabled');
        }
      });
      return form;
    };
    main.replaceChildren(
      h('h1', {}, 'Alerts'),
      token() ? '' : h('p', { class: 'muted' }, 'Silencing needs a token with the write scope: set one with the Token button.'),
      status,
      card(
        'Active',
        table(
          ['level', 'alert', 'labels', 'value', 'since', 'silence'],
          a.active.map((x) => [badge(x.severity, x.severity), x.annotations.summary ?? x.labels.alertname ?? x.fingerprint, h('code', {}, Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(' ')), String(x.value), ago(x.startsAt, now), silenceForm(x)]),
          'No alert is firing.',
        ),
      ),
      card('Silences', table(['matchers', 'until', 'comment'], s.silences.map((x) => [h('code', {}, x.matchers.join(', ')), timestamp(x.endsAt), x.comment]), 'No active silence.')),
      card('History (7 days)', table(['when', 'status', 'level', 'alert', 'value'], a.recent.map((x) => [timestamp(x.at), badge(x.status, x.status === 'firing' ? x.severity : 'ok'), x.severity, x.annotations.summary ?? x.labels.alertname ?? '', String(x.value)]), 'No transition in 7 days.')),
    );
    ctx.every(15_000, () => alerts.render(main, _route, ctx));
  },
};
