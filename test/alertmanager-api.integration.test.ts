import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessPolicy, createHttpServer, createTelemetry, HealthRegistry, MemoryBus, migrate, openStorage, parseConfig, type Storage } from '@vigil/platform';
import { createNotifierRole, registerAlertmanagerApi, registerNotifierApi, type NotifierRole } from '@vigil/notifier';
import { eventually, freePort } from './harness/index.js';
import { startHookSink, type HookSink } from './harness/webhook.js';

/**
 * Vigil's notifier as an Alertmanager, checked with the real clients: Debian's Prometheus sends
 * its alerts to POST /api/v2/alerts, they reach a webhook receiver through Vigil's routing, and
 * Debian's amtool reads them (GET /api/v2/alerts) and adds, lists and expires silences.
 */

const run = promisify(execFile);

interface Hook {
  receiver: string;
  groupKey: string;
  status: string;
  alerts: { status: string; labels: Record<string, string>; generatorURL: string }[];
}

let dir: string;
let storage: Storage;
let role: NotifierRole;
let app: ReturnType<typeof createHttpServer>;
let url: string;
let webhook: HookSink<Hook>;
let prometheus: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-am-api-'));
  webhook = await startHookSink<Hook>();
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
  const config = parseConfig(
    `dataDir: ${dir}
notifier:
  receivers: [{ name: oncall, webhook: [{ url: "${webhook.url}" }] }]
  route: { receiver: oncall, groupBy: [alertname], groupWait: 0s, groupInterval: 1s }
`,
    { env: { VIGIL_API_TOKEN: 'am-secret' } },
  );
  const health = new HealthRegistry();
  const telemetry = createTelemetry('am-api-test');
  role = createNotifierRole({ config, bus: new MemoryBus(), storage, telemetry, health });
  await role.start();
  app = createHttpServer(health, telemetry, { access: accessPolicy(config.http) });
  writeFileSync(join(dir, 'http.yml'), 'authorization: { type: Bearer, credentials: am-secret }\n');
  registerNotifierApi(app, role.services);
  registerAlertmanagerApi(app, role.services);
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  url = `http://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await role?.stop();
  await app?.close();
  await storage?.close();
  await webhook?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** amtool with Vigil's token, as its --http.config.file sends it; `anonymous` sends none. */
async function amtool(...args: string[]): Promise<string> {
  const anonymous = args[0] === 'anonymous';
  const rest = anonymous ? args.slice(1) : [`--http.config.file=${join(dir, 'http.yml')}`, ...args];
  const { stdout } = await run('amtool', [`--alertmanager.url=${url}`, ...rest], { timeout: 20_000 });
  return stdout;
}

const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: 'Bearer am-secret' } });

describe('the Alertmanager-compatible API with real clients', () => {
  it('takes Prometheus\'s alerts: routed to the receiver, shown to amtool with Prometheus-safe labels', async () => {
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:
  - name: vigil-test
    interval: 1s
    rules:
      - alert: DiskAlmostFull
        expr: vector(1)
        labels: { severity: critical, team: storage }
        annotations: { summary: "disk almost full on db-1" }
`,
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { evaluation_interval: 1s, scrape_interval: 15s }
rule_files: [${join(dir, 'rules.yml')}]
alerting:
  alertmanagers:
    - api_version: v2
      authorization: { credentials: am-secret }
      static_configs: [{ targets: ["${url.slice('http://'.length)}"] }]
