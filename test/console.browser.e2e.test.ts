import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_NAMES, runVigil, type RunningVigil } from '@vigil/cli';
import { encodeAlert, parseConfig } from '@vigil/platform';
import { eventually } from './harness/index.js';

/**
 * The web console in a real browser (Debian's headless Chromium, driven by playwright-core)
 * against a real all-in-one with tokens configured, data pushed through the OTLP intake and an
 * alert published on the bus: the overview shows the pushed host and updates live, a host chart
 * has points, a search finds the pushed error and opens its stack trace, silencing works with a
 * write token and is refused with a read one. Each test saves a screenshot under
 * test-results/console/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'console');
const TOKENS = { main: 'console-main-secret', read: 'console-read-secret' };
const HOST = 'browser-host';
const STACK = 'Error: checkout exploded\n    at pay (/srv/shop/checkout.js:41:9)\n    at handle (/srv/shop/server.js:12:5)';

let dir: string;
let vigil: RunningVigil;
let context: BrowserContext;
let page: Page;
let base: string;

const attr = (key: string, value: string) => ({ key, value: { stringValue: value } });
const resource = (host: string) => ({ attributes: [attr('host.name', host), attr('host.id', `${host}-id`), attr('os.type', 'linux'), attr('os.description', 'Debian 12'), attr('service.name', 'vigil-collector')] });

async function post(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.main}` }, body: JSON.stringify(body) });
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
}

/** CPU, memory and uptime of a host at the given times, as an OTLP/JSON export request. */
async function pushHost(host: string, times: number[]): Promise<void> {
  const gauge = (name: string, value: number, attrs: { key: string; value: { stringValue: string } }[] = []) => ({
    name,
    unit: '1',
    gauge: { dataPoints: times.map((t) => ({ timeUnixNano: `${t}000000`, asDouble: value, attributes: attrs })) },
  });
  await post('/v1/metrics', {
    resourceMetrics: [
      {
        resource: resource(host),
        scopeMetrics: [
          {
            scope: { name: 'browser-test' },
            metrics: [
              gauge('system.cpu.utilization', 0.42, [attr('cpu.mode', 'user')]),
              gauge('system.cpu.utilization', 0.58, [attr('cpu.mode', 'idle')]),
              gauge('system.memory.utilization', 0.5, [attr('system.memory.state', 'used')]),
              gauge('system.uptime', 1234),
            ],
          },
        ],
      },
    ],
  });
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKENS.main}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function useToken(token: string): Promise<void> {
  await page.evaluate(`sessionStorage.setItem('vigil.token', ${JSON.stringify(token)})`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
  mkdirSync(SHOTS, { recursive: true });
  const yaml = [
    `dataDir: ${join(dir, 'data')}`,
    'http:',
    '  port: 0',
    '  tokens:',
    '    - { name: reader, token: "${READ_TOKEN}", scopes: [read] }',
    'collector:',
    '  host:',
    '    enabled: false',
    '',
  ].join('\n');
  vigil = await runVigil(parseConfig(yaml, { env: { VIGIL_API_TOKEN: TOKENS.main, READ_TOKEN: TOKENS.read }, source: 'vigil.yaml' }), { mode: 'all-in-one', roles: [...ROLE_NAMES] });
  await vigil.started;
  base = vigil.url.replace('[::1]', '127.0.0.1');

  const now = Date.now();
  await pushHost(HOST, [now - 5 * 60_000, now - 3 * 60_000, now - 60_000]);
  await post('/v1/logs', {
    resourceLogs: [
      {
        resource: { attributes: [attr('host.name', HOST), attr('service.name', 'shop'), attr('service.instance.id', 'shop-1')] },
        scopeLogs: [
          {
            scope: { name: 'browser-test' },
            logRecords: [
              { timeUnixNano: `${now - 120_000}000000`, severityNumber: 9, severityText: 'INFO', body: { stringValue: 'shop started' }, eventName: 'app.startup' },
              {
                timeUnixNano: `${now - 60_000}000000`,
                severityNumber: 17,
                severityText: 'ERROR',
                body: { stringValue: 'checkout exploded for order 77' },
                attributes: [attr('exception.type', 'Error'), attr('exception.stacktrace', STACK)],
              },
            ],
          },
        ],
      },
    ],
  });
  const producer = await vigil.bus.producer();
  const startsAt = new Date(now - 90_000).toISOString();
  const labels = { alertname: 'disk_high', 'host.name': HOST, 'system.filesystem.mountpoint': '/srv' };
  await producer.send('vigil.alerts', [
    {
      key: 'browser-alert',
      value: encodeAlert({ fingerprint: 'browser-alert', status: 'firing', severity: 'critical', labels, annotations: { summary: `Disk /srv 95 % full on ${HOST}` }, startsAt, value: 0.95, rule: 'disk_high', window: 300_000 }),
    },
  ]);
  await eventually(
    'the pushed host, error and alert on the dashboard',
    () => api<{ hosts: { name: string }[]; alerts: { active: unknown[] }; errors: unknown[] }>('/api/v1/dashboard'),
    (d) => d.hosts.some((h) => h.name === HOST) && d.alerts.active.length > 0 && d.errors.length > 0,
    60_000,
  );

  context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 180_000);

afterAll(async () => {
  await context?.close();
  await vigil?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the web console in Chromium', () => {
  it('asks for a token, then shows the pushed host on the overview and updates without a reload', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#token-form');
    await shot('01-token-asked');
    await page.fill('#token-form input[name=token]', TOKENS.read);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector(`#main a[href="#/host/${HOST}"]`);
    expect(await page.textContent('#main')).toContain('Disk /srv 95 % full');
    expect(await page.textContent('[data-testid=health]')).toMatch(/healthy|degraded|unhealthy/);
    await shot('02-overview');
    // Live: a host that reports now appears within the 5 s refresh, the page never reloaded.
    await page.evaluate('window.marker = 42');
    await pushHost('late-host', [Date.now() - 30_000]);
    await page.waitForSelector('#main a[href="#/host/late-host"]', { timeout: 30_000 });
    expect(await page.evaluate('window.marker')).toBe(42);
    await shot('03-overview-live');
  });

  it("draws the host's CPU chart with points", async () => {
    await page.goto(`${base}/#/host/${HOST}?range=1h`);
    await page.waitForSelector('[data-chart=cpu] .uplot canvas');
    // Three pushed readings, three points on the chart.
    expect(await page.getAttribute('[data-chart=cpu]', 'data-points')).toBe('3');
    expect(await page.textContent('[data-chart=cpu]')).not.toContain('no data');
    await shot('04-host');
  });

  it('finds the pushed error by text and opens its stack trace', async () => {
    await page.goto(`${base}/#/events?q=exploded&since=1h`);
    await page.waitForSelector('#event-list details');
    expect(await page.$$eval('#event-list details', (els) => els.length)).toBe(1);
    await page.click('#event-list details summary');
    await page.waitForSelector('[data-testid=stack]');
    expect(await page.textContent('[data-testid=stack]')).toBe(STACK);
    expect(await page.textContent('#event-list')).toContain('exception.type');
    await shot('05-events');
  });

  it('refuses to silence with a read token and silences with a write token', async () => {
    await page.goto(`${base}/#/alerts`);
    await page.waitForSelector('form[data-fingerprint=browser-alert]');
    await page.click('form[data-fingerprint=browser-alert] button.silence');
    await page.locator('#silence-status', { hasText: 'write scope' }).waitFor();
    expect(await page.textContent('#silence-status')).toMatch(/^Silencing needs a token with the write scope: .*needs a token with the write scope; token "reader" has read/);
    await shot('06-silence-refused');
    expect((await api<{ silences: unknown[] }>('/api/v1/silences?state=active')).silences).toEqual([]);

    await useToken(TOKENS.main);
    await page.reload();
    await page.waitForSelector('form[data-fingerprint=browser-alert]');
    await page.fill('form[data-fingerprint=browser-alert] input[name=comment]', 'disk swap planned');
    await page.click('form[data-fingerprint=browser-alert] button.silence');
    await page.locator('#silence-status', { hasText: 'Silenced until' }).waitFor();
    const { silences } = await api<{ silences: { matchers: string[]; comment: string }[] }>('/api/v1/silences?state=active');
    expect(silences).toEqual([
      expect.objectContaining({ matchers: ['alertname="disk_high"', `host.name="${HOST}"`, 'system.filesystem.mountpoint="/srv"'], comment: 'disk swap planned' }),
    ]);
    await shot('07-silenced');
  });

  it('reads on a phone-sized screen in the light theme', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/`);
    await page.waitForSelector(`#main a[href="#/host/${HOST}"]`);
    const theme = () => page.evaluate('document.documentElement.dataset.theme');
    const before = await theme();
    await page.click('#theme');
    expect(await theme()).toBe(before === 'dark' ? 'light' : 'dark');
    if ((await theme()) !== 'light') await page.click('#theme');
    expect(await theme()).toBe('light');
    // The choice is kept for the next visit.
    await page.reload();
    await page.waitForSelector(`#main a[href="#/host/${HOST}"]`);
    expect(await theme()).toBe('light');
    // Nothing wider than the screen but the tables, which scroll in their own box.
    expect(await page.evaluate('document.body.scrollWidth')).toBeLessThanOrEqual(390);
    await shot('08-phone-light');
  });
});
