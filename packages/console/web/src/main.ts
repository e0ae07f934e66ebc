import './style.css';
import { ApiError, onAuthProblem, setToken, token } from './api.js';
import { h } from './dom.js';
import { formatRoute, parseRoute, type Page as PageName } from '../lib/route.js';
import { alerts } from './pages/alerts.js';
import { deliveries } from './pages/deliveries.js';
import { entities } from './pages/entities.js';
import { events } from './pages/events.js';
import { host } from './pages/host.js';
import { overview } from './pages/overview.js';
import type { Page, PageContext } from './pages/page.js';

const PAGES: Record<PageName, Page> = { overview, host, events, alerts, entities, deliveries };
const NAV: PageName[] = ['overview', 'events', 'alerts', 'entities', 'deliveries'];

const main = document.getElementById('main')!;
const notice = document.getElementById('notice')!;
let generation = 0;
let timer: number | undefined;

function say(text: string, level = 'warning'): void {
  notice.hidden = !text;
  notice.className = level;
  notice.textContent = text;
}

/** Asks for a token; kept in this tab's session storage only. */
function askToken(reason: string): void {
  const input = h('input', { type: 'password', name: 'token', placeholder: 'API token', autocomplete: 'off', size: 28 }) as HTMLInputElement;
  const form = h('form', { class: 'token', id: 'token-form' }, h('p', {}, reason), input, h('button', { type: 'submit' }, 'Use token'), token() ? h('button', { type: 'button', id: 'forget' }, 'Forget token') : null);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(input.value.trim() || null);
    void show();
  });
  form.querySelector('#forget')?.addEventListener('click', () => {
    setToken(null);
    void show();
  });
  main.replaceChildren(form);
  input.focus();
}

onAuthProblem((e: ApiError) => {
  if (e.status === 401) say('This Vigil asks for a token: reads need the read scope, silencing the write scope.');
});

async function show(): Promise<void> {
  const mine = ++generation;
  if (timer !== undefined) clearTimeout(timer);
  const route = parseRoute(location.hash);
  const page = PAGES[route.page];
  document.title = `Vigil · ${route.arg ?? page.title}`;
  document.querySelectorAll<HTMLAnchorElement>('#nav a').forEach((a) => a.classList.toggle('on', a.dataset.page === route.page));
  const ctx: PageContext = {
    every(ms, f) {
      if (mine !== generation) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = window.setTimeout(async () => {
        if (mine !== generation) return;
        try {
          await f();
        } catch (err) {
          say(`Could not refresh: ${(err as Error).message}`);
          ctx.every(ms, f);
        }
      }, ms);
    },
    navigate(hash) {
      if (location.hash === hash) void show();
      else location.hash = hash;
    },
  };
  try {
    await page.render(main, route, ctx);
    if (mine === generation) say('');
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) askToken(err.message);
    else {
      say(`Could not load: ${(err as Error).message}`, 'critical');
      ctx.every(5_000, show);
    }
  }
}

function theme(next?: string): void {
  const t = next ?? localStorage.getItem('vigil.theme') ?? (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark');
  document.documentElement.dataset.theme = t;
  localStorage.setItem('vigil.theme', t);
}

document.getElementById('nav')!.replaceChildren(...NAV.map((p) => h('a', { href: formatRoute({ page: p, params: {} }), 'data-page': p }, PAGES[p].title)));
document.getElementById('theme')!.addEventListener('click', () => theme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
document.getElementById('token')!.addEventListener('click', () => askToken('A token with the read scope shows data; with write, silencing works too. It stays in this browser tab only.'));
window.addEventListener('hashchange', () => void show());
theme();
void show();