`,
    );
    let out = '';
    // Prometheus drops what it fires before its Alertmanagers are discovered and resends only after
    // the resend delay (1m by default): 1s here.
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (out += d.toString()));

    const hook = await eventually('the webhook of the Prometheus alert', () => webhook.hooks.find((h) => h.alerts.some((a) => a.labels.alertname === 'DiskAlmostFull')), (h) => h !== undefined, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nprometheus said:\n${out.slice(-3000)}`);
    });
    expect(hook!.receiver).toBe('oncall');
    expect(hook!.status).toBe('firing');
    expect(hook!.alerts[0]!.labels).toMatchObject({ alertname: 'DiskAlmostFull', severity: 'critical', team: 'storage' });
    // The link back to Prometheus's expression, as Alertmanager passes it on.
    expect(hook!.alerts[0]!.generatorURL).toMatch(new RegExp(`^http://[^/]+:${promPort}/graph\\?g0\\.expr=vector`));

    const shown = JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=DiskAlmostFull')) as { labels: Record<string, string>; receivers: { name: string }[]; status: { state: string } }[];
    expect(shown).toHaveLength(1);
    expect(shown[0]!.labels).toMatchObject({ alertname: 'DiskAlmostFull', severity: 'critical', team: 'storage' });
    expect(shown[0]!.receivers).toEqual([{ name: 'oncall' }]);
    expect(shown[0]!.status.state).toBe('active');
    // A filter that matches nothing shows nothing.
    expect(JSON.parse(await amtool('alert', 'query', '-o', 'json', 'team=web'))).toEqual([]);
    prometheus.kill('SIGTERM');
  }, 120_000);

  it('labels of Vigil alerts read with Prometheus-safe names; a resolved post removes the alert', async () => {
    const post = (alerts: unknown) => fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer am-secret' }, body: JSON.stringify(alerts) });
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const res = await post([{ labels: { alertname: 'PosOffline', 'host.name': 'pos-17', severity: 'warning' }, annotations: { summary: 'pos-17 silent' }, startsAt }]);
    expect(res.status).toBe(200);
    const shown = await eventually('the posted alert', async () => JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=PosOffline')) as { labels: Record<string, string> }[], (a) => a.length === 1);
    expect(shown[0]!.labels).toEqual({ alertname: 'PosOffline', host_name: 'pos-17', severity: 'warning' });
    // Matchers on the safe name work.
    expect(JSON.parse(await amtool('alert', 'query', '-o', 'json', 'host_name=pos-17'))).toHaveLength(1);

    expect((await post([{ labels: { alertname: 'PosOffline', 'host.name': 'pos-17', severity: 'warning' }, startsAt, endsAt: new Date().toISOString() }])).status).toBe(200);
    await eventually('the alert gone', async () => JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=PosOffline')) as unknown[], (a) => a.length === 0);
    await eventually('the resolve at the receiver', () => webhook.hooks.some((h) => h.status === 'resolved' && h.alerts.some((a) => a.labels.alertname === 'PosOffline')), (ok) => ok);
  }, 60_000);

  it('a message of the notify API names the receiver of its channel and has a rule alert\'s group key', async () => {
    const res = await fetch(`${url}/api/v1/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer am-secret' },
      body: JSON.stringify({ title: 'Backup finished late', level: 'warning', channels: ['webhook'] }),
    });
    expect(res.status).toBe(200);
    const hook = webhook.hooks.find((h) => h.alerts.some((a) => a.labels.alertname === 'Backup finished late'))!;
    expect(hook.receiver).toBe('oncall');
    expect(hook.groupKey).toBe('{}:{alertname="Backup finished late"}');
    const ruleHook = webhook.hooks.find((h) => h.alerts.some((a) => a.labels.alertname === 'PosOffline'))!;
    expect(ruleHook.groupKey).toMatch(/^\{\}:\{alertname="PosOffline"\}$/);
  });

  it('refuses a posted alert it cannot use with a 400 naming the field', async () => {
    const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer am-secret' }, body: JSON.stringify([{ labels: { alertname: 'ok' } }, { labels: {} }]) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^\[1\]\.labels/);
    const bad = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer am-secret' }, body: JSON.stringify([{ labels: { a: 'b' }, startsAt: 'yesterday' }]) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/\[0\]\.startsAt/);
  });

  it('amtool adds, lists and expires a silence; a silenced alert shows as suppressed', async () => {
    const post = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer am-secret' },
      body: JSON.stringify([{ labels: { alertname: 'QueueBacklog', queue: 'orders', severity: 'warning' } }]),
    });
    expect(post.status).toBe(200);
    await eventually('the alert', async () => JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=QueueBacklog')) as unknown[], (a) => a.length === 1);

    // Without a token amtool is refused (Vigil's tokens, as amtool's --http.config.file sends them).
    await expect(amtool('anonymous', 'silence', 'add', 'alertname=QueueBacklog', '--comment=maintenance', '--author=ops', '--duration=1h')).rejects.toThrow();
    await expect(amtool('anonymous', 'alert', 'query')).rejects.toThrow();
    const id = (await amtool('silence', 'add', 'alertname=QueueBacklog', 'queue=~"ord.*"', '--comment=maintenance', '--author=ops', '--duration=1h')).trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const silences = JSON.parse(await amtool('silence', 'query', '-o', 'json', 'alertname=QueueBacklog')) as { id: string; matchers: { name: string; value: string; isRegex: boolean }[]; status: { state: string } }[];
    expect(silences.map((s) => s.id)).toContain(id);
    const mine = silences.find((s) => s.id === id)!;
    expect(mine.status.state).toBe('active');
    expect(mine.matchers).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'queue', value: 'ord.*', isRegex: true })]));

    const suppressed = JSON.parse(await amtool('alert', 'query', '-o', 'json', '--silenced', 'alertname=QueueBacklog')) as { status: { state: string; silencedBy: string[] } }[];
    expect(suppressed[0]!.status).toMatchObject({ state: 'suppressed', silencedBy: [id] });
    // silenced=false leaves it out, as Alertmanager's API does.
    const activeOnly = await (await get(`/api/v2/alerts?silenced=false&filter=alertname%3D%22QueueBacklog%22`)).json();
    expect(activeOnly).toEqual([]);

    await amtool('silence', 'expire', id);
    const after = (await (await get(`/api/v2/silence/${id}`)).json()) as { status: { state: string } };
    expect(after.status.state).toBe('expired');
    const status = (await (await get('/api/v2/status')).json()) as { versionInfo: { version: string }; cluster: { status: string } };
    expect(status.cluster.status).toBe('disabled');
    expect((await (await get('/api/v2/receivers')).json())).toEqual(expect.arrayContaining([{ name: 'oncall' }]));
  }, 60_000);
});
