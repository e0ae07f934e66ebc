import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStorage, parseYamlDocument, type Storage } from '@vigil/platform';

const parse = (text: string): unknown => parseYamlDocument(text).toJS();

/**
 * What deploy/ ships for Grafana and Prometheus, checked: promtool accepts the scrape config and
 * the alerting rules (Debian's prometheus package); every dashboard panel uses a provisioned
 * data source; every ClickHouse panel's SQL runs on Vigil's schema (the embedded engine, Grafana's
 * macros expanded); every Vigil metric a Prometheus panel or rule names is one Vigil exports.
 */

const DEPLOY = join(process.cwd(), 'deploy');
const DASHBOARDS = join(DEPLOY, 'grafana', 'dashboards');

interface Target {
  datasource: { uid: string; type: string };
  rawSql?: string;
  expr?: string;
}
interface Panel {
  title: string;
  datasource: { uid: string };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query?: string; datasource?: { uid: string } }[] };
}

const dashboards: [string, Dashboard][] = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard]);

/** Grafana's ClickHouse macros and the dashboards' variables, as Grafana would expand them for the last 6 hours. */
function expandMacros(sql: string): string {
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, '$1 >= now() - INTERVAL 6 HOUR AND $1 <= now()')
    .replace(/\$__timeInterval\(([^)]+)\)/g, 'toStartOfInterval($1, INTERVAL 60 second)')
    .replace(/\$\{host\}/g, '');
}

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: DEPLOY, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool did not run (${r.error.message}): install Debian's prometheus package (scripts/test-peers.sh does)`);
  return r;
}

let dir: string;
let storage: Storage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-grafana-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
});

afterAll(async () => {
  await storage?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('deploy/prometheus', () => {
  it('promtool accepts the scrape config (with its rule file) and the alerting rules', () => {
    const config = promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(config.status, config.stdout + config.stderr).toBe(0);
    const rules = promtool('check', 'rules', 'prometheus/vigil-rules.yml');
    expect(rules.status, rules.stdout + rules.stderr).toBe(0);
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});

describe('deploy/grafana', () => {
  const provisioned = parse(readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'vigil.yaml'), 'utf8')) as {
    datasources: { uid: string; type: string; jsonData: Record<string, unknown> }[];
  };
  const uids = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));

  it('provisions ClickHouse in OpenTelemetry mode over Vigil tables, and Prometheus', () => {
    expect([...uids.entries()]).toEqual([
      ['vigil-clickhouse', 'grafana-clickhouse-datasource'],
      ['vigil-prometheus', 'prometheus'],
    ]);
    expect(provisioned.datasources[0]!.jsonData.logs).toMatchObject({ defaultTable: 'otel_logs', otelEnabled: true });
    const provider = parse(readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'vigil.yaml'), 'utf8')) as { providers: { type: string }[] };
    expect(provider.providers[0]!.type).toBe('file');
  });

  it('ships the hosts, logs and errors, alerts and deliveries, and pipeline dashboards, each uid unique', () => {
    expect(dashboards.map(([f]) => f).sort()).toEqual(['alerts-deliveries.json', 'hosts.json', 'logs-errors.json', 'pipeline.json']);
    expect(new Set(dashboards.map(([, d]) => d.uid)).size).toBe(dashboards.length);
  });

  it('every panel and variable uses a provisioned data source of the right type', () => {
    for (const [file, d] of dashboards) {
      for (const p of d.panels) {
        expect(uids.has(p.datasource.uid), `${file}: ${p.title}`).toBe(true);
        for (const t of p.targets) expect(uids.get(t.datasource.uid), `${file}: ${p.title}`).toBe(t.datasource.type);
      }
      for (const v of d.templating.list) if (v.datasource) expect(uids.has(v.datasource.uid), `${file}: $${v.name}`).toBe(true);
    }
  });

  it("every ClickHouse query runs on Vigil's schema", async () => {
    const queries = dashboards.flatMap(([file, d]) => [
      ...d.panels.flatMap((p) => p.targets.filter((t) => t.rawSql).map((t) => [`${file}: ${p.title}`, t.rawSql!] as const)),
      ...d.templating.list.filter((v) => v.query && v.datasource?.uid === 'vigil-clickhouse').map((v) => [`${file}: $${v.name}`, v.query!] as const),
    ]);
    expect(queries.length).toBeGreaterThanOrEqual(12);
    for (const [where, sql] of queries) {
      const expanded = expandMacros(sql);
      expect(expanded, where).not.toMatch(/\$__|\$\{/);
      await expect(storage.client.query({ query: expanded, format: 'JSONEachRow' }).then((r) => r.json()), where).resolves.toBeInstanceOf(Array);
    }
  });

  it('every Vigil metric named by a Prometheus panel or rule is one Vigil exports', () => {
    const source = ['platform', 'collector', 'ingest', 'rules', 'notifier', 'query-api']
      .flatMap((p) => spawnSync('grep', ['-rhoE', "['\"`]vigil[._][a-z_.]+['\"`]", join('packages', p, 'src')], { encoding: 'utf8' }).stdout.split('\n'))
      .map((s) => s.replace(/['"`]/g, '').replace(/\./g, '_'));
    const known = new Set(source);
    const exprs = [
      ...dashboards.flatMap(([, d]) => d.panels.flatMap((p) => p.targets.map((t) => t.expr ?? ''))),
      ...(parse(readFileSync(join(DEPLOY, 'prometheus', 'vigil-rules.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ];
    const named = [...new Set(exprs.flatMap((e) => e.match(/\bvigil_[a-z_]+/g) ?? []))];
    expect(named.length).toBeGreaterThanOrEqual(8);
    for (const n of named) {
      const base = n.replace(/_(total|bucket|count|sum)$/, '');
      expect(known.has(base) || known.has(n), `${n} is not a metric any package declares`).toBe(true);
    }
  });
});
